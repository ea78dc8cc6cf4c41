# The two set-up commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Where the demo is served, for the app and its local Clever alike (the redirect URI the sandbox
# checks derives from it): set by HOST and PORT only, so `make demo PORT=8001` moves both.
demo: export APP_BASE_URL = http://$(HOST):$(PORT)

.PHONY: demo test lint typecheck bench venv lock serve clean

venv: $(STAMP)

# The exact versions of requirements/dev.lock (hashes checked): the app, the sandbox's extra (the
# demo) and the dev extra (tests, checks, benchmarks). `make lock` writes the locks again after
# a change to pyproject.toml's pins; production installs requirements/production.lock.
$(STAMP): pyproject.toml requirements/dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create a virtualenv: on Debian, apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

LOCK := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: venv
	$(LOCK) --extra dev --extra sandbox -o requirements/dev.lock pyproject.toml
	$(LOCK) -o requirements/production.lock pyproject.toml

# The same checks run as pre-commit hooks (.pre-commit-config.yaml), pytest aside.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

test: venv lint typecheck
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	EAGER_TASKS_IN_BACKGROUND=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

bench: venv
	$(BIN)/python bench/sandbox_bench.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
