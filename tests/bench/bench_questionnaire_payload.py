"""Benchmark ``questionnaire_payload``: what a phone downloads, and how fast the server answers.

A study in 12 languages with a 300-question questionnaire (15 sections), every text in every language as
deterministic pseudo-text in the language's script, created through the services and published.

* value: gzip bytes of the one-language (Arabic) payload as served, ``surveys.payload.render``;
* floor: gzip bytes of the same version with all 12 languages inline, as XForms ship them: the
  VersionOutput JSON (the authoring API's rendering), gzip level 9. Target: value / floor <= 1/6.
* server time through the whole Django stack (django.test.Client, session-authenticated researcher):
  cold (cache cleared before each request), warm 304 (If-None-Match) and warm 200; SQL queries and
  payload builds of a warm request, which must not rebuild the questionnaire.
"""

from __future__ import annotations

import gzip
import random
import time
from typing import Any
from unittest import mock

from tests.bench.common import emit, measure, peak_rss_mb, setup_django

setup_django()

from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402

from surveys import payload, services  # noqa: E402
from surveys.models import (  # noqa: E402
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Section,
    Study,
    StudyMembership,
)
from surveys.serializers import VersionOutput  # noqa: E402
from translations import registry  # noqa: E402

NAME = "questionnaire_payload"
LANGUAGES = ["en", "sv", "ar", "fa", "prs", "ps", "ti", "so", "kmr", "ckb", "uk", "fr"]
SERVED = "ar"
SECTIONS, QUESTIONS_PER_SECTION = 15, 20
COLD_REPEAT, WARM_REPEAT = 15, 200
TARGET = 1 / 6

ARABIC = "ابتثجحخدذرسشصضطظعغفقكلمنهوية"
ALPHABETS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "sv": "abcdefghijklmnoprstuvyåäö",
    "so": "abcdefghijklmnoqrstuwxy",
    "kmr": "abcçdeêfghiîjklmnopqrsştuûvwxyz",
    "fr": "abcdefghijlmnopqrstuvéèàçêô",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "ar": ARABIC,
    "fa": ARABIC + "پچژگکی",
    "prs": ARABIC + "پچژگکی",
    "ps": ARABIC + "پچژگکیټډړښږځڅ",
    "ckb": ARABIC + "پچژگکیەۆێڵڕ",
    "ti": "".join(
        chr(code)
        for code in [
            *range(0x1200, 0x1248),
            *range(0x1260, 0x1288),
            *range(0x12A0, 0x12B0),
            *range(0x12C8, 0x12D0),
        ]
    ),
}
# Length of a text relative to English, in characters; Ge'ez letters are syllables, so Tigrinya is short.
LENGTH = {"en": 1.0, "sv": 1.05, "so": 1.25, "kmr": 1.1, "fr": 1.2, "uk": 1.05, "ar": 0.9, "fa": 1.0,
          "prs": 1.0, "ps": 1.05, "ckb": 1.05, "ti": 0.75}  # fmt: skip
WORD_LETTERS = {"ti": (2, 5), "ar": (2, 7), "fa": (2, 7), "prs": (2, 7), "ps": (2, 7), "ckb": (2, 7)}


