"""Contact details, encrypted at rest with the server key ring (see participants.keys).

Every ``*_encrypted`` column holds a key-ring token whose associated data binds it to the participant's
pseudonym and the column, so a value copied onto another row does not decrypt. Exact lookups go through
keyed HMAC blind indexes; nothing here is readable from a database dump.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from participants.models.register import Participant
from surveys.models import Study


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "E-mail"
    WHATSAPP = "whatsapp", "WhatsApp"


class ContactProfile(models.Model):
    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="contact")
    name_encrypted = models.TextField(blank=True, default="")
    email_encrypted = models.TextField(blank=True, default="")
    email_blind_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    preferred_channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.SMS)
    whatsapp_opt_in = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"contact of {self.participant_id}"


class PhoneNumber(models.Model):
    """A number the participant used from ``valid_from``; the newest confirmed one is used for messages."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="phone_numbers")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    number_encrypted = models.TextField()
    blind_index = models.CharField(max_length=64)
    valid_from = models.DateField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "-valid_from", "-pk"]
        constraints = [
            # The same number cannot belong to two current participants of a study.
            models.UniqueConstraint(
                fields=["study", "blind_index"],
                condition=Q(retired_at__isnull=True),
                name="unique_current_phone",
            ),
        ]
        indexes = [models.Index(fields=["blind_index"])]

    def __str__(self) -> str:
        return f"phone of {self.participant_id} from {self.valid_from}"
