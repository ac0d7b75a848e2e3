# Archive Portal: `make run` to use it, `make test` to test it. Nothing else needs installing by hand.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO ?= 1
RUN_PROCS := s3 worker beat web $(if $(filter 0 no off false,$(DEMO)),,demo)

.PHONY: run test bench bench-tiers bench-erasure bench-queries bench-dashboard setup services check-services browser pdf-libs promtool clean

$(STAMP): requirements/base.txt requirements/test.txt requirements/lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/test.txt -c requirements/lock.txt
	touch $(STAMP)

setup: $(STAMP)

## pdf-libs: Pango for WeasyPrint (certificates of erasure as PDF), from Debian when missing
pdf-libs:
	@ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; }

check-services: setup pdf-libs
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-archive_portal.settings.local} $(PY) manage.py preflight

## run: set everything up and run SeaweedFS, the worker (owns the warehouse), beat, the web and a demo feed
# Every process of the local run gets the local settings: Celery and WSGI default to production.
run: export DJANGO_SETTINGS_MODULE := archive_portal.settings.local
run: check-services
	ARCHIVE_MIGRATE_WAREHOUSE=false $(PY) manage.py migrate --noinput
	@$(PY) manage.py ensure_admin
	@rm -rf var/metrics  # prometheus-client's multiprocess files of an earlier run (docs/operations.md, Metrics)
	@echo "Archive Portal: http://127.0.0.1:8000/  (admin: http://127.0.0.1:8000/admin/)  Ctrl-C stops everything."
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile start $(RUN_PROCS)

## browser: Debian's chromium for the browser tests (Playwright drives it; its own download is not used)
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## promtool: Debian's prometheus package, whose promtool checks the shipped alert rules (docker/prometheus/alerts.yml)
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

## test: set up and run the whole suite against real PostgreSQL, Redis, SeaweedFS and chDB
test: setup browser pdf-libs promtool
	DJANGO_SETTINGS_MODULE=archive_portal.settings.test $(PY) manage.py preflight
	$(PY) -m pytest $(PYTEST_ARGS)

## bench: the export benchmark (prints one JSON object)
bench: check-services
	$(PY) manage.py migrate --noinput --skip-warehouse
	$(PY) manage.py archive bench --records $${RECORDS:-200000} --json

## bench-tiers: tiering, compaction and query latency on 2M records over 60 days (RECORDS=N)
bench-tiers: check-services
	$(PY) manage.py migrate --noinput --skip-warehouse
	$(PY) manage.py archive bench --tiers --records $${RECORDS:-2000000} --json

## bench-erasure: an approved erasure's time to verified, per step, on 2M records over 60 days (RECORDS=N)
bench-erasure: check-services
	$(PY) manage.py migrate --noinput --skip-warehouse
	$(PY) manage.py archive bench --erasure --records $${RECORDS:-2000000} --json

## bench-queries: every query template over 7 days, 90 days and all of 10M records over 365 days, job lookup, run overhead (RECORDS=N)
bench-queries: check-services
	$(PY) manage.py migrate --noinput --skip-warehouse
	$(PY) manage.py archive bench --queries --records $${RECORDS:-10000000} --json

## bench-dashboard: the dashboard's rollup figures for 24 h, 30 days and all of 2M records over 365 days, p50/p95 (RECORDS=N)
bench-dashboard: check-services
	$(PY) manage.py migrate --noinput --skip-warehouse
	$(PY) manage.py archive bench --dashboard --records $${RECORDS:-2000000} --json

clean:
	rm -rf var/test
