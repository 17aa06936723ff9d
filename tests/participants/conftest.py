"""Fixtures for the participants register's tests; plain helpers are in register_helpers.py.

The personas and the study come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_throttle_cache() -> Iterator[None]:
    """Throttle counters live in the (process-wide) cache: every test starts with a fresh budget."""
    cache.clear()
    yield
    cache.clear()
