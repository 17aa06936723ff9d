"""Participants authenticate with ``Authorization: Bearer <token>``, a token from a code or a link."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from participants.models import Participant, ParticipantToken
from participants.services.access import token_authenticate


class ParticipantPrincipal:
    """``request.user`` for a participant: authenticated, but no Django user and no permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, token: ParticipantToken) -> None:
        self.token = token
        self.participant: Participant = token.participant

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def __str__(self) -> str:
        return f"participant {self.participant.pseudonym}"


class ParticipantTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ParticipantPrincipal, ParticipantToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2 or len(parts[1]) > 128:
            raise AuthenticationFailed("Malformed Bearer token header.")
        token = token_authenticate(parts[1].decode("ascii", errors="replace"))
        if token is None:
            raise AuthenticationFailed("This token is not valid (expired, replaced or revoked).")
        return ParticipantPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="participant"'


def participant_of(user: Any) -> Participant | None:
    return user.participant if isinstance(user, ParticipantPrincipal) else None
