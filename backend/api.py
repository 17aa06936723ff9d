"""How domain errors, Django errors and DRF errors reach API clients."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from backend.errors import DomainError
from backend.parsers import UnpairedSurrogate


def validated(serializer_class: type, data: Any) -> dict[str, Any]:
    """The input, validated by the view's input serializer (400 naming each field otherwise)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_payload(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer would be an HTML page naming nothing.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {
                "detail": f"The body is larger than {limit:,} bytes; send it in smaller pages.",
                "code": "body_too_large",
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, exceptions.ParseError):
        # A body that cannot be read: the problem format, naming where when the parser knows it.
        problem: dict[str, Any] = {"detail": str(exc.detail), "code": exc.get_codes()}
        if isinstance(exc, UnpairedSurrogate) and exc.field:
            problem["field"] = exc.field
        return Response(problem, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)
