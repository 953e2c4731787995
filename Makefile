# DevSkyy: `make run` (embedded platform on http://127.0.0.1:8000), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev lint format bench worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Embedded mode: no services, no keys. Migrates, seeds, prints an operator login once, serves.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap_embedded
	EMBEDDED_BEAT=true $(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

## Lint, type-check, Django checks, then both test passes (embedded, then PostgreSQL + Redis).
test: install-dev
	scripts/test

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install
	$(BIN)/celery -A devskyy.taskqueue worker --loglevel=INFO

bench: install-dev
	bench/run

clean:
	rm -rf $(VENV) var staticfiles .mypy_cache .ruff_cache
