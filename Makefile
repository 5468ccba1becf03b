# Each target creates .venv and installs the package on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-commands test-spark test-slow test-faults lint bench bench-spark ui clean preview

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -c "from dagster_project.dbt import ensure_manifest; ensure_manifest()"
	@# Optional: harfbuzz's subsetter makes PDF fonts faster to embed (~10%); fontTools is
	@# the fallback, so a machine without apt or root just skips this.
	@-dpkg -s libharfbuzz-subset0 >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get install -y -q libharfbuzz-subset0 >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -q libharfbuzz-subset0 >/dev/null 2>&1)) ; } || true
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/credits demo

# One module per worker at a time (--dist loadscope): a module's fixture builds its warehouse
# once, where spreading its tests over both workers built it on each (551 s -> 461 s).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not faults and not spark and not commands" -n 2 --dist loadscope -q

# credits run, close, backfill, simulate, report restatements and deliver end to end:
# runs, closes and reruns in sequence, backfills beside runs and closes by hand, scratch
# rebuilds, a real SMTP server (kept out of `make test` to hold it under 10 minutes;
# .ci/run runs it after).
test-commands: $(STAMP)
	$(BIN)/python -m pytest -m commands -n 2 -q

# Every dbt model and data test on a local Spark session, row for row against DuckDB, and
# CREDITS_ENGINE=spark credits run end to end (docs/spark.md). Installs the optional extra
# `spark` (pyspark, dbt-spark, pandas); needs Java 17.
test-spark: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	$(BIN)/python -m pytest -m spark -n 0 -q

# Hostile files, duplicate storms, crashes, concurrency, determinism (docs/RELIABILITY.md).
test-faults: $(STAMP)
	$(BIN)/python -m pytest -m faults -n 2 -q

test-slow: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -m slow -q

# Python by ruff, SQL by sqlfluff (rules and the house-style exceptions: pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check credits_warehouse dagster_project tests bench dbt/models dbt/lint
	$(BIN)/ruff format --check credits_warehouse dagster_project tests bench dbt/models dbt/lint
	$(BIN)/sqlfluff lint dbt/models dbt/tests dbt/macros --processes 2 --disable-progress-bar

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Both engines on the same 1M events (bench/engines.py): installs the optional extra `spark`.
bench-spark: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	$(BIN)/python bench/engines.py

# Sample invoice, credit note and statement from reports/sample_context.yaml, no warehouse
# needed: PDFs in reports/preview/, plus PNG pages when pdftoppm (poppler-utils) is installed.
preview: $(STAMP)
	$(BIN)/python -m credits_warehouse.documents.preview

# The UI on the demo's data (run `make demo` first); CREDITS_* variables point it elsewhere.
ui: $(STAMP)
	mkdir -p .dagster_home && cp dagster_project/dagster.yaml .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home PATH=$(CURDIR)/$(BIN):$$PATH \
	CREDITS_LANDING=$${CREDITS_LANDING:-data/demo/landing} \
	CREDITS_CATALOG=$${CREDITS_CATALOG:-data/demo/catalog.yml} \
	CREDITS_WAREHOUSE=$${CREDITS_WAREHOUSE:-data/demo/warehouse.duckdb} \
	CREDITS_REPORTS=$${CREDITS_REPORTS:-data/demo/reports} \
	$(BIN)/dagster dev -m dagster_project.definitions -h 127.0.0.1 -p $${DAGSTER_PORT:-3000}

clean:
	rm -rf $(VENV) dbt/target dbt/logs data/demo reports/out .pytest_cache
