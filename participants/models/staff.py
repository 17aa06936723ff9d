from __future__ import annotations

from django.conf import settings
from django.db import models


class StaffLoginState(models.Model):
    """Failed password attempts of a staff account, for lockout after repeated failures."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_state"
    )
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login state of {self.user_id}"
