"""Staff sign in with username and password (Argon2) for an API token; throttled and locked out."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import DomainError
from participants.backends import is_locked
from participants.throttles import StaffLoginThrottle
from participants.views.common import ERRORS, IsStaffUser, validated


class LoginInput(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class LoginOutput(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField(
        help_text="Send as 'Authorization: Token <token>'. Only its digest is stored."
    )
    expires_at = serializers.DateTimeField(
        help_text="Sign in again after this (STAFF_TOKEN_HOURS, default 10)."
    )


class StaffLoginApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [StaffLoginThrottle]
    throttle_scope = "staff_login"

    @extend_schema(request=LoginInput, responses={200: LoginOutput, **ERRORS}, tags=["staff auth"])
    def post(self, request: Request) -> Response:
        data = validated(LoginInput, request.data)
        user = User.objects.filter(username=data["username"]).first()
        if user is not None and is_locked(user):
            raise DomainError(
                "Too many failed attempts; this account is locked for a while.", field="username"
            )
        authenticated = authenticate(request._request, username=data["username"], password=data["password"])
        if authenticated is None:
            response = Response(
                {"detail": "Wrong username or password.", "code": "invalid_credentials"},
                status=status.HTTP_401_UNAUTHORIZED,
            )
            response["WWW-Authenticate"] = 'Token realm="staff"'
            return response
        issued, token = AuthToken.objects.create(user=authenticated)
        return Response(LoginOutput({"token": token, "expires_at": issued.expiry}).data)


class StaffLogoutApi(APIView):
    permission_classes = [IsStaffUser]

    @extend_schema(request=None, responses={204: None}, tags=["staff auth"])
    def post(self, request: Request) -> Response:
        AuthToken.objects.filter(user=request.user).delete()  # signs out everywhere
        return Response(status=status.HTTP_204_NO_CONTENT)
