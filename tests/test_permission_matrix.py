"""Who may call what: one table for every endpoint under /api/v1/, checked for every persona.

DESIGN.md gives every endpoint exactly one audience. Participants (amira, bashir) reach only /me/* and the
public access/* exchanges; field staff (fatima at site A, gustav at site B) reach the sites and participants
endpoints of their own site only; the researcher (rita) reaches authoring and the pseudonymous panel, never
contact details, access codes or staff endpoints; the study admin (sara) reaches authoring and the audit
log, not contact details. Every row targets amira (site A) unless its name says site B.

Outcomes:
  A  allowed: a 2xx answer (every payload below is valid, so an allowed call succeeds).
  D  denied: 401, 403 or 404 (404 where existence is not disclosed); anonymous callers get 401, asked
     to authenticate (webhooks excepted, see below).
  E  the endpoint answers 200, but with nothing in it: a list scoped to the caller's sites or studies,
     empty for this persona (no content is disclosed).
  P  public, called with wrong credentials: 400 or 401, never 403 or 404. These endpoints (staff login,
     code and link exchange) exist for people who are not signed in, so no role may be refused; the 401
     says "these credentials are wrong", not "you may not call this". The rows with good credentials
     show every persona gets a token.

Provider webhooks (delivery reports) belong to no persona: they authenticate the SMS provider by a secret
in the URL (46elks) or a signature (Twilio). Called without it they answer 403 to everybody, anonymous
callers included; with the 46elks secret every caller is accepted, whoever they are signed in as.

test_every_api_route_has_a_row walks the URL resolver: a new endpoint (or a new method on one) without a
row here fails that test, by name.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from participants.crypto import sealing
from participants.models import ConsentText, Participant, Site, StudyKey
from participants.reminders.providers.elks46.webhook import callback_token
from participants.reminders.schedules import schedules_sync
from participants.responses import services as response_services
from participants.services import access
from surveys import services
from surveys.models import Choice, Question, Questionnaire, QuestionnaireVersion, Section, Study, Wave

API = "/api/v1/"
PERSONAS = ("anon", "amira", "bashir", "fatima", "gustav", "rita", "sara")
A, D, E, P = "allow", "deny", "empty", "public"


@dataclass
class World:
    """Everything a row's URL or payload may point at; drafts are made only when a row asks for one."""

    study: Study
    questionnaire: Questionnaire
    published: QuestionnaireVersion
    wave: Wave
    site_a: Site
    site_b: Site
    consent_text: ConsentText
    amira: Participant
    bashir: Participant
    study_key: StudyKey
    today: str
    _draft: QuestionnaireVersion | None = field(default=None, repr=False)

    def draft(self) -> QuestionnaireVersion:
        """Version 2, copied from the published version 1: editable, complete, publishable."""
        if self._draft is None:
            self._draft = services.version_new_draft(questionnaire=self.questionnaire)
        return self._draft

    def draft_section(self, key: str = "family") -> Section:
        return self.draft().sections.get(key=key)

    def draft_question(self, variable: str) -> Question:
        return self.draft().questions.get(variable=variable)

    def draft_choice(self) -> Choice:
        return self.draft_question("Q1").choices.get(code="2")

    def fresh_access_code(self) -> str:
        return access.credentials_issue(participant=self.amira).access_code

    def fresh_link_token(self) -> str:
        return urlsplit(access.link_issue(participant=self.amira)).fragment.removeprefix("token=")

    def new_public_key(self) -> dict[str, str]:
        public_key = sealing.generate_keypair()[1]
        return {"public_key_pem": sealing.public_key_to_pem(public_key), "label": "2027 key"}

    def completable(self) -> dict[str, str]:
        """Both pages answered by amira and bashir, so whichever participant calls may complete the wave."""
        for participant in (self.amira, self.bashir):
            for section, answers in (("family", {"Q1": "1", "Q49": 7}), ("work", {"EMPLOYED": "no"})):
                response_services.page_submit(
                    participant=participant, wave_key=self.wave.key, submission_id=uuid.uuid4(),
                    section=section, answers=answers,
                )  # fmt: skip
        return {"submission_id": str(uuid.uuid4())}


ELKS46_SECRET = "matrix-elks46-secret"


def _elks46_signed(world: World) -> str:
    attempt = "reminder-999"
    token = callback_token(attempt=attempt, secret=ELKS46_SECRET)
    return "webhooks/elks46/999/?" + urlencode({"attempt": attempt, "token": token})


