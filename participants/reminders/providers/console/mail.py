"""E-mail to the log, for local runs (``make run``): Django's console backend would print every message
whole, address and personal link included. This one logs one masked line per message instead:
"E-mail to a***@e***.org: <first 20 characters of the subject>…"."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from participants.reminders.providers.console.client import preview

logger = logging.getLogger("participants.reminders.console")


def mask_email(address: str) -> str:
    """The first character of the mailbox and of the domain, and the top-level domain; the rest is stars."""
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        return "***"
    name, _, top = domain.rpartition(".")
    shown_domain = f"{name[:1]}***.{top}" if name else "***"
    return f"{local[:1]}***@{shown_domain}"


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            logger.info(
                "E-mail to %s: %s",
                ", ".join(mask_email(address) for address in recipients),
                preview(str(message.subject)),
            )
            sent += 1
        return sent
