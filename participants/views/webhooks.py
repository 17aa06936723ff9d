"""Delivery reports from SMS providers. Authenticated (46elks: a secret in the URL; Twilio: its signature);
a forged or malformed callback is refused and changes nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from participants.reminders import providers
from participants.reminders.providers.elks46.webhook import parse_delivery_report
from participants.reminders.providers.twilio.webhook import parse_status_callback
from participants.reminders.services import delivery_report

RESPONSES = {
    204: OpenApiResponse(description="Report recorded."),
    400: OpenApiResponse(description="Malformed report."),
    403: OpenApiResponse(description="Not from the provider (bad secret or signature)."),
}


class _WebhookApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    parser_classes = [FormParser]
    throttle_classes: list[type] = []

    def record(self, report: providers.DeliveryReport, reminder_id: int) -> Response:
        delivery_report(
            reminder_id=reminder_id, reference=report.reference, status=report.status, now=timezone.now()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class Elks46WebhookApi(_WebhookApi):
    @extend_schema(request=None, responses=RESPONSES, tags=["webhooks"])
    def post(self, request: Request, reminder_id: int) -> Response:
        """46elks delivery report (``whendelivered``)."""
        query = request.query_params.dict()
        try:
            report = parse_delivery_report(query=query, form=request.data.dict())
            if query.get("attempt") != f"reminder-{reminder_id}":
                # The token vouches for one reminder; it cannot be replayed against another.
                raise providers.ForgedCallback("token of another reminder")
        except (providers.ForgedCallback, ImproperlyConfigured):
            # Without the provider's secret configured nothing can be verified: refuse, never trust.
            return Response({"detail": "Forbidden."}, status=status.HTTP_403_FORBIDDEN)
        except providers.MalformedCallback as error:
            return Response({"detail": str(error)[:200]}, status=status.HTTP_400_BAD_REQUEST)
        return self.record(report, reminder_id)


class TwilioWebhookApi(_WebhookApi):
    @extend_schema(request=None, responses=RESPONSES, tags=["webhooks"])
    def post(self, request: Request, reminder_id: int) -> Response:
        """Twilio status callback, checked against X-Twilio-Signature."""
        try:
            report = parse_status_callback(
                # The URL Twilio signed: our public address, not what a proxy in front of us forwarded.
                url=settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path(),
                form=request.data.dict(),
                signature=request.headers.get("X-Twilio-Signature", ""),
            )
        except (providers.ForgedCallback, ImproperlyConfigured):
            # Without the provider's secret configured nothing can be verified: refuse, never trust.
            return Response({"detail": "Forbidden."}, status=status.HTTP_403_FORBIDDEN)
        except providers.MalformedCallback as error:
            return Response({"detail": str(error)[:200]}, status=status.HTTP_400_BAD_REQUEST)
        return self.record(report, reminder_id)
