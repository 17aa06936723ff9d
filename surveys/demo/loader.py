"""Loads the demo study (World Values Survey wave 7 items, see README.md here) through the services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from surveys import services
from surveys.models import Study

DEMO_FILE = Path(__file__).with_name("wvs_demo.json")
QUESTION_KEYS = (
    "hint", "required", "relevance", "constraint", "constraint_message", "min_value", "max_value",
    "min_length", "max_length", "min_choices", "max_choices", "allow_dont_know", "allow_no_answer",
)  # fmt: skip


def _question_attributes(item: dict[str, Any]) -> dict[str, Any]:
    attributes = {key: item[key] for key in QUESTION_KEYS if key in item}
    scale = item.get("scale")
    if scale:
        attributes.update(
            scale_min=scale["min"],
            scale_max=scale["max"],
            scale_min_label=scale.get("min_label"),
            scale_max_label=scale.get("max_label"),
            scale_reversed=scale.get("reversed", False),
        )
    return attributes


@transaction.atomic
def load_demo_study(*, by: User, path: Path = DEMO_FILE) -> tuple[Study, bool]:
    """The demo study, created and published if it does not exist yet; ``(study, created)``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    existing = Study.objects.filter(slug=data["study"]["slug"]).first()
    if existing is not None:
        return existing, False
    spec = data["study"]
    study = services.study_create(
        slug=spec["slug"],
        title=spec["title"],
        introduction=spec.get("introduction"),
        source_language=spec["source_language"],
        languages=spec["languages"],
        by=by,
    )
    questionnaire = services.questionnaire_create(
        study=study, slug=data["questionnaire"]["slug"], title=data["questionnaire"]["title"]
    )
    version = questionnaire.versions.get()
    for section_spec in data["sections"]:
        section = services.section_create(
            version=version, key=section_spec["key"], title=section_spec.get("title")
        )
        for item in section_spec["questions"]:
            services.question_create(
                section=section,
                variable=item["variable"],
                type=item["type"],
                text=item["text"],
                choices=item.get("choices", ()),
                **_question_attributes(item),
            )
    version = services.version_publish(version=version, by=by)
    for wave in data["waves"]:
        services.wave_create(
            study=study,
            key=wave["key"],
            name=wave["name"],
            questionnaire_version=version,
            anchor=wave["anchor"],
            offset_months=wave.get("offset_months", 0),
            offset_days=wave.get("offset_days", 0),
            window_days=wave["window_days"],
        )
    return study, True