def _page(world: World) -> dict[str, Any]:
    return {"submission_id": str(uuid.uuid4()), "section": "family", "answers": {"Q1": "1", "Q49": 7}}


def _cohort_csv(world: World) -> dict[str, Any]:
    header = "preferred_language,country_of_origin,country_of_departure,birth_year,enrolled_on,phone,"
    header += "consent_version,consent_language,consent_method\n"
    upload = io.BytesIO((header + f"ar,SY,KE,1991,{world.today},+46703333334,1,ar,on_screen\n").encode())
    upload.name = "cohort.csv"
    return {"file": upload}


def _enrollment(world: World) -> dict[str, Any]:
    return {
        "preferred_language": "ar", "country_of_origin": "SY", "country_of_departure": "KE", "birth_year": 1988,
        "enrolled_on": world.today, "phone": "+46703333333",
        "consent": {"consent_text": world.consent_text.pk, "language": "ar", "method": "on_screen"},
    }  # fmt: skip


TITLE = {"en": "Health", "sv": "Hälsa", "ar": "الصحة"}


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: Callable[[World], str]  # under /api/v1/
    payload: Callable[[World], Any] | None
    outcomes: tuple[str, ...]  # in the order of PERSONAS
    format: str = "json"  # or "multipart", or "form" (application/x-www-form-urlencoded)
    anon_status: int = 401  # what "deny" means for anon: 401 asks to authenticate; webhooks say 403
    settings: dict[str, Any] = field(default_factory=dict)

    def expected(self, persona: str) -> str:
        return self.outcomes[PERSONAS.index(persona)]


def row(name: str, method: str, path: Callable[[World], str], payload: Callable[[World], Any] | None,
        *outcomes: str, **options: Any) -> Row:  # fmt: skip
    assert len(outcomes) == len(PERSONAS), name
    return Row(name, method, path, payload, outcomes, **options)


