"""Probes, the OpenAPI schema and its docs page, and the public language list."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from backend.celery import app as celery_app
from translations import registry

AUTHORING_PATHS = [
    "/api/v1/studies/",
    "/api/v1/studies/{study_id}/",
    "/api/v1/studies/{study_id}/questionnaires/",
    "/api/v1/studies/{study_id}/waves/",
    "/api/v1/questionnaires/{questionnaire_id}/",
    "/api/v1/questionnaires/{questionnaire_id}/drafts/",
    "/api/v1/versions/{version_id}/",
    "/api/v1/versions/{version_id}/publish/",
    "/api/v1/versions/{version_id}/coverage/",
    "/api/v1/versions/{version_id}/questionnaire/",
    "/api/v1/versions/{version_id}/sections/",
    "/api/v1/sections/{section_id}/",
    "/api/v1/sections/{section_id}/questions/",
    "/api/v1/questions/{question_id}/",
    "/api/v1/questions/{question_id}/choices/",
    "/api/v1/choices/{choice_id}/",
    "/api/v1/translations/review/",
    "/api/v1/waves/{wave_id}/",
    "/api/v1/waves/{wave_id}/questionnaire/",
]


# --- probes ------------------------------------------------------------------------------------------------


def test_healthz_answers_without_touching_anything(anon: APIClient) -> None:
    # no db fixture: pytest-django makes any database access here an error
    response = anon.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_checks_the_database_and_the_broker(anon: APIClient) -> None:
    response = anon.get("/readyz")

    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "broker": "ok"}},
    )
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_unavailable_without_the_broker(anon: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a broker nobody listens on (port 9 is "discard", closed on loopback)
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")

    response = anon.get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "checks": {"database": "ok", "broker": "unavailable"}},
    )


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_only_answer_get(anon: APIClient, path: str) -> None:
    assert anon.post(path).status_code == 405


# --- the OpenAPI schema ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_is_an_openapi_3_document_with_the_authoring_paths(anon: APIClient) -> None:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Migrant panel survey API"
    assert [path for path in AUTHORING_PATHS if path not in schema["paths"]] == []
    assert set(schema["paths"]["/api/v1/studies/"]) == {"get", "post"}
    assert set(schema["paths"]["/api/v1/questions/{question_id}/"]) == {"get", "patch", "delete"}
    assert "/api/v1/languages/" in schema["paths"]


@pytest.mark.django_db
def test_the_schema_is_served_as_yaml_by_default(anon: APIClient) -> None:
    response = anon.get("/api/schema/")

    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


def test_the_schema_generates_without_warnings(tmp_path: Path) -> None:
    schema_file = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    assert yaml.safe_load(schema_file.read_text())["openapi"].startswith("3.")


def test_the_schema_generates_without_errors(tmp_path: Path) -> None:
    schema_file = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--file", str(schema_file))

    schema = yaml.safe_load(schema_file.read_text())
    assert [path for path in AUTHORING_PATHS if path not in schema["paths"]] == []


@pytest.mark.django_db
def test_the_docs_page_is_html(anon: APIClient) -> None:
    response = anon.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger-ui" in response.content
    assert b"/api/schema/" in response.content


# --- languages ---------------------------------------------------------------------------------------------


def test_the_language_list_is_public_and_complete(anon: APIClient) -> None:
    # no db fixture: the list is served from the registry, without a database or a session
    response = anon.get("/api/v1/languages/")

    assert response.status_code == 200
    languages = response.json()
    assert [language["code"] for language in languages] == list(registry.CODES)
    assert languages[0] == {
        "code": "en",
        "native_name": "English",
        "english_name": "English",
        "direction": "ltr",
        "fallbacks": [],
    }
    assert {language["code"]: language["native_name"] for language in languages} == {
        language.code: language.native_name for language in registry.LANGUAGES
    }
    assert {language["code"] for language in languages if language["direction"] == "rtl"} == {
        "ar",
        "fa",
        "prs",
        "ps",
        "ckb",
        "ur",
    }
    assert next(language for language in languages if language["code"] == "ps")["fallbacks"] == [
        "prs",
        "fa",
        "en",
    ]


def test_the_language_list_ignores_bad_credentials(db: None) -> None:
    # A phone with an expired token must still be able to show the language picker.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token expired-or-made-up")

    response = client.get("/api/v1/languages/")

    assert response.status_code == 200
    assert len(response.json()) == len(registry.LANGUAGES)
