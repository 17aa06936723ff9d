"""URLconf of backend.settings.bench_floor: the whole API, plus the floor and the ceiling of bench_ingest.

``POST /bench/floor/`` does the least a server must do with a submitted response: parse the JSON body and
insert it as one row (table ``bench_floor``, created by the benchmark), through the same Django stack.
``POST /bench/ceiling/<wave>/``: see tests/bench/ceiling.py.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tests.bench.ceiling import ceiling


@csrf_exempt
@require_POST
def floor(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (body) VALUES (%s::jsonb) RETURNING id",
            [json.dumps(data, ensure_ascii=False)],
        )
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("bench/ceiling/<str:wave_key>/", ceiling, name="bench-ceiling"),
    path("", include("backend.urls")),
]
