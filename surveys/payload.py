"""The questionnaire as a phone receives it: one language, compact, gzip-compressed, cacheable.

A published version is frozen, so its rendering in a language never changes: it is built once, stored
in the cache (JSON and gzip bytes with their ETags) and served from there. Drafts, seen only in
researchers' previews, are rendered on every request.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from surveys.models import DONT_KNOW, NO_ANSWER, Question, QuestionnaireVersion, QuestionType
from surveys.selectors import version_tree
from translations import messages, registry
from translations.content import text_along, text_of

CACHE_PREFIX = "questionnaire-payload:v1"
CACHE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class RenderedQuestionnaire:
    language: str
    languages_used: tuple[str, ...]
    body: bytes
    body_gzip: bytes

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    @property
    def etag_gzip(self) -> str:
        return self.etag[:-1] + '-gz"'


def choose_language(version: QuestionnaireVersion, *, requested: list[str]) -> str:
    """The study language to serve: the first requested one we have, through its fallback chain."""
    study = version.questionnaire.study
    for tag in requested:
        code = tag if registry.is_known(tag) else tag.split("-")[0].lower()
        if not registry.is_known(code):
            continue
        chain = registry.fallback_chain(code, available=study.languages, source=study.source_language)
        if chain[0] in study.languages and (chain[0] == code or chain[0] != study.source_language):
            return chain[0]
    return study.source_language


class _Texts:
    """Picks each text in the served language, or along the fallback chain, and notes which it used."""

    def __init__(self, version: QuestionnaireVersion, language: str) -> None:
        study = version.questionnaire.study
        self.chain = registry.fallback_chain(
            language, available=study.languages, source=study.source_language
        )
        self.used: set[str] = set()

    def pick(self, instance: Any, field_name: str, target: dict[str, Any], key: str | None = None) -> None:
        language, value = text_along(instance, field_name, self.chain)
        if value:
            target[key or field_name] = value
            self.used.add(language)
            if language != self.chain[0]:
                target.setdefault("lang", {})[key or field_name] = language


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _question(question: Question, texts: _Texts) -> dict[str, Any]:
    item: dict[str, Any] = {"var": question.variable, "type": question.type}
    for field_name in ("text", "hint"):
        texts.pick(question, field_name, item)
    if question.required:
        item["required"] = True
    if question.relevance:
        item["relevant"] = question.relevance
    if question.constraint:
        item["constraint"] = question.constraint
        texts.pick(question, "constraint_message", item, "constraint_msg")
    for name in ("min_value", "max_value"):
        if getattr(question, name) is not None:
            item[name.replace("_value", "")] = _number(getattr(question, name))
    for name in ("min_length", "max_length", "min_choices", "max_choices"):
        if getattr(question, name) is not None:
            item[name] = getattr(question, name)
    if question.type == QuestionType.RATING:
        scale: dict[str, Any] = {"min": question.scale_min, "max": question.scale_max}
        texts.pick(question, "scale_min_label", scale, "min_label")
        texts.pick(question, "scale_max_label", scale, "max_label")
        if question.scale_reversed:
            scale["reversed"] = True
        item["scale"] = scale
    if question.has_choices:
        choices = []
        for choice in question.choices.all():
            entry: dict[str, Any] = {"code": choice.code}
            texts.pick(choice, "label", entry)
            choices.append(entry)
        item["choices"] = choices
    if question.special_codes:
        item["special"] = question.special_codes
    return item


def build_payload(version: QuestionnaireVersion, language: str) -> tuple[dict[str, Any], set[str]]:
    texts = _Texts(version, language)
    questionnaire = version.questionnaire
    payload: dict[str, Any] = {
        "questionnaire": questionnaire.slug,
        "version": version.number,
        "version_id": version.pk,
        "language": language,
        "dir": registry.get(language).direction,
    }
    texts.pick(questionnaire, "title", payload)
    texts.pick(questionnaire.study, "introduction", payload, "introduction")
    sections = []
    for section in version_tree(version):
        entry: dict[str, Any] = {"key": section.key}
        texts.pick(section, "title", entry)
        entry["questions"] = [_question(question, texts) for question in section.questions.all()]
        sections.append(entry)
    payload["sections"] = sections
    payload["labels"] = {
        DONT_KNOW: messages.message("dont_know", language),
        NO_ANSWER: messages.message("no_answer", language),
        "yes": messages.message("yes", language),
        "no": messages.message("no", language),
    }
    used = texts.used | {language}
    payload["directions"] = {code: registry.get(code).direction for code in sorted(used)}
    return payload, used


def render(version: QuestionnaireVersion, language: str) -> RenderedQuestionnaire:
    # The study's introduction travels with the questionnaire but is not frozen with the version:
    # its text is part of the key, so editing it makes a new rendering instead of a stale one.
    study = version.questionnaire.study
    introduction = hashlib.sha256(
        repr([text_of(study, "introduction", code) for code in study.languages]).encode()
    )
    cache_key = (
        f"{CACHE_PREFIX}:{version.pk}:{version.content_digest}:{introduction.hexdigest()[:16]}:{language}"
    )
    if version.is_published:
        cached = cache.get(cache_key)
        if cached is not None:
            return cached
    payload, used = build_payload(version, language)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    # mtime=0 keeps the gzip bytes (and their ETag) identical across processes.
    rendered = RenderedQuestionnaire(
        language=language,
        languages_used=tuple([language, *sorted(used - {language})]),
        body=body,
        body_gzip=gzip.compress(body, compresslevel=9, mtime=0),
    )
    if version.is_published:
        cache.set(cache_key, rendered, CACHE_SECONDS)
    return rendered


def _accepts_gzip(request: HttpRequest) -> bool:
    header = request.headers.get("Accept-Encoding", "")
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.strip().replace(" ", "") not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


def _matches(if_none_match: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def requested_languages(request: HttpRequest) -> list[str]:
    explicit = request.GET.get("lang", "").strip()
    if explicit:
        return [explicit[:35]]
    return registry.parse_accept_language(request.headers.get("Accept-Language", ""))


def questionnaire_response(
    request: HttpRequest, version: QuestionnaireVersion, *, preferred_language: str | None = None
) -> HttpResponse:
    """The phone's questionnaire: ``?lang=`` first, then the participant's own language, then Accept-Language."""
    requested = requested_languages(request)
    if preferred_language and not request.GET.get("lang"):
        requested = [preferred_language, *requested]
    language = choose_language(version, requested=requested)
    rendered = render(version, language)
    use_gzip = _accepts_gzip(request)
    etag = rendered.etag_gzip if use_gzip else rendered.etag
    if _matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(
            rendered.body_gzip if use_gzip else rendered.body, content_type="application/json; charset=utf-8"
        )
        if use_gzip:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Content-Language"] = ", ".join(rendered.languages_used)
    # The phone keeps its copy and revalidates; the ETag makes an unchanged questionnaire a 304.
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ("Accept-Encoding", "Accept-Language"))
    return response
