"""Access without passwords: codes, one-time personal links, QR codes and participant API tokens."""

from __future__ import annotations

import datetime
import functools
import io
from dataclasses import dataclass, field

import segno
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.errors import DomainError
from participants import codes
from participants.audit import audit_record
from participants.keys import keyring
from participants.models import AccessCode, AuditEntry, LinkToken, Participant, ParticipantToken

CODE_PURPOSE = "access-code"
LINK_PURPOSE = "link-token"


class AccessDenied(DomainError):
    status_code = 401
    code = "access_denied"


def _code_hash(code: str) -> str:
    return keyring().blind_index(code, purpose=CODE_PURPOSE)


def _link_hash(token: str) -> str:
    return keyring().blind_index(token, purpose=LINK_PURPOSE)


def personal_link(token: str, *, wave_key: str = "") -> str:
    # The token travels in the fragment, which browsers never send to servers, so it stays out of
    # access logs and proxies; the participant page posts it to the API and opens the wave named.
    return f"{settings.PARTICIPANT_APP_URL}#token={token}" + (f"&wave={wave_key}" if wave_key else "")


def qr_svg(link: str) -> str:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()


def qr_png_data_uri(link: str) -> str:
    """The same QR code as a PNG data URI, for printing on enrollment cards."""
    return segno.make(link, error="m").png_data_uri(scale=6)


@dataclass(frozen=True)
class Credentials:
    """What staff hand to the participant once: never stored in readable form."""

    # Out of repr(): a traceback or a debug print must not show them.
    access_code: str = field(repr=False)
    link: str = field(repr=False)
    qr_svg: str = field(repr=False)
    qr_png: str = field(repr=False)  # data:image/png;base64,...


def link_issue(
    *, participant: Participant, valid_for: datetime.timedelta | None = None, wave_key: str = ""
) -> str:
    token = codes.new_secret_token()
    LinkToken.objects.create(
        participant=participant,
        token_hash=_link_hash(token),
        expires_at=timezone.now() + (valid_for or datetime.timedelta(days=settings.LINK_TOKEN_DAYS)),
    )
    return personal_link(token, wave_key=wave_key)


@transaction.atomic
def credentials_issue(
    *, participant: Participant, by: User | None = None, reissue: bool = False
) -> Credentials:
    """A new access code (the old one stops working at once) and a personal link with its QR code."""
    if participant.erased_at is not None:
        raise DomainError("This participant's data was erased; no access can be issued.")
    now = timezone.now()
    AccessCode.objects.filter(participant=participant, revoked_at=None).update(revoked_at=now)
    if reissue:
        LinkToken.objects.filter(participant=participant, used_at=None).update(used_at=now)
        audit_record(
            action=AuditEntry.Action.CODE_REISSUED,
            actor=by,
            study=participant.study,
            participant=participant.pseudonym,
        )
    code = codes.new_access_code()
    AccessCode.objects.create(participant=participant, code_hash=_code_hash(code))
    link = link_issue(participant=participant)
    return Credentials(access_code=code, link=link, qr_svg=qr_svg(link), qr_png=qr_png_data_uri(link))


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)
    expires_at: datetime.datetime
    participant: Participant


def _token_issue(participant: Participant) -> IssuedToken:
    token = codes.new_secret_token()
    now = timezone.now()
    expires_at = now + datetime.timedelta(days=settings.PARTICIPANT_TOKEN_DAYS)
    # Issuing is a use (a code or link was just exchanged): token_authenticate then writes at most hourly.
    ParticipantToken.objects.create(
        participant=participant, token_hash=codes.token_digest(token), expires_at=expires_at, last_used_at=now
    )
    return IssuedToken(token=token, expires_at=expires_at, participant=participant)


_DENIED = "This code or link is not valid. Check it, or ask the study team for a new one."


@transaction.atomic
def access_exchange_code(*, typed_code: str) -> IssuedToken:
    code = codes.normalize_access_code(typed_code)
    if code is None:
        raise DomainError("An access code has 12 letters and digits, e.g. K7M3-9QXD-2F8H.", field="code")
    access = (
        AccessCode.objects.select_related("participant")
        .filter(code_hash=_code_hash(code), revoked_at=None, participant__erased_at=None)
        .first()
    )
    if access is None:
        raise AccessDenied(_DENIED)
    return _token_issue(access.participant)


@transaction.atomic
def access_exchange_link(*, token: str) -> IssuedToken:
    if not token or len(token) > 128:
        raise DomainError("The link token is missing or malformed.", field="token")
    now = timezone.now()
    link = (
        LinkToken.objects.select_for_update()
        .select_related("participant")
        .filter(token_hash=_link_hash(token), used_at=None, expires_at__gt=now, participant__erased_at=None)
        .first()
    )
    if link is None:
        raise AccessDenied(_DENIED)
    link.used_at = now
    link.save(update_fields=["used_at"])
    return _token_issue(link.participant)


LAST_USED_GRANULARITY = datetime.timedelta(hours=1)  # last_used_at is rewritten at most this often


@functools.cache
def _token_sql(vendor: str) -> str:
    """The look-up of ``token_authenticate`` (``vendor`` keys the cache).

    Written out rather than built by the ORM: every participant request runs it, and the equivalent
    queryset (select_related, three filters and a join) cost 0.9 ms of CPU to build and compile, against
    0.25 ms for this. ``Manager.raw`` maps the participant's columns onto the model as the ORM would.
    """
    quote = connection.ops.quote_name
    tokens, participants = quote(ParticipantToken._meta.db_table), quote(Participant._meta.db_table)
    return (
        "SELECT p.*, t.id AS token_id, (t.last_used_at IS NULL OR t.last_used_at < %s) AS token_idle "  # noqa: S608 - table names from the models
        f"FROM {tokens} t JOIN {participants} p ON p.id = t.participant_id "
        "WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND p.erased_at IS NULL"
    )


def token_authenticate(token: str) -> ParticipantToken | None:
    """The live token (not revoked, not expired, its participant not erased) with its participant loaded;
    the token's other fields load on first access."""
    now, adapt = timezone.now(), connection.ops.adapt_datetimefield_value
    rows = list(
        Participant.objects.raw(
            _token_sql(connection.vendor),
            [adapt(now - LAST_USED_GRANULARITY), codes.token_digest(token), adapt(now)],
        )
    )
    if not rows:
        return None
    participant = rows[0]
    token_id, idle = vars(participant)["token_id"], vars(participant)["token_idle"]  # the extra columns
    found = ParticipantToken.from_db(connection.alias, ["id", "participant_id"], [token_id, participant.pk])
    found.participant = participant
    if idle:
        ParticipantToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found


@transaction.atomic
def token_refresh(*, current: ParticipantToken) -> IssuedToken:
    """A fresh token with a new expiry; the current one stops working."""
    updated = ParticipantToken.objects.filter(pk=current.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if updated != 1:
        raise AccessDenied("This token was already replaced or revoked.")
    return _token_issue(current.participant)


def tokens_revoke(*, participant: Participant, only: ParticipantToken | None = None) -> int:
    tokens = ParticipantToken.objects.filter(participant=participant, revoked_at=None)
    if only is not None:
        tokens = tokens.filter(pk=only.pk)
    return tokens.update(revoked_at=timezone.now())


def credentials_remove(*, participant: Participant) -> None:
    """Erasure: delete every credential the participant had."""
    AccessCode.objects.filter(participant=participant).delete()
    LinkToken.objects.filter(participant=participant).delete()
    ParticipantToken.objects.filter(Q(participant=participant)).delete()