# fmt: off
TABLE = [
    #   name                            method    path                                                         payload                                                             anon amira bashir fatima gustav rita sara
    # --- translations ------------------------------------------------------------------------------------------------------------
    row("languages",                     "GET",    lambda w: "languages/",                                      None,                                                               A,   A,    A,     A,     A,     A,   A),
    # --- authoring (surveys) -----------------------------------------------------------------------------------------------------
    row("study_list",                    "GET",    lambda w: "studies/",                                        None,                                                               D,   E,    E,     E,     E,     A,   A),
    row("study_create",                  "POST",   lambda w: "studies/",                                        lambda w: {"slug": "return", "source_language": "en",
                                                                                                                           "languages": ["en"], "title": {"en": "Return"}},    D,   D,    D,     D,     D,     D,   A),
    row("study_detail",                  "GET",    lambda w: f"studies/{w.study.pk}/",                          None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("study_update",                  "PATCH",  lambda w: f"studies/{w.study.pk}/",                          lambda w: {"title": {"en": "Life in Sweden, 2026"}},                D,   D,    D,     D,     D,     D,   A),
    row("questionnaire_list",            "GET",    lambda w: f"studies/{w.study.pk}/questionnaires/",           None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("questionnaire_create",          "POST",   lambda w: f"studies/{w.study.pk}/questionnaires/",           lambda w: {"slug": "health", "title": TITLE},                       D,   D,    D,     D,     D,     A,   A),
    row("wave_list",                     "GET",    lambda w: f"studies/{w.study.pk}/waves/",                    None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("wave_create",                   "POST",   lambda w: f"studies/{w.study.pk}/waves/",                    lambda w: {"key": "arrival", "name": TITLE, "anchor": "arrival"},   D,   D,    D,     D,     D,     A,   A),
    row("questionnaire_detail",          "GET",    lambda w: f"questionnaires/{w.questionnaire.pk}/",           None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("questionnaire_new_draft",       "POST",   lambda w: f"questionnaires/{w.questionnaire.pk}/drafts/",    None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("version_detail",                "GET",    lambda w: f"versions/{w.published.pk}/",                     None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("version_publish",               "POST",   lambda w: f"versions/{w.draft().pk}/publish/",               None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("version_coverage",              "GET",    lambda w: f"versions/{w.published.pk}/coverage/",            None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("version_preview",               "GET",    lambda w: f"versions/{w.published.pk}/questionnaire/",       None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("section_create",                "POST",   lambda w: f"versions/{w.draft().pk}/sections/",              lambda w: {"key": "health", "title": TITLE},                        D,   D,    D,     D,     D,     A,   A),
    row("section_update",                "PATCH",  lambda w: f"sections/{w.draft_section().pk}/",               lambda w: {"title": {"en": "Family life"}},                         D,   D,    D,     D,     D,     A,   A),
    row("section_delete",                "DELETE", lambda w: f"sections/{w.draft_section('work').pk}/",         None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("question_create",               "POST",   lambda w: f"sections/{w.draft_section().pk}/questions/",     lambda w: {"variable": "CITY", "type": "text", "text": TITLE},      D,   D,    D,     D,     D,     A,   A),
    row("question_detail",               "GET",    lambda w: f"questions/{w.draft_question('Q1').pk}/",         None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("question_update",               "PATCH",  lambda w: f"questions/{w.draft_question('Q49').pk}/",        lambda w: {"required": False},                                      D,   D,    D,     D,     D,     A,   A),
    row("question_delete",               "DELETE", lambda w: f"questions/{w.draft_question('HOURS').pk}/",      None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("choice_create",                 "POST",   lambda w: f"questions/{w.draft_question('Q1').pk}/choices/", lambda w: {"code": "3", "label": TITLE},                            D,   D,    D,     D,     D,     A,   A),
    row("choice_update",                 "PATCH",  lambda w: f"choices/{w.draft_choice().pk}/",                 lambda w: {"label": {"en": "Not important at all"}},                D,   D,    D,     D,     D,     A,   A),
    row("choice_delete",                 "DELETE", lambda w: f"choices/{w.draft_choice().pk}/",                 None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("translation_review",            "POST",   lambda w: "translations/review/",                            lambda w: {"kind": "study", "id": w.study.pk, "field": "title",
                                                                                                                           "languages": ["sv"]},                               D,   D,    D,     D,     D,     A,   A),
    row("wave_detail",                   "GET",    lambda w: f"waves/{w.wave.pk}/",                             None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("wave_update",                   "PATCH",  lambda w: f"waves/{w.wave.pk}/",                             lambda w: {"window_days": 21},                                      D,   D,    D,     D,     D,     A,   A),
    row("wave_preview",                  "GET",    lambda w: f"waves/{w.wave.pk}/questionnaire/",               None,                                                               D,   D,    D,     D,     D,     A,   A),
    # --- staff sign-in -----------------------------------------------------------------------------------------------------------
    row("staff_login",                   "POST",   lambda w: "auth/token/",                                     lambda w: {"username": "sara", "password": "sara-Passw0rd!-long"},  A,   A,    A,     A,     A,     A,   A),
    row("staff_login_wrong_password",    "POST",   lambda w: "auth/token/",                                     lambda w: {"username": "sara", "password": "not-her-password"},     P,   P,    P,     P,     P,     P,   P),
    row("staff_logout",                  "POST",   lambda w: "auth/logout/",                                    None,                                                               D,   D,    D,     A,     A,     A,   A),
    # --- field staff: sites and participants -------------------------------------------------------------------------------------
    row("site_list",                     "GET",    lambda w: "sites/",                                          None,                                                               D,   D,    D,     A,     A,     E,   E),
    row("site_participants",             "GET",    lambda w: f"sites/{w.site_a.pk}/participants/",              None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("site_participants_site_b",      "GET",    lambda w: f"sites/{w.site_b.pk}/participants/",              None,                                                               D,   D,    D,     D,     A,     D,   D),
    row("site_enroll",                   "POST",   lambda w: f"sites/{w.site_a.pk}/participants/",              _enrollment,                                                        D,   D,    D,     A,     D,     D,   D),
    row("site_bulk_enroll",              "POST",   lambda w: f"sites/{w.site_a.pk}/participants/import/",       _cohort_csv,                                                        D,   D,    D,     A,     D,     D,   D, format="multipart"),
    row("participant_detail",            "GET",    lambda w: f"participants/{w.amira.pseudonym}/",              None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("participant_detail_site_b",     "GET",    lambda w: f"participants/{w.bashir.pseudonym}/",             None,                                                               D,   D,    D,     D,     A,     D,   D),
    row("participant_update",            "PATCH",  lambda w: f"participants/{w.amira.pseudonym}/",              lambda w: {"arrived_on": w.today},                                  D,   D,    D,     A,     D,     D,   D),
    row("participant_contact",           "GET",    lambda w: f"participants/{w.amira.pseudonym}/contact/",      None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("participant_contact_site_b",    "GET",    lambda w: f"participants/{w.bashir.pseudonym}/contact/",     None,                                                               D,   D,    D,     D,     A,     D,   D),
    row("participant_contact_update",    "PATCH",  lambda w: f"participants/{w.amira.pseudonym}/contact/",      lambda w: {"preferred_channel": "whatsapp"},                        D,   D,    D,     A,     D,     D,   D),
    row("participant_residence",         "POST",   lambda w: f"participants/{w.amira.pseudonym}/residences/",   lambda w: {"municipality": "0180", "moved_in_on": w.today},         D,   D,    D,     A,     D,     D,   D),
    row("participant_intervention",      "POST",   lambda w: f"participants/{w.amira.pseudonym}/interventions/", lambda w: {"type": "sfi", "started_on": w.today},                  D,   D,    D,     A,     D,     D,   D),
    row("participant_consent",           "POST",   lambda w: f"participants/{w.amira.pseudonym}/consents/",     lambda w: {"consent_text": w.consent_text.pk, "language": "sv",
                                                                                                                           "method": "on_screen"},                             D,   D,    D,     A,     D,     D,   D),
    row("participant_withdraw",          "POST",   lambda w: f"participants/{w.amira.pseudonym}/withdraw/",     lambda w: {"scope": "stop_contact"},                                D,   D,    D,     A,     D,     D,   D),
    row("participant_reissue",           "POST",   lambda w: f"participants/{w.amira.pseudonym}/access-code/",  None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("site_follow_up",                "GET",    lambda w: f"sites/{w.site_a.pk}/follow-up/",                 None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("site_retention",                "GET",    lambda w: f"sites/{w.site_a.pk}/retention/",                 None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("site_retention_site_b",         "GET",    lambda w: f"sites/{w.site_b.pk}/retention/",                 None,                                                               D,   D,    D,     D,     A,     D,   D),
    # --- study admin and research ------------------------------------------------------------------------------------------------
    row("study_audit_log",               "GET",    lambda w: f"studies/{w.study.pk}/audit/",                    None,                                                               D,   D,    D,     D,     D,     D,   A),
    row("study_panel",                   "GET",    lambda w: f"studies/{w.study.pk}/panel/",                    None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("study_retention",               "GET",    lambda w: f"studies/{w.study.pk}/retention/",                None,                                                               D,   D,    D,     D,     D,     A,   A),
    row("study_key_list",                "GET",    lambda w: f"studies/{w.study.pk}/keys/",                     None,                                                               D,   D,    D,     D,     D,     D,   A),
    row("study_key_register",            "POST",   lambda w: f"studies/{w.study.pk}/keys/",                     lambda w: w.new_public_key(),                                       D,   D,    D,     D,     D,     D,   A),
    row("study_key_retire",              "POST",   lambda w: f"keys/{w.study_key.pk}/retire/",                  None,                                                               D,   D,    D,     D,     D,     D,   A),
    # --- participants: getting in (public) ---------------------------------------------------------------------------------------
    row("access_code",                   "POST",   lambda w: "access/code/",                                    lambda w: {"code": w.fresh_access_code()},                          A,   A,    A,     A,     A,     A,   A),
    row("access_code_wrong",             "POST",   lambda w: "access/code/",                                    lambda w: {"code": "AAAA-BBBB-CCCC"},                               P,   P,    P,     P,     P,     P,   P),
    row("access_link",                   "POST",   lambda w: "access/link/",                                    lambda w: {"token": w.fresh_link_token()},                          A,   A,    A,     A,     A,     A,   A),
    row("access_link_wrong",             "POST",   lambda w: "access/link/",                                    lambda w: {"token": "not-a-link-token"},                            P,   P,    P,     P,     P,     P,   P),
    # --- participants: their own data ------------------------------------------------------------------------------------------------
    row("me",                            "GET",    lambda w: "me/",                                             None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_update",                     "PATCH",  lambda w: "me/",                                             lambda w: {"preferred_language": "sv"},                             D,   A,    A,     D,     D,     D,   D),
    row("me_contact",                    "GET",    lambda w: "me/contact/",                                     None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_consent",                    "GET",    lambda w: "me/consent/",                                     None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_waves",                      "GET",    lambda w: "me/waves/",                                       None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_questionnaire",              "GET",    lambda w: f"me/waves/{w.wave.key}/questionnaire/",           None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_answers",                    "GET",    lambda w: f"me/waves/{w.wave.key}/answers/",                 None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_answer_page",                "POST",   lambda w: f"me/waves/{w.wave.key}/answers/",                 _page,                                                              D,   A,    A,     D,     D,     D,   D),
    row("me_complete",                   "POST",   lambda w: f"me/waves/{w.wave.key}/complete/",                lambda w: w.completable(),                                          D,   A,    A,     D,     D,     D,   D),
    row("me_withdraw",                   "POST",   lambda w: "me/withdraw/",                                    lambda w: {"scope": "stop_contact"},                                D,   A,    A,     D,     D,     D,   D),
    row("me_token_refresh",              "POST",   lambda w: "me/token/refresh/",                               None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_logout",                     "POST",   lambda w: "me/logout/",                                      None,                                                               D,   A,    A,     D,     D,     D,   D),
    # --- SMS providers' delivery reports (no persona: the provider proves itself) ----------------------------------------------
    row("webhook_elks46_unsigned",       "POST",   lambda w: "webhooks/elks46/999/",                            lambda w: {"id": "sms-1", "status": "delivered"},                   D,   D,    D,     D,     D,     D,   D,
        format="form", anon_status=403),
    row("webhook_elks46_signed",         "POST",   _elks46_signed,                                              lambda w: {"id": "sms-1", "status": "delivered"},                   A,   A,    A,     A,     A,     A,   A,
        format="form", settings={"ELKS46_WEBHOOK_SECRET": ELKS46_SECRET}),
    row("webhook_twilio_unsigned",       "POST",   lambda w: "webhooks/twilio/999/",                            lambda w: {"MessageSid": "SM1", "MessageStatus": "delivered"},      D,   D,    D,     D,     D,     D,   D,
        format="form", anon_status=403, settings={"TWILIO_AUTH_TOKEN": "matrix-twilio-token"}),
]
# fmt: on

_NAMES = [item.name for item in TABLE]
KNOWN_BUGS: dict[tuple[str, str], str] = {}  # (row, persona) -> "BUG: file:line ..." while a bug stands


def _cases() -> Iterator[Any]:
    for item in TABLE:
        for persona in PERSONAS:
            reason = KNOWN_BUGS.get((item.name, persona))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(item, persona, id=f"{item.name}-{persona}", marks=marks)


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    cache.clear()  # throttle counters live in the cache, which outlives each test's transaction
    yield
    cache.clear()


@pytest.fixture
def world(
    study: Study,
    published: QuestionnaireVersion,
    wave: Wave,
    study_key: StudyKey,
    site_a: Site,
    site_b: Site,
    consent_text: ConsentText,
    amira_participant: Participant,
    bashir_participant: Participant,
    sara_user: User,
) -> World:
    for participant in (amira_participant, bashir_participant):
        schedules_sync(participant=participant)  # whichever fixture came first, the wave is open for both
    return World(
        study=study, questionnaire=published.questionnaire, published=published, wave=wave, site_a=site_a,
        site_b=site_b, consent_text=consent_text, amira=amira_participant, bashir=bashir_participant,
        study_key=study_key, today=timezone.localdate().isoformat(),
    )  # fmt: skip


def _call(client: APIClient, item: Row, url: str, world: World) -> Any:
    if item.method == "GET":
        return client.get(url)
    payload = item.payload(world) if item.payload else None
    send = getattr(client, item.method.lower())
    if item.format == "form":
        return send(url, urlencode(payload or {}), content_type="application/x-www-form-urlencoded")
    return send(url, payload, format=item.format)


def _is_empty(body: Any) -> bool:
    return body == [] or (isinstance(body, dict) and body.get("results") == [])


@pytest.mark.parametrize(("item", "persona"), list(_cases()))
def test_permission_matrix(item: Row, persona: str, world: World, request: pytest.FixtureRequest) -> None:
    # given
    client: APIClient = request.getfixturevalue(persona)
    client.raise_request_exception = False  # a crash must show up as the 500 it would be, not as a traceback
    url = API + item.path(world)

    # when
    with override_settings(**item.settings):
        response = _call(client, item, url, world)

    # then
    expected = item.expected(persona)
    described = f"{item.method} {url} as {persona}: {response.status_code}"
    if expected == A:
        assert 200 <= response.status_code < 300, described
    elif expected == E:
        assert response.status_code == 200, described
        assert _is_empty(response.json()), described
    elif expected == P:
        assert response.status_code in {400, 401}, described
    elif persona == "anon":
        assert response.status_code == item.anon_status, described
    else:
        assert response.status_code in {401, 403, 404}, described


# --- the table covers the API ------------------------------------------------------------------------------


def _api_routes() -> dict[str, URLPattern]:
    """Every route under api/v1/, found by walking the URL resolver (nested includes too)."""
    found: dict[str, URLPattern] = {}

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                found[route] = pattern

    walk(get_resolver().url_patterns, "")
    return found


def _route_of(item: Row, world: World) -> str:
    return resolve(urlsplit(API + item.path(world)).path).route


def _methods(pattern: URLPattern) -> set[str]:
    view_class = pattern.callback.view_class  # type: ignore[attr-defined]
    return {
        method.upper() for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)
    }


def test_every_api_route_has_a_row(world: World) -> None:
    # given
    routes = _api_routes()
    covered = {(_route_of(item, world), item.method) for item in TABLE}

    # when
    missing = sorted(
        f"{method} /{route}" for route, pattern in routes.items() for method in _methods(pattern)
        if (route, method) not in covered
    )  # fmt: skip

    # then
    assert missing == []
    assert {"api/v1/languages/", "api/v1/studies/", "api/v1/me/"} <= set(routes)


def test_every_row_names_a_method_its_route_implements(world: World) -> None:
    routes = _api_routes()

    unknown = [item.name for item in TABLE if item.method not in _methods(routes[_route_of(item, world)])]

    assert unknown == []


def test_the_table_names_each_row_once() -> None:
    duplicates = sorted({name for name in _NAMES if _NAMES.count(name) > 1})

    assert duplicates == []


# --- what the allowed answers hold -------------------------------------------------------------------------


def test_fatima_lists_only_the_site_she_works_at(fatima: APIClient, site_a: Site, site_b: Site) -> None:
    response = fatima.get(f"{API}sites/")

    assert response.status_code == 200
    assert [site["code"] for site in response.json()] == ["site-a"]


def test_staff_taken_off_a_site_lose_its_participants_at_once(
    fatima: APIClient, fatima_user: User, world: World
) -> None:
    # given
    assert fatima.get(f"{API}participants/{world.amira.pseudonym}/contact/").status_code == 200

    # when
    world.site_a.assignments.filter(user=fatima_user).delete()

    # then
    assert fatima.get(f"{API}participants/{world.amira.pseudonym}/contact/").status_code == 404
    assert fatima.get(f"{API}sites/").json() == []


def test_a_superuser_does_not_see_contact_details_either(world: World) -> None:
    # given
    admin = APIClient()
    admin.force_authenticate(User.objects.create_superuser("root", password="root-Passw0rd!-long"))

    # when
    contact = admin.get(f"{API}participants/{world.amira.pseudonym}/contact/")
    panel = admin.get(f"{API}studies/{world.study.pk}/panel/")

    # then
    assert contact.status_code == 404
    assert panel.status_code == 200


def test_an_assignment_to_a_site_gives_a_researcher_of_its_study_no_contact_details(
    rita: APIClient, rita_user: User, world: World
) -> None:
    # given a study admin assigned the study's researcher to a site (the database allows it)
    world.site_a.assignments.create(user=rita_user)

    # when
    contact = rita.get(f"{API}participants/{world.amira.pseudonym}/contact/")
    sites = rita.get(f"{API}sites/")

    # then
    assert contact.status_code == 404
    assert sites.json() == []


def test_the_admin_refuses_to_make_a_researcher_of_the_study_field_staff(
    rita_user: User, world: World
) -> None:
    from django.core.exceptions import ValidationError

    from participants.models import StaffAssignment

    with pytest.raises(ValidationError) as refused:
        StaffAssignment(site=world.site_a, user=rita_user).full_clean()
    assert list(refused.value.message_dict) == ["user"]
    StaffAssignment(site=world.site_a, user=User.objects.create_user("yusuf")).full_clean()


def test_the_researchers_panel_holds_no_contact_details_or_codes(
    rita: APIClient, world: World, amira_participant: Participant, bashir_participant: Participant
) -> None:
    # when
    response = rita.get(f"{API}studies/{world.study.pk}/panel/")

    # then
    assert response.status_code == 200
    rows = response.json()["results"]
    assert sorted(entry["pseudonym"] for entry in rows) == sorted(
        [amira_participant.pseudonym, bashir_participant.pseudonym]
    )
    assert set(rows[0]) == {
        "pseudonym", "site", "cohort", "preferred_language", "country_of_origin", "country_of_departure",
        "birth_year", "gender", "enrolled_on", "planned_departure_on", "arrived_on", "status", "residences",
        "interventions",
    }  # fmt: skip
    assert "Amira" not in response.content.decode()
    assert "+4670" not in response.content.decode()
