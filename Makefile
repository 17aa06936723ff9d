# `make run`: the product on SQLite with the demo study; `make test`: lint, types and all tests
# against throwaway PostgreSQL and Redis; `make bench`: the benchmarks.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCAL := DJANGO_SETTINGS_MODULE=backend.settings.local

.PHONY: install run test bench lock format clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(LOCAL) $(PY) manage.py migrate --noinput
	$(LOCAL) $(PY) manage.py demo_setup
	$(LOCAL) $(PY) manage.py runserver 127.0.0.1:8000

test: install
	scripts/testenv.sh scripts/check.sh $(PYTEST_ARGS)

bench: install
	scripts/testenv.sh scripts/bench.sh

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
