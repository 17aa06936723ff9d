"""Password login for staff (API and admin) with lockout after repeated failures."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from participants.models import StaffLoginState


def is_locked(user: User) -> bool:
    state = StaffLoginState.objects.filter(user=user).first()
    return bool(state and state.locked_until and state.locked_until > timezone.now())


def _record_failure(user: User) -> None:
    StaffLoginState.objects.get_or_create(user=user)
    # One conditional UPDATE: concurrent failures all count, none is lost.
    StaffLoginState.objects.filter(user=user).update(failed_attempts=F("failed_attempts") + 1)
    lock_until = timezone.now() + datetime.timedelta(minutes=settings.STAFF_LOCKOUT_MINUTES)
    StaffLoginState.objects.filter(user=user, failed_attempts__gte=settings.STAFF_LOCKOUT_ATTEMPTS).update(
        locked_until=lock_until, failed_attempts=0
    )


class LockoutModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = User.objects.filter(username=username).first() if username else None
        if user is not None and is_locked(user):
            return None
        authenticated = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            if authenticated is None:
                _record_failure(user)
            else:
                StaffLoginState.objects.filter(user=user).update(failed_attempts=0, locked_until=None)
        return authenticated
