"""Field staff: enroll at their own sites, record consent, keep contact details and history current."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import DomainError
from participants import selectors
from participants.models import (
    Channel,
    Intervention,
    Participant,
    Site,
    Withdrawal,
)
from participants.serializers import ConsentInput, EnrollInput, enroll_kwargs
from participants.services import access, contacts, register
from participants.services.bulk import enroll_from_csv
from participants.views.common import ERRORS, IsStaffUser, validated
from translations import registry


class SiteOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Site
        fields = ["id", "study", "code", "name", "country", "time_zone"]


class ParticipantOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    cohort = serializers.SlugRelatedField(slug_field="code", read_only=True)
    gender = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Participant
        fields = [
            "pseudonym", "study", "site", "cohort", "preferred_language", "country_of_origin",
            "country_of_departure", "birth_year", "gender", "enrolled_on", "planned_departure_on", "arrived_on",
            "status", "contact_stopped_at", "erased_at",
        ]  # fmt: skip


class CredentialsOutput(serializers.Serializer):  # type: ignore[type-arg]
    access_code = serializers.CharField(help_text="Shown once; only a hash is stored.")
    link = serializers.CharField(help_text="Personal link with a one-time token (shown once).")
    qr_svg = serializers.CharField(help_text="QR code of the personal link, as SVG.")
    qr_png = serializers.CharField(
        help_text="The same QR code as a PNG data URI (data:image/png;base64,...)."
    )


class EnrollOutput(serializers.Serializer):  # type: ignore[type-arg]
    participant = ParticipantOutput()
    credentials = CredentialsOutput(allow_null=True)
    created = serializers.BooleanField()


class SiteListApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses=SiteOutput(many=True), tags=["field staff"])
    def get(self, request: Request) -> Response:
        """The sites you work at."""
        return Response(SiteOutput(selectors.sites_for_staff(request.user), many=True).data)


class SiteParticipantsApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses={200: ParticipantOutput(many=True), **ERRORS}, tags=["field staff"])
    def get(self, request: Request, site_id: int) -> Response:
        site = selectors.get_site_for(request.user, site_id)
        return Response(
            ParticipantOutput(site.participants.select_related("site", "cohort", "gender"), many=True).data
        )

    @extend_schema(
        request=EnrollInput, responses={201: EnrollOutput, 200: EnrollOutput, **ERRORS}, tags=["field staff"]
    )
    def post(self, request: Request, site_id: int) -> Response:
        """Enroll one participant with consent; returns the access code, link and QR once."""
        site = selectors.get_site_for(request.user, site_id)
        result = register.participant_enroll(
            site=site, by=request.user, **enroll_kwargs(validated(EnrollInput, request.data))
        )
        body = {
            "participant": result.participant,
            "credentials": result.credentials,
            "created": result.created,
        }
        return Response(
            EnrollOutput(body).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


class RowErrorOutput(serializers.Serializer):  # type: ignore[type-arg]
    row = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()


class BulkOutput(serializers.Serializer):  # type: ignore[type-arg]
    enrolled = serializers.IntegerField()
    participants = serializers.ListField(child=serializers.DictField())


class BulkEnrollApi(APIView):
    permission_classes = [IsStaffUser]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: BulkOutput, 400: RowErrorOutput(many=True), **ERRORS},
        tags=["field staff"],
    )
    def post(self, request: Request, site_id: int) -> Response:
        """Enroll a cohort from CSV: every row is checked; any error saves nothing and lists each row's errors."""
        site = selectors.get_site_for(request.user, site_id)
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Attach the CSV file as 'file'.", field="file")
        if upload.size > 5 * 1024 * 1024:
            raise DomainError("The CSV file is larger than 5 MB.", field="file")
        outcome = enroll_from_csv(site=site, by=request.user, data=upload.read())
        if outcome.errors:
            return Response(
                {"detail": f"{len(outcome.errors)} problems; nothing was saved.", "code": "invalid_rows",
                 "errors": [error.__dict__ for error in outcome.errors]},
                status=status.HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        return Response({"enrolled": len(outcome.enrolled), "participants": outcome.enrolled}, status=201)


class ParticipantUpdateInput(serializers.Serializer):  # type: ignore[type-arg]
    preferred_language = serializers.ChoiceField(choices=registry.CODES, required=False)
    planned_departure_on = serializers.DateField(required=False, allow_null=True)
    arrived_on = serializers.DateField(required=False, allow_null=True)
    cohort = serializers.SlugField(required=False, allow_null=True)
    gender = serializers.SlugField(required=False, allow_null=True)
    birth_year = serializers.IntegerField(min_value=1900, max_value=2100, required=False)
    country_of_origin = serializers.CharField(min_length=2, max_length=2, required=False)
    country_of_departure = serializers.CharField(min_length=2, max_length=2, required=False)
    status = serializers.ChoiceField(
        choices=[Participant.Status.ACTIVE, Participant.Status.LOST, Participant.Status.COMPLETED],
        required=False,
    )


class ParticipantDetailApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses={200: ParticipantOutput, **ERRORS}, tags=["field staff"])
    def get(self, request: Request, pseudonym: str) -> Response:
        return Response(ParticipantOutput(selectors.get_participant_for_staff(request.user, pseudonym)).data)

    @extend_schema(
        request=ParticipantUpdateInput, responses={200: ParticipantOutput, **ERRORS}, tags=["field staff"]
    )
    def patch(self, request: Request, pseudonym: str) -> Response:
        """Change dates (e.g. the arrival date), cohort, language or follow-up status."""
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        changes = validated(ParticipantUpdateInput, request.data)
        new_status = changes.pop("status", None)
        with transaction.atomic():  # all or nothing: a refused status change keeps the other changes out
            if changes:
                participant = register.participant_update(participant=participant, by=request.user, **changes)
            if new_status:
                participant = register.participant_set_status(
                    participant=participant, status=new_status, by=request.user
                )
        return Response(ParticipantOutput(participant).data)


