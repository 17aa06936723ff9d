"""Study admins (audit log) and researchers (the pseudonymous panel: design variables, no contacts)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from participants import selectors
from participants.models import AuditEntry, Intervention, Participant, Residence
from participants.views.common import ERRORS, IsStaffUser


class AuditOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "action",
            "actor",
            "actor_participant",
            "participant",
            "details",
            "previous_hash",
            "entry_hash",
        ]


class AuditPagination(CursorPagination):
    ordering = "-id"
    page_size = 100


class AuditLogApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        parameters=[OpenApiParameter("participant", str, description="Only entries about this pseudonym.")],
        responses={200: AuditOutput(many=True), **ERRORS},
        tags=["study admin"],
    )
    def get(self, request: Request, study_id: int) -> Response:
        """The study's audit log, newest first (study admins only; nobody can edit it)."""
        study = selectors.get_study_for_admin(request.user, study_id)
        entries = AuditEntry.objects.filter(study=study).select_related("actor")
        if request.query_params.get("participant"):
            entries = entries.filter(participant=request.query_params["participant"][:9])
        paginator = AuditPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditOutput(page, many=True).data)


class ResidenceOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    municipality = serializers.CharField(source="municipality.code")

    class Meta:
        model = Residence
        fields = ["municipality", "moved_in_on"]


class InterventionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    type = serializers.CharField(source="type.code")

    class Meta:
        model = Intervention
        fields = ["type", "started_on", "ended_on", "source"]


class PanelOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    site = serializers.CharField(source="site.code")
    cohort = serializers.SlugRelatedField(slug_field="code", read_only=True)
    gender = serializers.SlugRelatedField(slug_field="code", read_only=True)
    residences = ResidenceOutput(many=True, read_only=True)
    interventions = InterventionOutput(many=True, read_only=True)

    class Meta:
        model = Participant
        fields = [
            "pseudonym", "site", "cohort", "preferred_language", "country_of_origin", "country_of_departure",
            "birth_year", "gender", "enrolled_on", "planned_departure_on", "arrived_on", "status", "residences",
            "interventions",
        ]  # fmt: skip


class PanelPagination(CursorPagination):
    ordering = "pseudonym"
    page_size = 500


class PanelApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses={200: PanelOutput(many=True), **ERRORS}, tags=["research"])
    def get(self, request: Request, study_id: int) -> Response:
        """Design variables of the panel (pseudonyms only: no names, numbers or codes)."""
        participants = selectors.panel_for_researcher(request.user, study_id)
        paginator = PanelPagination()
        page = paginator.paginate_queryset(participants, request, view=self)
        return paginator.get_paginated_response(PanelOutput(page, many=True).data)
