"""Study admins register and retire the research team's public keys (audited)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import NotFound
from participants import selectors
from participants.crypto import sealing
from participants.models import StudyKey
from participants.responses import services
from participants.views.common import ERRORS, IsStaffUser, validated


class KeyOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = StudyKey
        fields = [
            "id",
            "suite",
            "fingerprint",
            "label",
            "public_key_pem",
            "registered_at",
            "retired_at",
            "active",
        ]


class KeyInput(serializers.Serializer):  # type: ignore[type-arg]
    public_key_pem = serializers.CharField(max_length=20000, help_text="From `manage.py study_keygen`.")
    suite = serializers.ChoiceField(choices=sealing.supported_suites(), default=sealing.DEFAULT_SUITE)
    label = serializers.CharField(max_length=200, required=False, default="")


class StudyKeysApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(responses={200: KeyOutput(many=True), **ERRORS}, tags=["study admin"])
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.get_study_for_admin(request.user, study_id)
        return Response(KeyOutput(study.keys.all(), many=True).data)

    @extend_schema(request=KeyInput, responses={201: KeyOutput, **ERRORS}, tags=["study admin"])
    def post(self, request: Request, study_id: int) -> Response:
        """Register a public key; new responses are sealed to the newest active key."""
        study = selectors.get_study_for_admin(request.user, study_id)
        key = services.study_key_register(study=study, by=request.user, **validated(KeyInput, request.data))
        return Response(KeyOutput(key).data, status=status.HTTP_201_CREATED)


class StudyKeyRetireApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(request=None, responses={200: KeyOutput, **ERRORS}, tags=["study admin"])
    def post(self, request: Request, key_id: int) -> Response:
        """Stop sealing to this key; what was sealed to it stays openable with its private key."""
        key = StudyKey.objects.select_related("study").filter(pk=key_id).first()
        if key is None:
            raise NotFound(f"No key with id {key_id}.")
        selectors.get_study_for_admin(request.user, key.study_id)
        return Response(KeyOutput(services.study_key_retire(key=key, by=request.user)).data)
