"""Helpers shared by the benchmarks in this folder (run by scripts/bench.sh, one process each)."""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings.bench"
    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # WhiteNoise: no collectstatic here
    import django

    django.setup()


def measure(fn: Callable[[], Any], repeat: int, *, setup: Callable[[], Any] | None = None) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs; ``setup`` runs before each, untimed."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rounded(number: float) -> float:
    return float(f"{number:.4g}")


def emit(name: str, unit: str, value: float, floor: float, **extra: Any) -> None:
    """Print the benchmark's one JSON result line; ``ratio`` is value / floor."""
    result = {"name": name, "unit": unit, "value": value, "floor": floor, "ratio": _rounded(value / floor)}
    result.update({key: _rounded(item) if isinstance(item, float) else item for key, item in extra.items()})
    print(json.dumps(result, ensure_ascii=False), flush=True)
