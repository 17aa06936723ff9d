"""Participants on their phones: get in with a code or link, see and change their own details, withdraw."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import NotFound
from participants.models import ConsentText, Withdrawal
from participants.responses.services import (
    NO_KEY,
    NoStudyKey,
    answering_version,
    started_versions,
    study_has_key,
)
from participants.services import access, contacts, register
from participants.throttles import AccessCodeGlobalThrottle, AccessCodeThrottle
from participants.views.common import ERRORS, IsParticipant, validated
from participants.views.staff import ContactOutput, ContactUpdateInput, contact_update
from surveys.models import Wave
from surveys.payload import questionnaire_response
from translations import registry
from translations.content import text_along, text_of


class TokenOutput(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'.")
    expires_at = serializers.DateTimeField()
    pseudonym = serializers.CharField(source="participant.pseudonym")
    preferred_language = serializers.CharField(source="participant.preferred_language")


class CodeInput(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(
        max_length=64, help_text="e.g. K7M3-9QXD-2F8H; case, spaces and dashes are forgiven."
    )


class LinkInput(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField(max_length=128)


class _AccessApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [AccessCodeThrottle, AccessCodeGlobalThrottle]
    throttle_scope = "access_code"


class CodeExchangeApi(_AccessApi):
    @extend_schema(request=CodeInput, responses={200: TokenOutput, **ERRORS}, tags=["participant"])
    def post(self, request: Request) -> Response:
        """Exchange an access code for a participant API token (throttled per address and globally)."""
        issued = access.access_exchange_code(typed_code=validated(CodeInput, request.data)["code"])
        return Response(TokenOutput(issued).data)


class LinkExchangeApi(_AccessApi):
    @extend_schema(request=LinkInput, responses={200: TokenOutput, **ERRORS}, tags=["participant"])
    def post(self, request: Request) -> Response:
        """Exchange the one-time token of a personal link (or QR code) for a participant API token."""
        issued = access.access_exchange_link(token=validated(LinkInput, request.data)["token"])
        return Response(TokenOutput(issued).data)


class TokenRefreshApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(request=None, responses={200: TokenOutput, **ERRORS}, tags=["participant"])
    def post(self, request: Request) -> Response:
        """A fresh token with a new expiry; the one used for this call stops working."""
        return Response(TokenOutput(access.token_refresh(current=request.user.token)).data)


class LogoutApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(request=None, responses={204: None}, tags=["participant"])
    def post(self, request: Request) -> Response:
        access.tokens_revoke(participant=request.user.participant, only=request.user.token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeOutput(serializers.Serializer):  # type: ignore[type-arg]
    pseudonym = serializers.CharField()
    preferred_language = serializers.CharField()
    status = serializers.CharField()
    study = serializers.CharField(source="study.slug")


class MeUpdateInput(ContactUpdateInput):
    preferred_language = serializers.ChoiceField(choices=registry.CODES, required=False)


class MeApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={200: MeOutput, **ERRORS}, tags=["participant"])
    def get(self, request: Request) -> Response:
        return Response(MeOutput(request.user.participant).data)

    @extend_schema(request=MeUpdateInput, responses={200: MeOutput, **ERRORS}, tags=["participant"])
    def patch(self, request: Request) -> Response:
        """Change your language or contact details (e.g. your new Swedish number)."""
        participant = request.user.participant
        data = validated(MeUpdateInput, request.data)
        language = data.pop("preferred_language", None)
        # All of it or nothing: a refused e-mail address keeps the new language out.
        with transaction.atomic():
            if language:
                participant = register.participant_update(
                    participant=participant, by=None, preferred_language=language
                )
            if data:
                contact_update(participant=participant, data=data, by=None, by_participant=True)
        return Response(MeOutput(participant).data)


class MyContactApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={200: ContactOutput, **ERRORS}, tags=["participant"])
    def get(self, request: Request) -> Response:
        """Your own contact details, as the study holds them."""
        participant = request.user.participant
        return Response(
            ContactOutput(contacts.contact_view(participant=participant, by_participant=True)).data
        )


class ConsentTextOutput(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField()
    language = serializers.CharField()
    dir = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()


class MyConsentApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={200: ConsentTextOutput, **ERRORS}, tags=["participant"])
    def get(self, request: Request) -> Response:
        """The consent you gave, in your language (or its fallback)."""
        participant = request.user.participant
        record = participant.consents.select_related("consent_text__study").order_by("-given_at").first()
        text: ConsentText | None = record.consent_text if record else None
        if text is None:
            return Response({"detail": "No consent on record.", "code": "not_found"}, status=404)
        study = text.study
        chain = registry.fallback_chain(
            participant.preferred_language, available=study.languages, source=study.source_language
        )
        language = text_along(text, "body", chain)[0] or study.source_language
        return Response(
            ConsentTextOutput(
                {"version": text.version, "language": language, "dir": registry.get(language).direction,
                 "title": text_of(text, "title", language), "body": text_of(text, "body", language)}
            ).data
        )  # fmt: skip


class MyWithdrawInput(serializers.Serializer):  # type: ignore[type-arg]
    scope = serializers.ChoiceField(choices=Withdrawal.Scope.choices)


class MyWithdrawApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(request=MyWithdrawInput, responses={204: None, **ERRORS}, tags=["participant"])
    def post(self, request: Request) -> Response:
        """Leave the study: stop all contact, or also erase your data. Takes effect at once."""
        scope = validated(MyWithdrawInput, request.data)["scope"]
        register.participant_withdraw(participant=request.user.participant, scope=scope, by_participant=True)
        access.tokens_revoke(participant=request.user.participant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyWaveOutput(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    name = serializers.CharField()
    questionnaire_version = serializers.IntegerField(source="questionnaire_version_id", allow_null=True)


class MyWavesApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={200: MyWaveOutput(many=True), **ERRORS}, tags=["participant"])
    def get(self, request: Request) -> Response:
        """The waves of your study, named in your language."""
        participant = request.user.participant
        study = participant.study
        chain = registry.fallback_chain(
            participant.preferred_language, available=study.languages, source=study.source_language
        )
        # A wave you started answering goes on with the version you started it on (as its questionnaire does).
        started = started_versions(participant)
        waves = [
            {"key": wave.key, "name": text_along(wave, "name", chain)[1],
             "questionnaire_version_id": started.get(wave.pk, wave.questionnaire_version_id)}
            for wave in study.waves.order_by("position")
        ]  # fmt: skip
        return Response(MyWaveOutput(waves, many=True).data)


class MyQuestionnaireApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(
        parameters=[OpenApiParameter("lang", str, description="Override your preferred language.")],
        responses={200: OpenApiResponse(description="The questionnaire in one language (gzip, strong ETag)."),
                   304: OpenApiResponse(description="Not modified."), **ERRORS},
        tags=["participant"],
    )  # fmt: skip
    def get(self, request: Request, wave_key: str) -> HttpResponse:
        """The questionnaire of one of your waves, in your language, as compact as it gets: the version your
        answers to the wave were started on, else the wave's current one."""
        participant = request.user.participant
        wave = (
            Wave.objects.select_related("questionnaire_version__questionnaire__study")
            .filter(study_id=participant.study_id, key=wave_key)
            .first()
        )
        version = None if wave is None else answering_version(participant=participant, wave=wave)
        if version is None:
            raise NotFound(f"Your study has no wave '{wave_key[:64]}' with a questionnaire.")
        if not study_has_key(participant.study_id):
            raise NoStudyKey(NO_KEY)
        return questionnaire_response(request, version, preferred_language=participant.preferred_language)
