# Two commands on a fresh machine:  `make run` (the web app)  and  `make test` (the test suite).
# Both create .venv and install the project first (once; re-run `make install` after changing deps).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VLLM_STAMP := .venv-vllm/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run chat test lint clean

$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $(STAMP)

install: $(STAMP)

$(VLLM_STAMP): scripts/install_vllm.sh  ## vLLM CPU build for the scale-out tests (own env)
	bash scripts/install_vllm.sh .venv-vllm
	touch $(VLLM_STAMP)

run: $(STAMP)  ## the web app on http://127.0.0.1:8000 (SQLite, starter KG, knowledge-only backend)
	$(BIN)/chatdoctor serve

chat: $(STAMP)  ## terminal chat with the configured backend
	$(BIN)/chatdoctor chat

test: $(STAMP) $(VLLM_STAMP)  ## the whole suite on SQLite, then the database tests again on PostgreSQL when it is up
	$(BIN)/python -m pytest
	@if $(BIN)/python scripts/db_reachable.py "$(PG_URL)"; then \
		CHATDOCTOR_TEST_DATABASE_URL="$(PG_URL)" $(BIN)/python -m pytest -m postgres || [ $$? -eq 5 ]; \
	else echo "PostgreSQL not reachable at $(PG_URL): database tests ran on SQLite only"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache .ruff_cache
