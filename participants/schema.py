"""OpenAPI description of the participant Bearer token (imported by the app config)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ParticipantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "participants.authentication.ParticipantTokenAuthentication"
    name = "participantToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Token from an access code or personal link.",
        }
