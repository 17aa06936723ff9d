"""Writing and verifying the append-only, hash-chained audit log.

Each entry's hash is a keyed HMAC (from the server key ring) over the previous entry's hash and the
entry's own canonical content, so editing, deleting or reordering entries breaks the chain, and someone
holding only the database cannot forge a consistent one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from participants.keys import keyring
from participants.models import AuditEntry
from surveys.models import Study

GENESIS = "0" * 64
_LOCK_ID = 0x6175646974  # "audit": serialises writers so the chain stays linear


def _content(
    *, at: datetime, action: str, actor_id: int | None, actor_participant: str, study_id: int | None,
    participant: str, details: dict[str, Any],
) -> str:  # fmt: skip
    return json.dumps(
        [at.isoformat(), action, actor_id, actor_participant, study_id, participant, details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )


def _chain_hash(previous_hash: str, content: str) -> str:
    return keyring().blind_index(previous_hash + content, purpose="audit-chain")


@transaction.atomic
def audit_record(
    *,
    action: str,
    actor: User | None = None,
    actor_participant: str = "",
    study: Study | None = None,
    participant: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. ``details`` must hold no personal data: ids, field names, counts."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
    last = AuditEntry.objects.order_by("-pk").values_list("entry_hash", flat=True).first()
    previous_hash = last or GENESIS
    at = timezone.now()
    details = details or {}
    entry = AuditEntry(
        at=at,
        action=action,
        actor=actor,
        actor_participant=actor_participant,
        study=study,
        participant=participant,
        details=details,
        previous_hash=previous_hash,
    )
    entry.entry_hash = _chain_hash(
        previous_hash,
        _content(
            at=at, action=action, actor_id=actor.pk if actor else None, actor_participant=actor_participant,
            study_id=study.pk if study else None, participant=participant, details=details,
        ),
    )  # fmt: skip
    entry.save()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries_checked: int
    first_broken_id: int | None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def _entries(batch_size: int = 2000) -> Iterator[AuditEntry]:
    return AuditEntry.objects.order_by("pk").iterator(chunk_size=batch_size)


def audit_verify() -> ChainReport:
    """Walk the chain in order; name the first entry whose hash or link does not hold."""
    previous_hash = GENESIS
    checked = 0
    for entry in _entries():
        checked += 1
        if entry.previous_hash != previous_hash:
            return ChainReport(checked, entry.pk, "its link to the previous entry is broken (entry removed?)")
        expected = _chain_hash(
            previous_hash,
            _content(
                at=entry.at, action=entry.action, actor_id=entry.actor_id,
                actor_participant=entry.actor_participant, study_id=entry.study_id,
                participant=entry.participant, details=entry.details,
            ),
        )  # fmt: skip
        if expected != entry.entry_hash:
            return ChainReport(checked, entry.pk, "its content does not match its hash (entry edited?)")
        previous_hash = entry.entry_hash
    return ChainReport(checked, None)
