"""Who may call what: one table for every endpoint under /api/v1/, checked for every persona.

DESIGN.md gives every endpoint exactly one audience. Participants (amira, bashir) reach only /me/* and the
public access/* exchanges; field staff (fatima at site A, gustav at site B) reach the sites and participants
endpoints of their own site only; the researcher (rita) reaches authoring and the pseudonymous panel, never
contact details, access codes or staff endpoints; the study admin (sara) reaches authoring and the audit
log, not contact details. Every row targets amira (site A) unless its name says site B.

Outcomes:
  A  allowed: a 2xx answer (every payload below is valid, so an allowed call succeeds).
  D  denied: 401, 403 or 404 (404 where existence is not disclosed); anonymous callers always get 401.
  E  the endpoint answers 200 for every staff account, but with nothing in it: a list scoped to the
     caller's sites or studies that is empty for this persona.
  P  public, called with wrong credentials: 400 or 401, never 403 or 404. These endpoints (staff login,
     code and link exchange) exist for people who are not signed in, so no role may be refused; the 401
     says "these credentials are wrong", not "you may not call this". The rows with good credentials
     show every persona gets a token.

test_every_api_route_has_a_row walks the URL resolver: a new endpoint (or a new method on one) without a
row here fails that test, by name.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from participants.models import ConsentText, Participant, Site
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


def _cohort_csv(_: World) -> dict[str, Any]:
    header = "preferred_language,country_of_origin,country_of_departure,birth_year,enrolled_on,phone,"
    header += "consent_version,consent_language,consent_method\n"
    upload = io.BytesIO((header + "ar,SY,KE,1991,2026-02-01,+46703333334,1,ar,on_screen\n").encode())
    upload.name = "cohort.csv"
    return {"file": upload}


def _enrollment(world: World) -> dict[str, Any]:
    return {
        "preferred_language": "ar", "country_of_origin": "SY", "country_of_departure": "KE", "birth_year": 1988,
        "enrolled_on": "2026-02-01", "phone": "+46703333333",
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
    format: str = "json"

    def expected(self, persona: str) -> str:
        return self.outcomes[PERSONAS.index(persona)]


def row(name: str, method: str, path: Callable[[World], str], payload: Callable[[World], Any] | None,
        *outcomes: str, format: str = "json") -> Row:  # fmt: skip
    assert len(outcomes) == len(PERSONAS), name
    return Row(name, method, path, payload, outcomes, format)


# fmt: off
TABLE = [
    #   name                            method    path                                                         payload                                                             anon amira bashir fatima gustav rita sara
    # --- translations ------------------------------------------------------------------------------------------------------------
    row("languages",                     "GET",    lambda w: "languages/",                                      None,                                                               A,   A,    A,     A,     A,     A,   A),
    # --- authoring (surveys) -----------------------------------------------------------------------------------------------------
    row("study_list",                    "GET",    lambda w: "studies/",                                        None,                                                               D,   D,    D,     E,     E,     A,   A),
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
    row("participant_update",            "PATCH",  lambda w: f"participants/{w.amira.pseudonym}/",              lambda w: {"arrived_on": "2026-04-01"},                             D,   D,    D,     A,     D,     D,   D),
    row("participant_contact",           "GET",    lambda w: f"participants/{w.amira.pseudonym}/contact/",      None,                                                               D,   D,    D,     A,     D,     D,   D),
    row("participant_contact_site_b",    "GET",    lambda w: f"participants/{w.bashir.pseudonym}/contact/",     None,                                                               D,   D,    D,     D,     A,     D,   D),
    row("participant_contact_update",    "PATCH",  lambda w: f"participants/{w.amira.pseudonym}/contact/",      lambda w: {"preferred_channel": "whatsapp"},                        D,   D,    D,     A,     D,     D,   D),
    row("participant_residence",         "POST",   lambda w: f"participants/{w.amira.pseudonym}/residences/",   lambda w: {"municipality": "0180", "moved_in_on": "2026-04-02"},    D,   D,    D,     A,     D,     D,   D),
    row("participant_intervention",      "POST",   lambda w: f"participants/{w.amira.pseudonym}/interventions/", lambda w: {"type": "sfi", "started_on": "2026-04-03"},             D,   D,    D,     A,     D,     D,   D),
    row("participant_consent",           "POST",   lambda w: f"participants/{w.amira.pseudonym}/consents/",     lambda w: {"consent_text": w.consent_text.pk, "language": "sv",
                                                                                                                           "method": "on_screen"},                             D,   D,    D,     A,     D,     D,   D),
    row("participant_withdraw",          "POST",   lambda w: f"participants/{w.amira.pseudonym}/withdraw/",     lambda w: {"scope": "stop_contact"},                                D,   D,    D,     A,     D,     D,   D),
    row("participant_reissue",           "POST",   lambda w: f"participants/{w.amira.pseudonym}/access-code/",  None,                                                               D,   D,    D,     A,     D,     D,   D),
    # --- study admin and research ------------------------------------------------------------------------------------------------
    row("study_audit_log",               "GET",    lambda w: f"studies/{w.study.pk}/audit/",                    None,                                                               D,   D,    D,     D,     D,     D,   A),
    row("study_panel",                   "GET",    lambda w: f"studies/{w.study.pk}/panel/",                    None,                                                               D,   D,    D,     D,     D,     A,   A),
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
    row("me_withdraw",                   "POST",   lambda w: "me/withdraw/",                                    lambda w: {"scope": "stop_contact"},                                D,   A,    A,     D,     D,     D,   D),
    row("me_token_refresh",              "POST",   lambda w: "me/token/refresh/",                               None,                                                               D,   A,    A,     D,     D,     D,   D),
    row("me_logout",                     "POST",   lambda w: "me/logout/",                                      None,                                                               D,   A,    A,     D,     D,     D,   D),
]
# fmt: on

# A participant's Bearer token on an authoring endpoint: surveys.selectors.studies_for() filters
# memberships by the ParticipantPrincipal object itself, and Django raises TypeError (500) instead of the
# 403/404 every other role gets. study_create is refused earlier (has_perm is False).
PARTICIPANT_ON_AUTHORING = (
    "BUG: surveys/selectors.py:35 studies_for() filters memberships__user=<ParticipantPrincipal>: "
    "TypeError, 500 instead of 403/404 for a participant token on authoring endpoints"
)
_NAMES = [item.name for item in TABLE]
AUTHORING_ROWS_WITH_THE_BUG = set(_NAMES[_NAMES.index("study_list") : _NAMES.index("wave_preview") + 1]) - {
    "study_create"
}


def _known_bug(item: Row, persona: str) -> str | None:
    if persona in {"amira", "bashir"} and item.name in AUTHORING_ROWS_WITH_THE_BUG:
        return PARTICIPANT_ON_AUTHORING
    return None


def _cases() -> Iterator[Any]:
    for item in TABLE:
        for persona in PERSONAS:
            reason = _known_bug(item, persona)
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
    site_a: Site,
    site_b: Site,
    consent_text: ConsentText,
    amira_participant: Participant,
    bashir_participant: Participant,
    sara_user: User,
) -> World:
    wave = services.wave_create(
        study=study,
        key="pre-departure",
        name={"en": "Before departure", "sv": "Före avresan", "ar": "قبل المغادرة"},
        questionnaire_version=published,
    )
    return World(
        study=study, questionnaire=published.questionnaire, published=published, wave=wave, site_a=site_a,
        site_b=site_b, consent_text=consent_text, amira=amira_participant, bashir=bashir_participant,
    )  # fmt: skip


def _call(client: APIClient, item: Row, url: str, world: World) -> Any:
    if item.method == "GET":
        return client.get(url)
    payload = item.payload(world) if item.payload else None
    return getattr(client, item.method.lower())(url, payload, format=item.format)


def _is_empty(body: Any) -> bool:
    return body == [] or (isinstance(body, dict) and body.get("results") == [])


@pytest.mark.parametrize(("item", "persona"), list(_cases()))
def test_permission_matrix(item: Row, persona: str, world: World, request: pytest.FixtureRequest) -> None:
    # given
    client: APIClient = request.getfixturevalue(persona)
    client.raise_request_exception = False  # a crash must show up as the 500 it would be, not as a traceback
    url = API + item.path(world)

    # when
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
        assert response.status_code == 401, described
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


def _methods(pattern: URLPattern) -> set[str]:
    view_class = pattern.callback.view_class  # type: ignore[attr-defined]
    return {
        method.upper() for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)
    }


def test_every_api_route_has_a_row(world: World) -> None:
    # given
    routes = _api_routes()
    covered = {(resolve(API + item.path(world)).route, item.method) for item in TABLE}

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

    unknown = [
        item.name
        for item in TABLE
        if item.method not in _methods(routes[resolve(API + item.path(world)).route])
    ]

    assert unknown == []


def test_the_table_names_each_row_once() -> None:
    duplicates = sorted({name for name in _NAMES if _NAMES.count(name) > 1})

    assert duplicates == []


# --- what the allowed answers hold -------------------------------------------------------------------------


def test_fatima_lists_only_the_site_she_works_at(fatima: APIClient, site_a: Site, site_b: Site) -> None:
    response = fatima.get(f"{API}sites/")

    assert response.status_code == 200
    assert [site["code"] for site in response.json()] == ["site-a"]


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
