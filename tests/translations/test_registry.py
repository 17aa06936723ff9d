"""The language registry: fallback chains, negotiation, Accept-Language parsing, and the UI messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from translations import messages, registry

RIGHT_TO_LEFT = {"ar", "fa", "prs", "ps", "ckb", "ur"}


# --- the registry itself -----------------------------------------------------------------------------------


def test_the_registry_has_the_panel_languages() -> None:
    assert registry.CODES == (
        "en", "sv", "ar", "fa", "prs", "ps", "ti", "so", "kmr", "ckb", "uk", "ru", "fr", "es", "ur",
    )  # fmt: skip


@pytest.mark.parametrize("language", registry.LANGUAGES, ids=lambda language: language.code)
def test_every_language_has_names_and_a_direction(language: registry.Language) -> None:
    assert language.native_name.strip() == language.native_name
    assert len(language.native_name) >= 2
    assert len(language.english_name) >= 2
    assert language.direction == ("rtl" if language.code in RIGHT_TO_LEFT else "ltr")


def test_exactly_the_arabic_script_languages_are_right_to_left() -> None:
    assert {language.code for language in registry.LANGUAGES if language.direction == "rtl"} == RIGHT_TO_LEFT


@pytest.mark.parametrize("language", registry.LANGUAGES, ids=lambda language: language.code)
def test_fallbacks_name_other_known_languages_once(language: registry.Language) -> None:
    assert [code for code in language.fallbacks if not registry.is_known(code)] == []
    assert language.code not in language.fallbacks
    assert len(set(language.fallbacks)) == len(language.fallbacks)
    # every chain ends in English, the language every text exists in first
    assert language.code == "en" or language.fallbacks[-1] == "en"


def test_get_and_is_known() -> None:
    assert (registry.get("prs").english_name, registry.get("prs").native_name) == ("Dari", "دری")
    assert [registry.is_known(code) for code in ("ckb", "CKB", "ar-SA", "", "xx")] == [
        True,
        False,
        False,
        False,
        False,
    ]
    with pytest.raises(KeyError):
        registry.get("xx")


# --- fallback_chain ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "available", "source", "chain"),
    [
        ("ar", ["en", "sv", "ar"], "en", ["ar", "en"]),
        ("ckb", ["en", "sv", "ar"], "en", ["ar", "en"]),
        ("ckb", ["en", "kmr", "ar", "ckb"], "en", ["ckb", "kmr", "ar", "en"]),
        ("prs", ["en", "fa"], "en", ["fa", "en"]),
        ("prs", ["en", "sv", "ar"], "en", ["en"]),
        ("ps", ["en", "fa", "prs", "ps"], "en", ["ps", "prs", "fa", "en"]),
        ("ps", ["en", "fa"], "en", ["fa", "en"]),
        ("fa", ["prs", "en"], "en", ["prs", "en"]),
        ("uk", ["ru", "en", "uk"], "en", ["uk", "ru", "en"]),
        # the study's source language ends every chain, also when it is not English
        ("ar", ["sv", "ar", "en"], "sv", ["ar", "en", "sv"]),
        ("fr", ["sv", "ar"], "sv", ["sv"]),
        # and is added even when the study does not list it
        ("sv", ["sv"], "en", ["sv", "en"]),
        # unknown codes fall straight to the source language
        ("xx", ["en", "sv"], "en", ["en"]),
        ("AR", ["en", "ar"], "en", ["en"]),
    ],
)
def test_fallback_chain(code: str, available: list[str], source: str, chain: list[str]) -> None:
    assert registry.fallback_chain(code, available=available, source=source) == chain


def test_fallback_chain_accepts_a_tuple_of_available_languages() -> None:
    assert registry.fallback_chain("kmr", available=("en", "ckb"), source="en") == ["ckb", "en"]


@given(
    code=st.one_of(st.sampled_from(registry.CODES), st.text(max_size=8)),
    available=st.lists(st.sampled_from(registry.CODES), unique=True),
    source=st.sampled_from(registry.CODES),
)
def test_a_fallback_chain_is_unique_available_languages_with_the_source(
    code: str, available: list[str], source: str
) -> None:
    chain = registry.fallback_chain(code, available=available, source=source)

    assert source in chain
    assert len(set(chain)) == len(chain)
    assert set(chain) - {source} <= set(available)
    assert chain[0] == code or code not in available


@pytest.mark.parametrize(
    ("code", "available", "source"),
    [
        ("sv", ["sv", "en", "ar"], "sv"),
        ("ps", ["ps", "prs", "fa", "en"], "prs"),
    ],
)
def test_the_source_language_ends_every_chain(code: str, available: list[str], source: str) -> None:
    assert registry.fallback_chain(code, available=available, source=source)[-1] == source


# --- negotiate ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "available", "served"),
    [
        (["sv"], ["en", "sv", "ar"], "sv"),
        (["fr", "ar"], ["en", "sv", "ar"], "ar"),  # first one we have
        (["sv-SE"], ["en", "sv"], "sv"),  # primary subtag
        (["SV-se"], ["en", "sv"], "sv"),
        ([" ar "], ["en", "ar"], "ar"),
        (["de", "fr"], ["en", "sv"], "en"),  # none: the source language
        ([], ["en", "sv"], "en"),
        (["ckb"], ["en", "ar"], "en"),  # negotiation matches tags; fallback chains are not its job
    ],
)
def test_negotiate(requested: list[str], available: list[str], served: str) -> None:
    assert registry.negotiate(requested, available=available, source="en") == served


def test_negotiate_prefers_an_exact_tag_to_a_primary_subtag() -> None:
    assert registry.negotiate(["pt-BR"], available=["pt", "pt-BR"], source="en") == "pt-BR"


# --- parse_accept_language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("", []),
        ("ar", ["ar"]),
        ("fr;q=0.9, ar;q=0.8", ["fr", "ar"]),
        ("ar;q=0.8, fr;q=0.9", ["fr", "ar"]),
        ("sv-SE,sv;q=0.9,en-US;q=0.8,en;q=0.7", ["sv-SE", "sv", "en-US", "en"]),
        # equal weights keep the header's order; no q means 1
        ("ti;q=0.5, so, prs;q=0.5, ur", ["so", "ur", "ti", "prs"]),
        # q=0 means "not acceptable"
        ("ar;q=0, sv", ["sv"]),
        ("ar;q=0.000", []),
        # "*" and malformed parts are skipped, the rest is kept
        ("*, sv;q=0.5", ["sv"]),
        ("ar;q=high, sv", ["sv"]),
        (" , ,,sv", ["sv"]),
        ("x" * 36 + ", fa", ["fa"]),
    ],
)
def test_parse_accept_language(header: str, tags: list[str]) -> None:
    assert registry.parse_accept_language(header) == tags


def test_parse_accept_language_reads_at_most_max_items_parts() -> None:
    header = ", ".join(f"l{index}" for index in range(30))

    assert registry.parse_accept_language(header) == [f"l{index}" for index in range(20)]
    assert registry.parse_accept_language(header, max_items=3) == ["l0", "l1", "l2"]


@pytest.mark.parametrize("weight", ["2", "inf", "1e3", "1.5"])
def test_a_weight_above_one_does_not_outrank_q_one(weight: str) -> None:
    # skipped as malformed, or at most taken as 1: either way Swedish, listed first, stays first
    assert registry.parse_accept_language(f"sv, ar;q={weight}")[0] == "sv"


@given(st.text(max_size=300))
def test_any_header_parses_to_tags_taken_from_it(header: str) -> None:
    tags = registry.parse_accept_language(header)

    parts = [part.partition(";")[0].strip() for part in header.split(",")[:20]]
    assert all(tag in parts for tag in tags)
    assert all(tag and tag != "*" and len(tag) <= 35 for tag in tags)
    assert len(tags) <= 20


@given(
    st.lists(
        st.tuples(
            st.sampled_from(registry.CODES),
            st.one_of(st.none(), st.integers(min_value=0, max_value=1000).map(lambda n: n / 1000)),
        ),
        max_size=20,
    )
)
def test_well_formed_headers_are_ordered_by_weight(weighted: list[tuple[str, float | None]]) -> None:
    header = ", ".join(code if q is None else f"{code};q={q:.3f}" for code, q in weighted)

    tags = registry.parse_accept_language(header)

    # by descending weight, equal weights in header order, q=0 left out
    ranked = sorted((-(1.0 if q is None else q), index, code) for index, (code, q) in enumerate(weighted))
    assert tags == [code for weight, _, code in ranked if weight < 0]


# --- UI messages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(messages.CATALOGUE))
def test_every_message_exists_in_every_language(key: str) -> None:
    texts = messages.CATALOGUE[key]

    assert sorted(texts) == sorted(registry.CODES)
    assert [code for code, text in texts.items() if not text.strip()] == []


def test_a_message_is_served_in_the_language_asked_for() -> None:
    assert [messages.message("dont_know", code) for code in ("en", "sv", "ar", "prs")] == [
        "Don't know",
        "Vet inte",
        "لا أعرف",
        "نمی‌دانم",
    ]


PARTIAL_MESSAGE = {"en": "English", "ar": "Arabic", "fa": "Persian", "prs": "Dari"}


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fa", "Persian"),
        ("prs", "Dari"),
        ("ps", "Dari"),  # Pashto tries Dari before Persian
        ("ckb", "Arabic"),  # Sorani: no Kurmanji either, then Arabic
        ("kmr", "English"),  # Kurmanji: no Sorani either, then English
        ("sv", "English"),
        ("xx", "English"),  # unknown language
    ],
)
def test_a_missing_message_falls_back_along_the_chain(
    monkeypatch: pytest.MonkeyPatch, language: str, text: str
) -> None:
    monkeypatch.setitem(messages.CATALOGUE, "partial", PARTIAL_MESSAGE)

    assert messages.message("partial", language) == text


def test_dari_falls_back_to_persian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(messages.CATALOGUE, "partial", {"en": "English", "fa": "Persian"})

    assert [messages.message("partial", code) for code in ("prs", "ps", "ur")] == [
        "Persian",
        "Persian",
        "English",
    ]


def test_an_unknown_message_key_is_an_error() -> None:
    with pytest.raises(KeyError):
        messages.message("no_such_message", "en")
