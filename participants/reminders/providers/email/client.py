"""E-mail reminders through Django's configured e-mail backend (SMTP in production).

Each message gets a Message-ID derived from its idempotency key, ``<reminder-123@example.org>``, which is
also the reference we keep: a re-sent attempt carries the same id, so mail systems can spot duplicates.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import smtplib
from email.utils import parseaddr
from typing import Literal

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from participants.reminders.providers import (
    OutgoingMessage,
    PermanentProviderError,
    ProviderError,
    SendResult,
    TransientProviderError,
    redact,
)

# RFC 5322 dot-atom: what may stand left of the "@" in a Message-ID without quoting.
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def message_id_for(idempotency_key: str, *, domain: str) -> str:
    local = idempotency_key if _DOT_ATOM.match(idempotency_key) else _digest(idempotency_key)
    return f"<{local}@{domain}>"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _smtp_text(exc: smtplib.SMTPResponseException, message: OutgoingMessage) -> str:
    reply = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"email: SMTP {exc.smtp_code} {redact(reply, message=message)}"


def _provider_error(exc: Exception, message: OutgoingMessage, *, handed_over: bool) -> ProviderError:
    """Our error for what smtplib or Django raised; ``handed_over`` once the connection stood and sending began."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # Its text holds the address; only the reply codes go on. All-4xx refusals (greylisting) pass.
        codes = sorted({code for code, _reply in exc.recipients.values()})
        text = f"email: recipient refused (SMTP {', '.join(map(str, codes))})"
        if all(400 <= code < 500 for code in codes):
            return TransientProviderError(text)
        return PermanentProviderError(text)
    if isinstance(exc, smtplib.SMTPResponseException):  # an explicit refusal: nothing was accepted
        if 400 <= exc.smtp_code < 500:
            return TransientProviderError(_smtp_text(exc, message))
        return PermanentProviderError(_smtp_text(exc, message))
    if isinstance(exc, smtplib.SMTPServerDisconnected):  # also what smtplib makes of a read timeout
        text = f"email: SMTP server disconnected ({redact(str(exc), message=message)})"
        return TransientProviderError(text, may_have_been_sent=handed_over)
    if isinstance(exc, smtplib.SMTPException):
        # The rest (no STARTTLS, no suitable auth method, ...) is configuration: retrying will not help.
        return PermanentProviderError(f"email: {type(exc).__name__}")
    if isinstance(exc, ConnectionRefusedError):
        return TransientProviderError("email: SMTP connection refused")
    if isinstance(exc, OSError):  # timeouts, resets, DNS
        text = f"email: SMTP connection failed ({type(exc).__name__})"
        return TransientProviderError(text, may_have_been_sent=handed_over)
    return PermanentProviderError("email: invalid address or header")  # Django's BadHeaderError and kin


class EmailProvider:
    name = "email"
    channel: Literal["sms", "email"] = "email"

    def __init__(self, *, from_email: str, message_id_domain: str, timeout: float) -> None:
        self.from_email = from_email
        self.message_id_domain = message_id_domain
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> EmailProvider:
        from_email: str = settings.DEFAULT_FROM_EMAIL
        domain = parseaddr(from_email)[1].rpartition("@")[2] or "panel"
        # Django's SMTP backend waits forever without a timeout; EMAIL_TIMEOUT wins when it is set.
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or settings.PROVIDER_TIMEOUT_SECONDS
        return cls(from_email=from_email, message_id_domain=domain, timeout=timeout)

    def send(self, message: OutgoingMessage) -> SendResult:
        message_id = message_id_for(message.idempotency_key, domain=self.message_id_domain)
        connection = get_connection(fail_silently=False, timeout=self.timeout)
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=self.from_email,
            to=[message.to],
            headers={"Message-ID": message_id},
            connection=connection,
        )
        # Connecting apart from sending tells "never handed over" (safe to retry) from "maybe delivered".
        handed_over = False
        try:
            connection.open()
            handed_over = True
            sent = email.send()
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            # "from None": smtplib's texts carry the addresses
            raise _provider_error(exc, message, handed_over=handed_over) from None
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.close()
        if sent != 1:
            raise PermanentProviderError("email: the backend sent nothing")
        return SendResult(provider=self.name, reference=message_id, status="sent")
