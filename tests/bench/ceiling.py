"""The ceiling of bench_ingest: a completing page with every guarantee the product gives, and nothing else.

``POST /bench/ceiling/<wave>/`` (bench URLconf only) does what ``POST /me/waves/<wave>/answers/`` with
``"complete": true`` must do for a participant's first and only page, with no framework on the way: no
DRF, no ORM, no transaction block. Three statements: the token look-up (the product's own), one read of the
schedule row, wave, version and the study's newest key (with the response id taken from its sequence), and
one writing statement that locks the participant, closes the schedule row if it is still open, inserts the
sealed response and the submission (its unique id makes a repeated request fail whole) and cancels the
pending reminders. In between, the answers are validated against the version (the product's validator),
the envelope digest is computed and the response is sealed with HPKE, as the product does.

It is a measuring stick, not a second implementation: it answers a first completing request only (a retry
gets a bare 409 instead of its first result, a draft or an earlier page is not merged, errors are terse).
bench_ingest reports its rate beside the product's, so that the distance to the floor which no product
code can close shows in the same run.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from django.db import IntegrityError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from participants.models import Participant, ParticipantWave, Reminder, Response, StudyKey, Submission
from participants.responses import services, validation
from participants.services.access import token_authenticate
from surveys.models import QuestionnaireVersion, Study, Wave


@functools.cache
def _tables() -> dict[str, str]:
    models = {
        "participant": Participant, "schedule": ParticipantWave, "reminder": Reminder, "response": Response,
        "key": StudyKey, "submission": Submission, "study": Study, "wave": Wave, "version": QuestionnaireVersion,
    }  # fmt: skip
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


@functools.cache
def _read_sql() -> str:
    t = _tables()
    newest_key = (
        f"FROM {t['key']} k WHERE k.study_id = p.study_id AND k.retired_at IS NULL "
        "ORDER BY k.registered_at DESC, k.id DESC LIMIT 1"
    )
    return (
        "SELECT pw.id, pw.wave_id, p.pseudonym, s.slug, w.questionnaire_version_id, v.status, v.content_digest, "  # noqa: S608 - table names from the models
        f"(SELECT k.id {newest_key}), (SELECT k.fingerprint {newest_key}), "
        f"nextval(pg_get_serial_sequence('{Response._meta.db_table}', 'id')) "
        f"FROM {t['schedule']} pw JOIN {t['participant']} p ON p.id = pw.participant_id "
        f"JOIN {t['study']} s ON s.id = p.study_id JOIN {t['wave']} w ON w.id = pw.wave_id "
        f"LEFT JOIN {t['version']} v ON v.id = w.questionnaire_version_id "
        "WHERE pw.participant_id = %s AND w.key = %s AND pw.status = 'open' AND pw.opens_at <= %s "
        "AND pw.closes_at > %s ORDER BY pw.id LIMIT 1"
    )


@functools.cache
def _write_sql() -> str:
    t = _tables()
    return (
        f"WITH p AS (SELECT id FROM {t['participant']} WHERE id = %(participant)s AND status <> 'withdrawn' "  # noqa: S608 - table names from the models
        "AND erased_at IS NULL FOR UPDATE), "
        f"pw AS (UPDATE {t['schedule']} SET status = 'completed', completed_at = %(now)s, updated_at = %(now)s "
        "WHERE id = %(schedule)s AND status = 'open' AND EXISTS (SELECT 1 FROM p) RETURNING id), "
        f"r AS (INSERT INTO {t['response']} (id, participant_id, wave_id, version_id, status, language, "
        "started_at, updated_at, completed_at, draft_encrypted, sections_submitted, sealed_payload, study_key_id, "
        "suite, key_fingerprint, sealed_size) SELECT %(response)s, %(participant)s, %(wave)s, %(version)s, "
        "'completed', %(language)s, %(now)s, %(now)s, %(now)s, '', %(sections)s::jsonb, %(sealed)s, %(key)s, "
        "%(suite)s, %(fingerprint)s, %(size)s FROM pw RETURNING id), "
        f"c AS (UPDATE {t['reminder']} SET status = 'cancelled', outcome = 'completed' "
        "WHERE schedule_id IN (SELECT id FROM pw) AND status = 'pending'), "
        f"sub AS (INSERT INTO {t['submission']} (submission_id, response_id, kind, body_digest, envelope_digest, "
        "result, received_at) SELECT %(submission)s, id, 'page', '', %(envelope)s, %(result)s::jsonb, %(now)s "
        "FROM r) "
        "SELECT count(*) FROM r"
    )


def _refused(status: int, code: str) -> JsonResponse:
    return JsonResponse({"code": code}, status=status)


@csrf_exempt
@require_POST
def ceiling(request: HttpRequest, wave_key: str) -> HttpResponse:
    parts = request.headers.get("authorization", "").split()
    token = token_authenticate(parts[1]) if len(parts) == 2 else None  # noqa: PLR2004 - "Bearer <token>"
    if token is None:
        return _refused(401, "not_authenticated")
    participant = token.participant
    data: dict[str, Any] = json.loads(request.body)
    submission_id, section = uuid.UUID(data["submission_id"]), data["section"]
    language = participant.preferred_language
    envelope = services._digest(
        {"kind": "page", "participant": participant.pseudonym, "wave": wave_key, "section": section,
         "language": language, "complete": True, "version": None},
        purpose="submission-envelope",
    )  # fmt: skip
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_read_sql(), [participant.pk, wave_key, now, now])
        row = cursor.fetchone()
    if row is None:
        return _refused(409, "wave_not_open")
    (
        schedule_id,
        wave_id,
        pseudonym,
        study_slug,
        version_id,
        version_status,
        digest,
        key_id,
        fingerprint,
        response_id,
    ) = row
    if version_status != QuestionnaireVersion.Status.PUBLISHED or key_id is None:
        return _refused(409, "not_answerable")
    version = QuestionnaireVersion.from_db(connection.alias, ["id", "content_digest"], [version_id, digest])
    compiled = validation.compiled_version(version)
    answers, errors = validation.validate(
        compiled, answers=data["answers"], questions=list(compiled.questions), language=language
    )
    if errors:
        return JsonResponse({"errors": [error.__dict__ for error in errors]}, status=400)
    key = services._key_material(key_id, fingerprint)
    sealed = services.sealed_response(
        key=key, study_slug=study_slug, pseudonym=pseudonym,
        wave_key=wave_key, version_id=version_id, version_digest=digest, response_id=response_id,
        language=language, started_at=now, completed_at=now, answers=answers,
    )  # fmt: skip
    result = {"status": "completed", "response_id": response_id, "completed_at": now.isoformat(),
              "key_fingerprint": fingerprint, "submission_id": str(submission_id), "replayed": False}  # fmt: skip
    try:
        with connection.cursor() as cursor:
            cursor.execute(_write_sql(), {
                "participant": participant.pk, "now": now, "schedule": schedule_id, "response": response_id,
                "wave": wave_id, "version": version_id, "language": language, "sections": json.dumps([section]),
                "sealed": sealed, "key": key_id, "suite": key.suite, "fingerprint": fingerprint,
                "size": len(sealed), "submission": submission_id, "envelope": envelope,
                "result": json.dumps(result),
            })  # fmt: skip
            (inserted,) = cursor.fetchone()
    except IntegrityError:
        return _refused(409, "submission_conflict")
    if inserted != 1:
        return _refused(409, "wave_not_open")
    return JsonResponse(result)
