"""Benchmarks only (tests/bench/bench_ingest.py): the bench settings plus a floor endpoint,
``POST /bench/floor/``, that parses a JSON body and inserts it as one row (tests/bench/floor_urls.py)."""

from backend.settings.bench import *  # noqa: F403

ROOT_URLCONF = "tests.bench.floor_urls"
