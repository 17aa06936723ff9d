"""Writing responses: pages, completion and sealing, drafts, study keys, erasure.

Idempotency: every request carries a client-generated ``submission_id``. All writes to one participant-wave
are serialised by the row locks on the participant and their schedule row (``_lock_target``). The unique
constraint on ``submission_id`` makes a retry, or a copy that waited for the locks, fail at its INSERT, which
rolls the repetition back; the first result is then returned (``_idempotent``), and nothing is stored twice.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backend.errors import Conflict, DomainError, NotFound
from participants.audit import audit_record
from participants.crypto import sealing
from participants.crypto.keyring import KeyRing
from participants.keys import keyring
from participants.models import AuditEntry, Participant, ParticipantWave, Response, StudyKey, Submission
from participants.reminders.schedules import (
    WaveNotOpen,
    check_schedule_open,
    schedule_check_open,
    schedule_mark_completed,
)
from participants.responses import validation
from surveys.models import QuestionnaireVersion, Study, Wave
from translations import messages

Result = dict[str, Any]


class NoStudyKey(Conflict):
    code = "no_study_key"


class NotAnswerable(Conflict):
    code = "not_answerable"


class SubmissionConflict(Conflict):
    code = "submission_id_reused"


class WrongVersion(Conflict):
    code = "wrong_version"


class InvalidAnswers(DomainError):
    """400 with one entry per problem: variable, code, message (participant's language), detail."""

    def __init__(self, errors: list[validation.AnswerError]) -> None:
        super().__init__(
            f"{len(errors)} answer(s) need attention.",
            details={"errors": [error.__dict__ for error in errors]},
        )

    code = "invalid_answers"


SEALED_DIGEST = ""  # body digests are dropped once the response is sealed


def _digest(payload: dict[str, Any], *, purpose: str = "submission") -> str:
    """A keyed digest of the request: a plain hash of a page with few possible answers could be reversed
    from a database dump by trying them all."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return keyring().blind_index(canonical, purpose=purpose)


@dataclass(frozen=True)
class _Digests:
    """What a reused submission id is compared with: the whole request (``body``), kept while the response
    is unfinished, and the request without its answers (``envelope``: kind, participant, wave, section,
    language, completing or not), kept for good. Once the response is sealed its body digests are dropped
    (SEALED_DIGEST): whoever holds the server's keys could match a page with few possible answers against
    guesses, and so read what was sealed."""

    body: str
    envelope: str

    @classmethod
    def of(cls, payload: dict[str, Any]) -> _Digests:
        envelope = {name: value for name, value in payload.items() if name != "answers"}
        return cls(_digest(payload), _digest(envelope, purpose="submission-envelope"))


def _draft_aad(response: Response, pseudonym: str) -> bytes:
    return f"participants:draft:{pseudonym}:{response.pk}".encode()


def draft_answers(response: Response) -> validation.Answers:
    if not response.draft_encrypted:
        return {}
    plaintext = keyring().decrypt_text(
        response.draft_encrypted, associated_data=_draft_aad(response, response.participant.pseudonym)
    )
    answers: validation.Answers = json.loads(plaintext)
    return answers


def _store_draft(response: Response, answers: validation.Answers) -> None:
    plaintext = json.dumps(answers, ensure_ascii=False, separators=(",", ":"))
    response.draft_encrypted = keyring().encrypt_text(
        plaintext, associated_data=_draft_aad(response, response.participant.pseudonym)
    )


def drafts_rotate_keys(*, ring: KeyRing, batch_size: int = 500) -> int:
    """Re-encrypt every unfinished response's draft not yet under the ring's newest key; how many were.

    Reads the drafts in batches by id, never all at once. Each write is conditional on the token read: a page
    submitted meanwhile has written a newer draft (its answers include the older ones), which is kept rather
    than overwritten with the older answers; the next run rotates it if it still needs it.
    """
    drafts = (
        Response.objects.filter(status=Response.Status.IN_PROGRESS)
        .exclude(draft_encrypted="")
        .select_related("participant")
        .only("draft_encrypted", "participant__pseudonym")
        .order_by("pk")
    )
    rotated, after = 0, 0
    while batch := list(drafts.filter(pk__gt=after)[:batch_size]):
        after = batch[-1].pk
        with transaction.atomic():
            for response in batch:
                token = response.draft_encrypted
                if not ring.needs_rotation(token):
                    continue
                aad = _draft_aad(response, response.participant.pseudonym)
                # A completed response has no draft, so matching the token also means "still in progress".
                rotated += Response.objects.filter(pk=response.pk, draft_encrypted=token).update(
                    draft_encrypted=ring.rotate(token, associated_data=aad)
                )
    return rotated


NO_KEY = (
    "The study has no registered public key, so answers could not be sealed; the wave cannot be opened yet."
)


def study_has_key(study_id: int) -> bool:
    """Whether the study has an active public key: without one its waves cannot be answered."""
    return StudyKey.objects.filter(study_id=study_id, retired_at=None).exists()


def active_key(study: Study) -> StudyKey | None:
    return StudyKey.objects.filter(study=study, retired_at=None).order_by("-registered_at", "-pk").first()


@dataclass(frozen=True)
class _KeyMaterial:
    pk: int
    fingerprint: str
    suite: str
    public_key: sealing.PublicKey


@functools.lru_cache(maxsize=64)
def _key_material(pk: int, fingerprint: str) -> _KeyMaterial:
    """A registered key never changes (only its retirement, which the caller's query sees), so its parsed
    public key is kept per process, by id and fingerprint."""
    key = StudyKey.objects.only("suite", "public_key_pem").get(pk=pk, fingerprint=fingerprint)
    public_key = sealing.public_key_from_pem(key.public_key_pem, suite=key.suite)
    return _KeyMaterial(pk, fingerprint, key.suite, public_key)


def check_answerable(*, participant: Participant, wave: Wave) -> None:
    """Whether the participant may answer this wave now; raises with the reason."""
    _check_answerable(participant=participant, wave=wave, has_key=active_key(participant.study) is not None)
    check_schedule_open(participant=participant, wave=wave)


def _check_answerable(*, participant: Participant, wave: Wave, has_key: bool) -> None:
    if participant.erased_at is not None or participant.status == Participant.Status.WITHDRAWN:
        raise NotAnswerable("You have left the study; nothing more can be answered.")
    if wave.questionnaire_version is None or not wave.questionnaire_version.is_published:
        raise NotAnswerable(f"Wave '{wave.key}' has no published questionnaire.")
    if not has_key:
        raise NoStudyKey(NO_KEY)


def started_versions(participant: Participant) -> dict[int, int]:
    """{wave id: version id} of the waves the participant has started answering (or completed)."""
    return dict(Response.objects.filter(participant=participant).values_list("wave_id", "version_id"))


def answering_version(*, participant: Participant, wave: Wave) -> QuestionnaireVersion | None:
    """The version the participant answers the wave with: the one their response was started on (answers are
    checked against it and sealed with it, also after the wave moved to a newer version), else the wave's."""
    started = Response.objects.filter(participant=participant, wave=wave).values_list("version_id", flat=True)
    version_id = started.first()
    if version_id is None or version_id == wave.questionnaire_version_id:
        return wave.questionnaire_version
    return QuestionnaireVersion.objects.select_related("questionnaire__study").get(pk=version_id)


def wave_of(participant: Participant, wave_key: str) -> Wave:
    wave = (
        Wave.objects.select_related("questionnaire_version")
        .filter(study_id=participant.study_id, key=wave_key)
        .order_by("pk")
        .first()
    )
    if wave is None:
        raise NotFound(f"Your study has no wave '{wave_key[:64]}'.")
    return wave


@dataclass
class _Target:
    """What one submission works on, read under the participant's lock."""

    participant: Participant
    study_slug: str
    wave: Wave
    schedule: ParticipantWave
    response: Response
    response_is_new: bool
    key: _KeyMaterial | None
    response_unsaved: bool = False  # new, with its id reserved: its first save inserts it

    def response_save(self, fields: list[str]) -> None:
        """Write ``fields`` of the response; a new one is inserted whole, encrypted draft or sealed payload
        included (they bind its id, which is why the id is reserved first)."""
        if self.response_unsaved:
            self.response.save(force_insert=True)
            self.response_unsaved = False
        else:
            self.response.save(update_fields=fields)


def _reserved_response_id() -> int | None:
    """On PostgreSQL, an id for a new response taken from its sequence ahead of the INSERT, so that one
    INSERT writes the row with its draft or sealed payload (both bind the id). Elsewhere (SQLite, for
    ``make run``) None: the row is inserted first to get its id, then updated."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Response._meta.db_table])
        (reserved,) = cursor.fetchone()
    return int(reserved)


@functools.cache
def _locked_schedule_sql(vendor: str) -> str:
    """The locking read of ``_locked_schedule`` (``vendor`` keys the cache: the lock clause is PostgreSQL's).

    Written out rather than built by the ORM: it runs for every submission, and compiling the equivalent
    queryset (select_related of the participant, wave and version, two subqueries) took 2.5 ms of CPU,
    more than validating 300 answers. ``Manager.raw`` still maps the row onto the model.
    """
    quote = connection.ops.quote_name
    table = {
        alias: quote(model._meta.db_table)
        for alias, model in (
            ("pw", ParticipantWave), ("p", Participant), ("w", Wave), ("v", QuestionnaireVersion),
            ("s", Study), ("k", StudyKey),
        )
    }  # fmt: skip
    newest_key = (
        f"SELECT k.{{column}} FROM {table['k']} k WHERE k.study_id = p.study_id AND k.retired_at IS NULL "  # noqa: S608 - table names from the models
        "ORDER BY k.registered_at DESC, k.id DESC LIMIT 1"
    )
    # PostgreSQL locks a row's tables in the order of the OF list: the participant first, as withdrawal and
    # date changes do before they lock the schedule rows (the other order deadlocked with them).
    lock = (
        connection.ops.for_update_sql(of=("p", "pw")) if connection.features.has_select_for_update_of else ""
    )
    return (
        "SELECT pw.*, p.status AS participant_status, p.erased_at AS participant_erased_at, "  # noqa: S608 - table names from the models
        "s.slug AS study_slug, w.questionnaire_version_id AS version_id, v.status AS version_status, "
        "v.content_digest AS version_digest, "
        f"({newest_key.format(column='id')}) AS key_id, ({newest_key.format(column='fingerprint')}) AS key_fingerprint "
        f"FROM {table['pw']} pw JOIN {table['p']} p ON p.id = pw.participant_id "
        f"JOIN {table['s']} s ON s.id = p.study_id JOIN {table['w']} w ON w.id = pw.wave_id "
        f"LEFT JOIN {table['v']} v ON v.id = w.questionnaire_version_id "
        f"WHERE pw.participant_id = %s AND w.{quote('key')} = %s ORDER BY pw.id LIMIT 1 {lock}"
    )


@functools.cache
def _response_sql(vendor: str) -> str:
    """The participant's response to a wave (at most one: a unique constraint). Written out for the reason
    given in ``_locked_schedule_sql``: the queryset cost 0.5 ms of CPU to build, this 0.15 ms."""
    table = connection.ops.quote_name(Response._meta.db_table)
    return f"SELECT * FROM {table} WHERE participant_id = %s AND wave_id = %s"  # noqa: S608 - table name from the model


@dataclass(frozen=True)
class _Locked:
    schedule: ParticipantWave
    wave: Wave
    study_slug: str
    participant_status: str
    participant_erased_at: datetime.datetime | None
    key: _KeyMaterial | None


def _locked_schedule(*, participant: Participant, wave_key: str) -> _Locked | None:
    """The participant's schedule row for the wave, with the participant's row (both locked); the wave, its
    version, the study's slug and newest key.

    The response is looked up by a statement of its own, after the locks: a statement that waited for
    them still sees what its snapshot saw, before the transaction it waited for created the response.
    """
    rows = list(
        ParticipantWave.objects.raw(_locked_schedule_sql(connection.vendor), [participant.pk, wave_key])
    )
    if not rows:
        return None
    schedule = rows[0]
    row: dict[str, Any] = vars(schedule)  # the model's fields and the extra columns of the statement
    version = None
    if row["version_id"] is not None:
        version = QuestionnaireVersion.from_db(
            connection.alias,
            ["id", "status", "content_digest"],
            [row["version_id"], row["version_status"], row["version_digest"]],
        )
    wave = Wave.from_db(
        connection.alias, ["id", "study_id", "key", "questionnaire_version_id"],
        [schedule.wave_id, participant.study_id, wave_key, row["version_id"]],
    )  # fmt: skip
    wave.questionnaire_version = version
    key = None if row["key_id"] is None else _key_material(row["key_id"], row["key_fingerprint"])
    return _Locked(
        schedule, wave, row["study_slug"], row["participant_status"], row["participant_erased_at"], key
    )


def _lock_target(*, participant: Participant, wave_key: str, language: str) -> _Target:
    """Lock the participant and their schedule row for the wave, check that the wave can be answered now,
    and load (or start) the response.

    One statement takes both locks and reads the wave, its version and the study's newest key: the
    participant's row lock orders this against withdrawal and erasure (which take it too), so nothing is
    stored for someone who left meanwhile, and against every other write to the participant's responses
    (which all come through here), so the response can be created without a race. The participant's row is
    locked before the schedule row, in the order of every other writer (tests/.../test_lock_order.py).
    """
    locked = _locked_schedule(participant=participant, wave_key=wave_key)
    if locked is None:
        # Not scheduled: say why (no such wave, left the study, no questionnaire or key, no date yet).
        wave = wave_of(participant, wave_key)
        check_answerable(
            participant=Participant.objects.select_for_update().get(pk=participant.pk), wave=wave
        )
        locked = _locked_schedule(participant=participant, wave_key=wave_key)  # scheduled a moment ago
        if locked is None:
            raise WaveNotOpen(f"Wave '{wave.key}' is not scheduled for you yet.")
    schedule, wave = locked.schedule, locked.wave
    participant.status, participant.erased_at = locked.participant_status, locked.participant_erased_at
    schedule.participant = participant  # the authenticated one
    _check_answerable(participant=participant, wave=wave, has_key=locked.key is not None)
    schedule_check_open(schedule, wave_key=wave.key)
    version = wave.questionnaire_version
    assert version is not None  # noqa: S101 - _check_answerable refused a wave without one
    response = next(
        iter(Response.objects.raw(_response_sql(connection.vendor), [participant.pk, wave.pk])), None
    )
    is_new, reserved = response is None, None
    if response is None:
        reserved = _reserved_response_id()
        response = Response(
            pk=reserved, participant=participant, wave=wave, version=version, language=language,
            started_at=timezone.now(),
        )  # fmt: skip
        if reserved is None:
            response.save(force_insert=True)
    response.participant, response.wave = participant, wave
    if response.version_id == version.pk:
        response.version = version  # already loaded with the wave
    return _Target(
        participant, locked.study_slug, wave, schedule, response, is_new, locked.key,
        response_unsaved=reserved is not None,
    )  # fmt: skip


def _is_same_request(earlier: Submission, digests: _Digests) -> bool:
    """Whether a reused id carries the request first sent under it. After sealing only the envelope can be
    compared: a retry with changed answers then gets the first result, and the sealed response stays as it
    was. Submissions stored before envelopes were kept have none, and compare as before (equal)."""
    if earlier.body_digest != SEALED_DIGEST:
        return earlier.body_digest == digests.body
    return earlier.envelope_digest in (digests.envelope, "")


def _replay(submission_id: UUID, digests: _Digests, participant: Participant) -> Result | None:
    earlier = Submission.objects.filter(submission_id=submission_id).select_related("response").first()
    if earlier is None:
        return None
    if earlier.response.participant_id != participant.pk:
        raise SubmissionConflict("This submission_id belongs to another request; nothing was changed.")
    if not _is_same_request(earlier, digests):
        raise SubmissionConflict(
            "This submission_id was already used for a different request; nothing was changed."
        )
    result: Result = earlier.result
    return {**result, "replayed": True}


def _idempotent(
    *, participant: Participant, wave_key: str, submission_id: UUID, kind: str, digests: _Digests,
    language: str, work: Callable[[_Target], Result],
) -> Result:  # fmt: skip
    """Run ``work`` once per ``submission_id``: a retry, or a copy that waited for the lock, gets the stored
    result of the first; the same id with another body is refused.

    A first request pays for no lookup of earlier submissions: the unique constraint on ``submission_id``
    makes a repeated one fail at its INSERT, which rolls the whole repetition back; the stored result is
    then looked up. It is looked up too before a refusal (a retry arriving after the window closed, or
    after the response was sealed, still gets its first answer).
    """
    try:
        with transaction.atomic():
            target = _lock_target(participant=participant, wave_key=wave_key, language=language)
            if target.response.status == Response.Status.COMPLETED:
                replay = _replay(submission_id, digests, participant)
                if replay is not None:
                    return replay
            result = {**work(target), "submission_id": str(submission_id), "replayed": False}
            sealed = target.response.status == Response.Status.COMPLETED
            Submission.objects.create(
                submission_id=submission_id, response=target.response, kind=kind,
                body_digest=SEALED_DIGEST if sealed else digests.body, envelope_digest=digests.envelope,
                result=result,
            )  # fmt: skip
    except IntegrityError:
        replay = _replay(submission_id, digests, participant)
        if replay is None:
            raise SubmissionConflict("This submission_id is in use by another request.") from None
        return replay
    except DomainError:
        replay = _replay(submission_id, digests, participant)
        if replay is None:
            raise
        return replay
    return result


def page_submit(
    *, participant: Participant, wave_key: str, submission_id: UUID, section: str, answers: dict[str, Any],
    language: str | None = None, complete: bool = False, version: int | None = None,
) -> Result:  # fmt: skip
    """Validate one page against the response's version and keep it in the (encrypted) draft.

    With ``complete`` the page is the last one: the whole response is validated once and sealed in the
    same transaction, so a phone on a poor connection finishes in one round trip. ``version``, when the
    phone sends it, is the version its questionnaire showed: answers given to another one are refused.
    """
    language = language or participant.preferred_language
    digests = _Digests.of(
        {"kind": "page", "participant": participant.pseudonym, "wave": wave_key, "section": section,
         "answers": answers, "language": language, "complete": complete, "version": version}
    )  # fmt: skip

    def work(target: _Target) -> Result:
        response = target.response
        if response.status == Response.Status.COMPLETED:
            raise NotAnswerable("This wave is already completed; its answers are sealed.")
        if version is not None and version != response.version_id:
            raise WrongVersion(
                f"These answers were given to questionnaire version {version}, but this wave is answered with "
                f"version {response.version_id}: fetch the questionnaire again.",
                field="version",
            )
        compiled = validation.compiled_version(response.version)
        if section not in compiled.sections:
            raise DomainError(f"'{section[:64]}' is not a section of this questionnaire.", field="section")
        page = compiled.section_questions(section)
        on_page = {question.variable for question in page}
        errors = [
            validation.AnswerError(
                name[:64],
                "not_in_section",
                messages.message("invalid", language),
                f"{name[:64]} is not a question of section {section}.",
            )  # fmt: skip
            for name in answers
            if name not in on_page
        ]
        merged = {name: value for name, value in draft_answers(response).items() if name not in on_page}
        merged.update({name: value for name, value in answers.items() if name in on_page})
        response.language = language
        checked = list(compiled.questions) if complete else page
        normalized, problems = validation.validate(
            compiled, answers=merged, questions=checked, language=language
        )
        if errors or problems:
            raise InvalidAnswers(errors + problems)
        response.sections_submitted = [
            key for key in compiled.sections if key in {*response.sections_submitted, section}
        ]
        if complete:
            return _seal(target, answers=normalized)
        _store_draft(response, normalized)
        target.response_save(["draft_encrypted", "sections_submitted", "language", "updated_at"])
        remaining = [key for key in compiled.sections if key not in response.sections_submitted]
        return {"status": "accepted", "response_id": response.pk, "section": section,
                "sections_submitted": response.sections_submitted, "next_section": remaining[0] if remaining else None}  # fmt: skip

    return _idempotent(
        participant=participant, wave_key=wave_key, submission_id=submission_id, kind=Submission.Kind.PAGE,
        digests=digests, language=language, work=work,
    )  # fmt: skip


def response_info(
    *, study_slug: str, pseudonym: str, wave_key: str, version_id: int, response_id: int
) -> bytes:
    """The HPKE context: a sealed response opens only for this study, participant, wave, version and id."""
    return sealing.build_info(
        purpose="response",
        fields={
            "study": study_slug,
            "participant": pseudonym,
            "wave": wave_key,
            "version": str(version_id),
            "response": str(response_id),
        },
    )


PADDING_BLOCK = 1024


def _padded(plaintext: bytes) -> bytes:
    """JSON padded with spaces to a whole number of blocks, so the sealed size hides answer lengths."""
    return plaintext + b" " * (-len(plaintext) % PADDING_BLOCK)


def sealed_response(
    *, key: _KeyMaterial, study_slug: str, pseudonym: str, wave_key: str, version_id: int, version_digest: str,
    response_id: int, language: str, started_at: datetime.datetime, completed_at: datetime.datetime,
    answers: validation.Answers,
) -> bytes:  # fmt: skip
    """The HPKE ciphertext of a completed response: its answers and metadata as JSON, padded, sealed to
    ``key`` with the context of ``response_info``."""
    document = {
        "response_id": response_id, "study": study_slug, "participant": pseudonym, "wave": wave_key,
        "version_id": version_id, "version_digest": version_digest, "language": language,
        "started_at": started_at.isoformat(), "completed_at": completed_at.isoformat(), "answers": answers,
    }  # fmt: skip
    plaintext = _padded(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
    info = response_info(
        study_slug=study_slug, pseudonym=pseudonym, wave_key=wave_key, version_id=version_id,
        response_id=response_id,
    )  # fmt: skip
    return sealing.seal(plaintext, public_key=key.public_key, info=info, suite=key.suite)


def _seal(target: _Target, *, answers: validation.Answers) -> Result:
    """Seal the validated answers to the study's newest key, drop the draft, close the schedule row."""
    response, participant, wave, key = target.response, target.participant, target.wave, target.key
    study_slug = target.study_slug
    if key is None:
        raise NoStudyKey("The study has no registered public key; answers cannot be sealed.")
    now = timezone.now()
    response.sealed_payload = sealed_response(
        key=key, study_slug=study_slug, pseudonym=participant.pseudonym, wave_key=wave.key,
        version_id=response.version_id, version_digest=response.version.content_digest,
        response_id=response.pk, language=response.language, started_at=response.started_at,
        completed_at=now, answers=answers,
    )  # fmt: skip
    response.study_key_id, response.suite, response.key_fingerprint = key.pk, key.suite, key.fingerprint
    response.sealed_size = len(response.sealed_payload)
    response.status, response.completed_at, response.draft_encrypted = Response.Status.COMPLETED, now, ""
    target.response_save([
        "sealed_payload", "study_key", "suite", "key_fingerprint", "sealed_size", "status", "completed_at",
        "draft_encrypted", "sections_submitted", "language", "updated_at",
    ])  # fmt: skip
    if not target.response_is_new:  # earlier pages' digests could be matched against guessed answers
        Submission.objects.filter(response=response).update(body_digest=SEALED_DIGEST)
    schedule_mark_completed(schedule=target.schedule, at=now)
    return {"status": "completed", "response_id": response.pk, "completed_at": now.isoformat(),
            "key_fingerprint": key.fingerprint}  # fmt: skip


def response_complete(*, participant: Participant, wave_key: str, submission_id: UUID) -> Result:
    """Validate the whole response, seal it to the study's newest key, and drop the draft."""
    digests = _Digests.of({"kind": "complete", "participant": participant.pseudonym, "wave": wave_key})

    def work(target: _Target) -> Result:
        response = target.response
        if response.status == Response.Status.COMPLETED:
            raise NotAnswerable("This wave is already completed.")
        version = validation.compiled_version(response.version)
        normalized, errors = validation.validate(
            version,
            answers=draft_answers(response),
            questions=list(version.questions),
            language=response.language,
        )
        if errors:
            raise InvalidAnswers(errors)
        return _seal(target, answers=normalized)

    return _idempotent(
        participant=participant, wave_key=wave_key, submission_id=submission_id, kind=Submission.Kind.COMPLETE,
        digests=digests, language=participant.preferred_language, work=work,
    )  # fmt: skip


@dataclass(frozen=True)
class Draft:
    status: str
    answers: validation.Answers
    sections_submitted: list[str]
    language: str


def draft_fetch(*, participant: Participant, wave_key: str) -> Draft:
    """The answers so far, to continue on another phone. A completed response is sealed: none come back."""
    wave = wave_of(participant, wave_key)
    response = Response.objects.filter(participant=participant, wave=wave).first()
    if response is None:
        return Draft(
            status="not_started", answers={}, sections_submitted=[], language=participant.preferred_language
        )
    response.participant = participant
    answers = draft_answers(response) if response.status == Response.Status.IN_PROGRESS else {}
    return Draft(
        status=response.status,
        answers=answers,
        sections_submitted=response.sections_submitted,
        language=response.language,
    )


def drafts_delete_for(*, participant: Participant, wave: Wave) -> int:
    """The wave's window closed: unfinished answers are deleted (they were never sealed)."""
    return Response.objects.filter(
        participant=participant, wave=wave, status=Response.Status.IN_PROGRESS
    ).delete()[0]


def responses_delete_for(*, participant: Participant, by: User | None, by_participant: bool = False) -> int:
    """Erasure: every response of the participant, sealed or draft, is deleted, and the deletion audited."""
    count = Response.objects.filter(participant=participant).count()
    Response.objects.filter(participant=participant).delete()
    audit_record(
        action=AuditEntry.Action.RESPONSES_DELETED, actor=by, study=participant.study, participant=participant.pseudonym,
        actor_participant=participant.pseudonym if by_participant else "",
        details={"responses": count},
    )  # fmt: skip
    return count


# --- study keys -----------------------------------------------------------------------------------------


@transaction.atomic
def study_key_register(*, study: Study, public_key_pem: str, suite: str, label: str, by: User) -> StudyKey:
    if suite not in sealing.supported_suites():
        raise DomainError(
            f"Unsupported suite '{suite[:80]}'; supported: {', '.join(sealing.supported_suites())}.",
            field="suite",
        )
    try:
        public_key = sealing.public_key_from_pem(public_key_pem, suite=suite)
    except sealing.SealingError as error:
        raise DomainError(f"Not a public key for {suite}: {error}", field="public_key_pem") from None
    fingerprint = sealing.fingerprint(public_key)
    try:
        with transaction.atomic():  # the unique fingerprint decides, also between two registrations at once
            key = StudyKey.objects.create(
                study=study, suite=suite, public_key_pem=sealing.public_key_to_pem(public_key),
                fingerprint=fingerprint, label=label[:200], registered_by=by,
            )  # fmt: skip
    except IntegrityError:
        raise Conflict("This key is registered already.", field="public_key_pem") from None
    audit_record(
        action=AuditEntry.Action.STUDY_KEY_REGISTERED,
        actor=by,
        study=study,
        details={"fingerprint": fingerprint, "suite": suite},
    )
    return key


@transaction.atomic
def study_key_retire(*, key: StudyKey, by: User) -> StudyKey:
    """New responses stop using the key; responses already sealed to it stay openable with its private half."""
    updated = StudyKey.objects.filter(pk=key.pk, retired_at=None).update(retired_at=timezone.now())
    key.refresh_from_db()
    if updated:
        audit_record(
            action=AuditEntry.Action.STUDY_KEY_RETIRED,
            actor=by,
            study=key.study,
            details={"fingerprint": key.fingerprint},
        )
    return key
