#!/usr/bin/env bash
# Benchmarks; run by `make bench` inside scripts/testenv.sh (which sets DATABASE_URL and REDIS_URL).
# Migrates once, then runs every tests/bench/bench_*.py in turn; each prints its own lines, the last
# one a JSON object {"name", "unit", "value", "floor", "ratio", ...}.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?run me inside scripts/testenv.sh}" "${REDIS_URL:?run me inside scripts/testenv.sh}"
export DJANGO_SETTINGS_MODULE=backend.settings.bench
.venv/bin/python manage.py migrate --noinput -v0
for file in tests/bench/bench_*.py; do
    name=$(basename "$file" .py)
    echo "== $name" >&2
    .venv/bin/python -m "tests.bench.$name"
done