class PseudoText:
    """Sentences of made-up words in each language's script, with a Zipf-like word frequency."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vocabulary = {code: self._words(code) for code in LANGUAGES}
        self.weights = list(_cumulative([1 / (rank + 1) for rank in range(len(self.vocabulary["en"]))]))

    def _words(self, code: str, size: int = 800) -> list[str]:
        low, high = WORD_LETTERS.get(code, (2, 10))
        words = (
            "".join(self.rng.choices(ALPHABETS[code], k=self.rng.randint(low, high))) for _ in range(4 * size)
        )
        return list(dict.fromkeys(words))[:size]

    def sentence(self, code: str, english_chars: int, question: bool) -> str:
        words: list[str] = []
        while sum(len(word) + 1 for word in words) < english_chars * LENGTH[code]:
            words.append(self.rng.choices(self.vocabulary[code], cum_weights=self.weights)[0])
        text = " ".join(words)
        if registry.get(code).direction == "rtl":
            return text + ("؟" if question else ".")
        if code == "ti":
            return text + ("፧" if question else "።")
        return text[0].upper() + text[1:] + ("?" if question else ".")

    def texts(self, low: int, high: int, question: bool = False) -> dict[str, str]:
        english_chars = self.rng.randint(low, high)
        return {code: self.sentence(code, english_chars, question) for code in LANGUAGES}


def _cumulative(values: list[float]) -> list[float]:
    total, result = 0.0, []
    for value in values:
        total += value
        result.append(total)
    return result


def build_study(slug: str, author: User, rng: random.Random) -> QuestionnaireVersion:
    """The study, its questionnaire and one published version, through the services."""
    text = PseudoText(rng)
    study = services.study_create(
        slug=slug, title=text.texts(20, 30), introduction=text.texts(300, 500), source_language="en",
        languages=LANGUAGES, by=author,
    )  # fmt: skip
    version = services.questionnaire_create(
        study=study, slug="values", title=text.texts(20, 40)
    ).versions.get()
    # Surveys reuse answer scales: a few choice sets and rating end labels serve many questions.
    choice_sets = [[text.texts(4, 30) for _ in range(rng.randint(4, 5))] for _ in range(12)]
    end_labels = [(text.texts(6, 22), text.texts(6, 22)) for _ in range(6)]
    kinds = ["single_choice", "rating", "yes_no", "integer", "text"]
    number = 0
    for section_number in range(1, SECTIONS + 1):
        section = services.section_create(version=version, key=f"s{section_number}", title=text.texts(10, 35))
        previous_yes_no = None
        for _ in range(QUESTIONS_PER_SECTION):
            number += 1
            kind = rng.choices(kinds, weights=[35, 22, 15, 14, 14])[0]
            fields: dict[str, Any] = {"text": text.texts(40, 160, question=True)}
            if rng.random() < 0.3:
                fields["hint"] = text.texts(30, 120)
            if previous_yes_no and rng.random() < 0.5:
                fields["relevance"] = f"${{{previous_yes_no}}} = 'yes'"
            if kind == "single_choice":
                labels = rng.choice(choice_sets)
                fields["choices"] = [{"code": str(i), "label": label} for i, label in enumerate(labels, 1)]
            elif kind == "rating":
                low_label, high_label = rng.choice(end_labels)
                fields.update(
                    scale_min=1, scale_max=10, scale_min_label=low_label, scale_max_label=high_label
                )
            elif kind == "integer":
                low, high = rng.choice([(0, 80), (15, 100), (0, 20), (1900, 2025)])
                fields.update(
                    min_value=low, max_value=high, constraint=f". >= {low} and . <= {high}",
                    constraint_message=text.texts(25, 60),
                )  # fmt: skip
            elif kind == "text":
                fields.update(required=False, max_length=500)
            if kind in ("single_choice", "rating"):
                fields.update(allow_dont_know=rng.random() < 0.3, allow_no_answer=rng.random() < 0.2)
            services.question_create(section=section, variable=f"Q{number}", type=kind, **fields)
            previous_yes_no = f"Q{number}" if kind == "yes_no" else None
    return services.version_publish(version=version, by=author)


def count_queries(fn: Any) -> int:
    # Read the count at once: every request start empties the connection's query log (reset_queries).
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def run(version: QuestionnaireVersion, reader: User) -> None:
    rendered = payload.render(version, SERVED)
    one_language = len(rendered.body_gzip)
    all_languages_json = JSONRenderer().render(VersionOutput(version).data)
    all_languages = len(gzip.compress(all_languages_json, compresslevel=9, mtime=0))

    client = Client(headers={"accept-encoding": "gzip"})
    client.force_login(reader)
    url = f"/api/v1/versions/{version.pk}/questionnaire/?lang={SERVED}"

    def get(**headers: str) -> Any:
        return client.get(url, headers=headers)

    first = get()
    assert first.status_code == 200, first.content[:300]
    assert first.content == rendered.body_gzip, "the served body is not render(version, 'ar').body_gzip"
    etag = first["ETag"]

    cold = measure(get, COLD_REPEAT, setup=cache.clear)
    cache.clear()
    cold_queries = count_queries(get)
    with mock.patch("surveys.payload.build_payload", wraps=payload.build_payload) as builds:
        warm_304 = measure(lambda: get(**{"if-none-match": etag}), WARM_REPEAT)
        warm_200 = measure(get, WARM_REPEAT)
        warm_queries = count_queries(lambda: get(**{"if-none-match": etag}))
        not_modified, served = get(**{"if-none-match": etag}), get()
    assert not_modified.status_code == 304, not_modified.status_code
    assert served.status_code == 200
    assert served.content == rendered.body_gzip

    ratio = one_language / all_languages
    print(
        f"{NAME}: {len(LANGUAGES)} languages, {version.questions.count()} questions in {SECTIONS} sections; "
        f"one language ({SERVED}) {one_language} B gzip ({len(rendered.body)} B raw), all languages inline "
        f"{all_languages} B gzip ({len(all_languages_json)} B raw)"
    )
    verdict = "met" if ratio <= TARGET else "NOT MET"
    print(f"target value/floor <= 1/6 ({TARGET:.4f}): {verdict} (ratio {ratio:.4f})")
    print(
        f"server time: cold {cold * 1000:.2f} ms ({cold_queries} queries), "
        f"warm 304 {warm_304 * 1000:.2f} ms, warm 200 {warm_200 * 1000:.2f} ms; "
        f"warm request {warm_queries} queries, "
        f"{builds.call_count} payload builds in {2 * WARM_REPEAT + 2} warm requests"
    )
    if builds.call_count:
        print("WARNING: the warm path rebuilt the questionnaire")
    emit(
        NAME, "bytes", one_language, all_languages,
        target=round(TARGET, 4), target_met=ratio <= TARGET, language=SERVED,
        one_language_bytes=one_language, all_languages_bytes=all_languages,
        uncompressed_one_language_bytes=len(rendered.body),
        uncompressed_all_languages_bytes=len(all_languages_json),
        cold_ms=cold * 1000, warm_304_ms=warm_304 * 1000, warm_200_ms=warm_200 * 1000,
        cold_queries=cold_queries, warm_queries=warm_queries, warm_builds=builds.call_count,
        peak_rss_mb=peak_rss_mb(),
    )  # fmt: skip


def delete_study(slug: str) -> None:
    """Bottom-up, so Django's delete collector never loads translated rows with deferred fields
    (``.only()``): TranslatableModel.from_db (translations/content.py) then recurses without end."""
    study = "questionnaire__study__slug"
    for model, path in (
        (Choice, f"question__version__{study}"),
        (Question, f"version__{study}"),
        (Section, f"version__{study}"),
        (QuestionnaireVersion, study),
        (Questionnaire, "study__slug"),
        (Study, "slug"),
    ):
        model.objects.filter(**{path: slug}).delete()


def main() -> None:
    stamp = f"{int(time.time() * 1000)}"
    slug = f"bench-payload-{stamp}"
    author = User.objects.create_user(username=f"bench-author-{stamp}")
    reader = User.objects.create_user(username=f"bench-reader-{stamp}")
    try:
        started = time.perf_counter()
        version = build_study(slug, author, random.Random(20250601))
        StudyMembership.objects.create(study=version.study, user=reader, role=StudyMembership.Role.RESEARCHER)
        print(f"{NAME}: study built and published in {time.perf_counter() - started:.1f} s")
        run(QuestionnaireVersion.objects.select_related("questionnaire__study").get(pk=version.pk), reader)
    finally:
        delete_study(slug)
        User.objects.filter(pk__in=[author.pk, reader.pk]).delete()


if __name__ == "__main__":
    main()
