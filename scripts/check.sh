#!/usr/bin/env bash
# Lint, type-check and test; run by `make test` inside scripts/testenv.sh.
set -euo pipefail
bin=.venv/bin
echo "== ruff"
$bin/ruff check .
$bin/ruff format --check .
echo "== mypy"
$bin/mypy backend surveys participants translations
echo "== pytest"
$bin/pytest "$@"
