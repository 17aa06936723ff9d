"""Who is due, overdue or unreachable (field staff, own sites), and response rates (staff and researchers)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import DomainError
from participants import selectors
from participants.models import Participant
from participants.reminders.followup import follow_up, retention
from participants.views.common import ERRORS, IsStaffUser


class FollowUpOutput(serializers.Serializer):  # type: ignore[type-arg]
    pseudonym = serializers.CharField()
    cohort = serializers.CharField()
    wave = serializers.CharField()
    status = serializers.CharField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=["due", "overdue", "unreachable"])
    failed_reminders = serializers.IntegerField()


class RetentionOutput(serializers.Serializer):  # type: ignore[type-arg]
    wave = serializers.CharField()
    group = serializers.CharField()
    scheduled = serializers.IntegerField()
    invited = serializers.IntegerField()
    completed = serializers.IntegerField()
    missed = serializers.IntegerField()
    withdrawn = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)


BY = OpenApiParameter(
    "by", str, enum=["wave", "cohort", "site", "municipality"], description="Grouping besides the wave."
)


def _grouping(request: Request) -> str:
    by = request.query_params.get("by", "wave")
    if by not in ("wave", "cohort", "site", "municipality"):
        raise DomainError("'by' must be one of wave, cohort, site, municipality.", field="by")
    return by


class SiteFollowUpApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses={200: FollowUpOutput(many=True), **ERRORS}, tags=["field staff"])
    def get(self, request: Request, site_id: int) -> Response:
        """Participants of your site with an open wave: due, overdue or unreachable."""
        site = selectors.get_site_for(request.user, site_id)
        rows = follow_up(participants=Participant.objects.filter(site=site), now=timezone.now())
        return Response(FollowUpOutput(rows, many=True).data)


class SiteRetentionApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        parameters=[BY], responses={200: RetentionOutput(many=True), **ERRORS}, tags=["field staff"]
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = selectors.get_site_for(request.user, site_id)
        rows = retention(
            participants=Participant.objects.filter(site=site), by=_grouping(request), now=timezone.now()
        )
        return Response(RetentionOutput(rows, many=True).data)


class StudyRetentionApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(parameters=[BY], responses={200: RetentionOutput(many=True), **ERRORS}, tags=["research"])
    def get(self, request: Request, study_id: int) -> Response:
        """Response rates per wave, as a retention table (counts only)."""
        participants = selectors.panel_for_researcher(request.user, study_id)
        rows = retention(participants=participants, by=_grouping(request), now=timezone.now())
        return Response(RetentionOutput(rows, many=True).data)
