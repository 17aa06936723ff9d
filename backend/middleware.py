"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def api_no_store(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """API replies are not kept in any cache (answers, contact details, tokens: a shared phone's or a staff
    laptop's browser cache must not hold them), unless the view chose its own policy (the questionnaire is
    revalidated by ETag)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if request.path_info.startswith("/api/") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response

    return middleware
