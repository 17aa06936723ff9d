from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import BasePermission

from backend.api import validated
from participants.authentication import ParticipantPrincipal
from surveys.serializers import ProblemOutput

__all__ = ["ERRORS", "IsParticipant", "IsStaffUser", "validated"]

ERRORS = {
    400: OpenApiResponse(ProblemOutput, description="Invalid input; says which field and why."),
    401: OpenApiResponse(ProblemOutput, description="Not authenticated."),
    403: OpenApiResponse(ProblemOutput, description="Not allowed for this role."),
    404: OpenApiResponse(ProblemOutput, description="Not found, or not yours to see."),
    409: OpenApiResponse(ProblemOutput, description="Conflicts with the current state."),
}


class IsStaffUser(BasePermission):
    """A Django user (staff, researcher, admin); participants' tokens do not pass."""

    message = "This endpoint is for study staff."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and not isinstance(request.user, ParticipantPrincipal)
        )


class IsParticipant(BasePermission):
    message = "This endpoint is for participants, with their Bearer token."

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, ParticipantPrincipal)
