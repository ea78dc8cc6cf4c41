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

.PHONY: demo test lint typecheck bench venv serve clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create a virtualenv: on Debian, apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

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
