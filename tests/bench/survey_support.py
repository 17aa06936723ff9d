"""Shared by bench_seal and bench_ingest: a 300-question questionnaire and a realistic set of answers.

Not named bench_*.py on purpose: scripts/bench.sh runs every tests/bench/bench_*.py as a benchmark.

The mix follows bench_questionnaire_payload (single choice, rating, yes/no, integer with a constraint, free
text; half of the questions after a yes/no are only relevant when it was answered "yes"). Every question is
answered (the yes/no questions that guard another one are answered "yes"), some with a special code
("don't know" / "no answer"), free text in Arabic, so that the sealed document of one response
(participants.responses.services.response_complete) is about 12 KB of JSON.
"""

from __future__ import annotations

import datetime
import json
import random
from typing import Any

QUESTIONS = 300
LANGUAGES = ["en", "sv", "ar"]
ANSWER_LANGUAGE = "ar"
KINDS = ["single_choice", "rating", "yes_no", "integer", "text"]
KIND_WEIGHTS = [35, 22, 15, 14, 14]
INTEGER_RANGES = [(0, 80), (15, 100), (0, 20), (1900, 2025)]
ARABIC = "ابتثجحخدذرسشصضطظعغفقكلمنهوية"
# Free-text answers: Arabic words, 60 to 200 characters (2 bytes each in UTF-8).
TEXT_CHARS = (60, 200)


def texts(label: str) -> dict[str, str]:
    return {code: f"{label} ({code})" for code in LANGUAGES}


def question_specs(rng: random.Random, count: int = QUESTIONS) -> list[dict[str, Any]]:
    """Keyword arguments of surveys.services.question_create (without ``section``), in order."""
    specs: list[dict[str, Any]] = []
    previous_yes_no = None
    for number in range(1, count + 1):
        kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
        spec: dict[str, Any] = {"variable": f"Q{number}", "type": kind, "text": texts(f"Question {number}?")}
        if previous_yes_no and rng.random() < 0.5:
            spec["relevance"] = f"${{{previous_yes_no}}} = 'yes'"
        if kind == "single_choice":
            spec["choices"] = [
                {"code": str(code), "label": texts(f"Choice {code}")}
                for code in range(1, rng.randint(4, 5) + 1)
            ]
        elif kind == "rating":
            spec.update(
                scale_min=1, scale_max=10, scale_min_label=texts("Not at all"), scale_max_label=texts("Fully")
            )
        elif kind == "integer":
            low, high = rng.choice(INTEGER_RANGES)
            spec.update(
                min_value=low, max_value=high, constraint=f". >= {low} and . <= {high}",
                constraint_message=texts(f"Between {low} and {high}"),
            )  # fmt: skip
        elif kind == "text":
            spec.update(required=False, max_length=500)
        if kind in ("single_choice", "rating"):
            spec.update(allow_dont_know=rng.random() < 0.3, allow_no_answer=rng.random() < 0.2)
        specs.append(spec)
        previous_yes_no = spec["variable"] if kind == "yes_no" else None
    return specs


def _arabic_text(rng: random.Random) -> str:
    length = rng.randint(*TEXT_CHARS)
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < length:
        words.append("".join(rng.choices(ARABIC, k=rng.randint(2, 7))))
    return " ".join(words)


def answers_for(specs: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """One answer per question, already in the stored (normalised) form, so validation keeps them as they are."""
    guards = {spec["relevance"].split("}")[0].removeprefix("${") for spec in specs if spec.get("relevance")}
    answers: dict[str, Any] = {}
    for spec in specs:
        variable, kind = spec["variable"], spec["type"]
        specials = [
            code for flag, code in (("allow_dont_know", "-1"), ("allow_no_answer", "-2")) if spec.get(flag)
        ]
        if specials and rng.random() < 0.15:
            answers[variable] = {"special": rng.choice(specials)}
        elif kind == "single_choice":
            answers[variable] = rng.choice(spec["choices"])["code"]
        elif kind == "rating":
            answers[variable] = rng.randint(spec["scale_min"], spec["scale_max"])
        elif kind == "yes_no":
            answers[variable] = "yes" if variable in guards or rng.random() < 0.6 else "no"
        elif kind == "integer":
            answers[variable] = rng.randint(spec["min_value"], spec["max_value"])
        else:
            answers[variable] = _arabic_text(rng)
    return answers


def response_document(
    answers: dict[str, Any], *, response_id: int = 123456, pseudonym: str = "7K3M-9QXD"
) -> bytes:
    """The plaintext that participants.responses.services.response_complete seals, same keys and encoding."""
    started = datetime.datetime(2026, 3, 2, 9, 14, 5, 123456, tzinfo=datetime.UTC)
    document = {
        "response_id": response_id, "study": "bench-panel", "participant": pseudonym, "wave": "pre-departure",
        "version_id": 42, "version_digest": "f" * 64, "language": ANSWER_LANGUAGE,
        "started_at": started.isoformat(), "completed_at": (started + datetime.timedelta(minutes=41)).isoformat(),
        "answers": answers,
    }  # fmt: skip
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
