from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from translations import registry
from translations.serializers import LanguageSerializer


class LanguageListApi(APIView):
    """The language registry, with native names, as the phone's language picker shows them (public)."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(responses=LanguageSerializer(many=True), tags=["languages"])
    def get(self, request: Request) -> Response:
        return Response(LanguageSerializer(registry.LANGUAGES, many=True).data)
