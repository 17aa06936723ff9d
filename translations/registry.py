"""The language registry: which languages the product can serve, how they are written, how they fall back.

Plain Python, no Django imports, because settings read it to build ``LANGUAGES`` (and so the
django-modeltranslation columns) before any app is loaded. Adding a language here needs a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["ltr", "rtl"]


@dataclass(frozen=True)
class Language:
    code: str  # BCP 47
    native_name: str
    english_name: str
    direction: Direction
    # Tried in order after the language itself; the study's source language is tried last.
    fallbacks: tuple[str, ...] = ()


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English", "ltr"),
    Language("sv", "Svenska", "Swedish", "ltr", ("en",)),
    Language("ar", "العربية", "Arabic", "rtl", ("en",)),
    Language("fa", "فارسی", "Persian", "rtl", ("prs", "en")),
    Language("prs", "دری", "Dari", "rtl", ("fa", "en")),
    Language("ps", "پښتو", "Pashto", "rtl", ("prs", "fa", "en")),
    Language("ti", "ትግርኛ", "Tigrinya", "ltr", ("en",)),
    Language("so", "Soomaali", "Somali", "ltr", ("en",)),
    Language("kmr", "Kurmancî", "Northern Kurdish (Kurmanji)", "ltr", ("ckb", "en")),
    Language("ckb", "کوردیی ناوەندی", "Central Kurdish (Sorani)", "rtl", ("kmr", "ar", "en")),
    Language("uk", "Українська", "Ukrainian", "ltr", ("ru", "en")),
    Language("ru", "Русский", "Russian", "ltr", ("en",)),
    Language("fr", "Français", "French", "ltr", ("en",)),
    Language("es", "Español", "Spanish", "ltr", ("en",)),
    Language("ur", "اردو", "Urdu", "rtl", ("en",)),
)

BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
CODES: tuple[str, ...] = tuple(BY_CODE)


def get(code: str) -> Language:
    """The language with this code; KeyError for an unknown code."""
    return BY_CODE[code]


def is_known(code: str) -> bool:
    return code in BY_CODE


def fallback_chain(code: str, *, available: tuple[str, ...] | list[str], source: str) -> list[str]:
    """Languages to try, best first, restricted to ``available``; the source language always ends it."""
    chain: list[str] = []
    for candidate in (code, *BY_CODE[code].fallbacks, source) if code in BY_CODE else (source,):
        if candidate in available and candidate not in chain:
            chain.append(candidate)
        if candidate == source:
            break
    if source not in chain:
        chain.append(source)
    return chain


def negotiate(requested: list[str], *, available: tuple[str, ...] | list[str], source: str) -> str:
    """The first requested language we can serve (exact, then primary subtag), else the source language."""
    for tag in requested:
        tag = tag.strip()
        for candidate in (tag, tag.split("-")[0].lower()):
            if candidate in available:
                return candidate
    return source


def parse_accept_language(header: str, *, max_items: int = 20) -> list[str]:
    """Language tags of an Accept-Language header, by descending q; malformed parts are skipped."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:max_items]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
            if not 0 <= quality <= 1:  # also rejects nan and inf
                continue
        if quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]
