"""SMS to the log, for local runs: "SMS to +46******67: <first 20 characters>…", never the whole of either."""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from participants.reminders.providers import OutgoingMessage, SendResult

logger = logging.getLogger("participants.reminders.console")

_PREVIEW_CHARS = 20


def mask_number(number: str) -> str:
    """The country code and the last two digits; a fixed run of stars hides the length too."""
    if len(number) <= 5:
        return "*" * 6
    return f"{number[:3]}******{number[-2:]}"


def preview(body: str) -> str:
    return body if len(body) <= _PREVIEW_CHARS else f"{body[:_PREVIEW_CHARS]}…"


class ConsoleSmsProvider:
    name = "console"
    channel: Literal["sms", "email"] = "sms"

    def send(self, message: OutgoingMessage) -> SendResult:
        logger.info("SMS to %s: %s", mask_number(message.to), preview(message.body))
        return SendResult(provider=self.name, reference=f"console-{uuid.uuid4()}", status="sent")
