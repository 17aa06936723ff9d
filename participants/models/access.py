"""How participants reach the survey without passwords: access codes, one-time links and API tokens.

Only hashes are stored. Access codes and link tokens are looked up by a keyed HMAC (they carry enough
entropy that a slow hash adds nothing, and the key keeps a stolen table from being checked offline);
API tokens by SHA-256.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from participants.models.register import Participant


class AccessCode(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="access_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant"], condition=Q(revoked_at__isnull=True), name="one_live_access_code"
            ),
        ]

    def __str__(self) -> str:
        return f"access code of {self.participant_id}"


class LinkToken(models.Model):
    """The secret of a personal link; exchanged once for an API token."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="link_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link token of {self.participant_id}"


class ParticipantToken(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token of {self.participant_id}"