class PhoneOutput(serializers.Serializer):  # type: ignore[type-arg]
    number = serializers.CharField()
    valid_from = serializers.DateField()
    confirmed = serializers.BooleanField()
    current = serializers.BooleanField()


class ContactOutput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField(help_text="The number messages go to: the newest confirmed one.")
    preferred_channel = serializers.CharField()
    whatsapp_opt_in = serializers.BooleanField()
    phones = PhoneOutput(many=True)


class ContactUpdateInput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    preferred_channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    whatsapp_opt_in = serializers.BooleanField(required=False)
    phone = serializers.CharField(
        max_length=40, required=False, help_text="A new number; earlier ones stay in the history."
    )
    phone_valid_from = serializers.DateField(required=False)


@transaction.atomic  # a refused e-mail address does not leave the new phone number behind
def contact_update(*, participant: Participant, data: dict[str, Any], by: Any, by_participant: bool) -> None:
    phone = data.pop("phone", None)
    valid_from = data.pop("phone_valid_from", None)
    if phone:
        contacts.phone_add(
            participant=participant, phone=phone, valid_from=valid_from, by=by, by_participant=by_participant
        )
        data.setdefault("preferred_channel", None)
    contacts.contact_set(participant=participant, by=by, by_participant=by_participant, **data)


class ContactApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses={200: ContactOutput, **ERRORS}, tags=["field staff"])
    def get(self, request: Request, pseudonym: str) -> Response:
        """Contact details (decrypted; this view is recorded in the audit log)."""
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        details = contacts.contact_view(participant=participant, by=request.user)
        return Response(ContactOutput(details).data)

    @extend_schema(request=ContactUpdateInput, responses={204: None, **ERRORS}, tags=["field staff"])
    def patch(self, request: Request, pseudonym: str) -> Response:
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        contact_update(
            participant=participant,
            data=validated(ContactUpdateInput, request.data),
            by=request.user,
            by_participant=False,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResidenceInput(serializers.Serializer):  # type: ignore[type-arg]
    municipality = serializers.RegexField(
        r"^\d{4}$", help_text="SCB municipality code, e.g. 0180 (Stockholm)."
    )
    moved_in_on = serializers.DateField()


class ResidenceApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(request=ResidenceInput, responses={201: ResidenceInput, **ERRORS}, tags=["field staff"])
    def post(self, request: Request, pseudonym: str) -> Response:
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        data = validated(ResidenceInput, request.data)
        register.residence_record(
            participant=participant,
            municipality_code=data["municipality"],
            moved_in_on=data["moved_in_on"],
            by=request.user,
        )
        return Response(ResidenceInput(data).data, status=status.HTTP_201_CREATED)


class InterventionInput(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.SlugField()
    started_on = serializers.DateField()
    ended_on = serializers.DateField(required=False, allow_null=True)


class InterventionApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        request=InterventionInput, responses={201: InterventionInput, **ERRORS}, tags=["field staff"]
    )
    def post(self, request: Request, pseudonym: str) -> Response:
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        data = validated(InterventionInput, request.data)
        register.intervention_record(
            participant=participant, type_code=data["type"], started_on=data["started_on"],
            ended_on=data.get("ended_on"), source=Intervention.Source.STAFF,
        )  # fmt: skip
        return Response(InterventionInput(data).data, status=status.HTTP_201_CREATED)


class ConsentApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(request=ConsentInput, responses={201: None, **ERRORS}, tags=["field staff"])
    def post(self, request: Request, pseudonym: str) -> Response:
        """Record consent to a (new) consent text version."""
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        consent = register.ConsentInput(**validated(ConsentInput, request.data))
        register.consent_record(participant=participant, consent=consent, by=request.user)
        return Response(status=status.HTTP_201_CREATED)


class WithdrawInput(serializers.Serializer):  # type: ignore[type-arg]
    scope = serializers.ChoiceField(choices=Withdrawal.Scope.choices)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class WithdrawApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(request=WithdrawInput, responses={200: ParticipantOutput, **ERRORS}, tags=["field staff"])
    def post(self, request: Request, pseudonym: str) -> Response:
        """Record a withdrawal: all contact stops at once; scope "erase" also erases the data."""
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        data = validated(WithdrawInput, request.data)
        register.participant_withdraw(participant=participant, by=request.user, **data)
        participant.refresh_from_db()
        return Response(ParticipantOutput(participant).data)


class ReissueApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(request=None, responses={201: CredentialsOutput, **ERRORS}, tags=["field staff"])
    def post(self, request: Request, pseudonym: str) -> Response:
        """A new access code, link and QR; the old code and unused links stop working at once."""
        participant = selectors.get_participant_for_staff(request.user, pseudonym)
        credentials = access.credentials_issue(participant=participant, by=request.user, reissue=True)
        return Response(CredentialsOutput(credentials).data, status=status.HTTP_201_CREATED)
