# 小申 — `make help` lists the targets. CI runs `make test` (.ci/run).
.DEFAULT_GOAL := help
SHELL := /bin/bash
APP_PY := .venvs/app/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: help setup prepare run replicas test lint eval bench purge clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## create the Python environments from the pinned requirements (only when they changed)
	@bash scripts/setup.sh

prepare: setup ## generate bot data, index the knowledge base, train Rasa if its inputs changed
	@$(APP_PY) -m tools.stack prepare

run: setup ## set everything up and start 小申 (Redis, Rasa, actions, gateway); Ctrl-C stops it
	@$(APP_PY) -m tools.stack run

replicas: setup ## like run, with two gateways, Rasa servers and action servers behind haproxy (XS_REPLICAS=n)
	@$(APP_PY) -m tools.stack replicas

test: prepare ## run every test (unit, contract, integration against the real stack)
	@$(APP_PY) -m pytest

lint: setup ## ruff and mypy
	@$(APP_PY) -m ruff check . && $(APP_PY) -m mypy

eval: setup ## run ../shared/eval/dev_questions.jsonl (or FILE=…) through a running bot's /api/chat
	@$(APP_PY) -m tools.eval $(FILE)

bench: setup ## run the benchmarks and update docs/benchmarks.md
	@$(APP_PY) benchmarks/bench_search.py
	@$(APP_PY) benchmarks/bench_handoff.py
	@$(APP_PY) benchmarks/bench_editor.py
	@$(APP_PY) benchmarks/bench_turn.py
	@$(APP_PY) benchmarks/bench_declarations.py --write --stack 2
	@$(APP_PY) benchmarks/bench_load.py
	@$(APP_PY) benchmarks/bench_replicas.py
	@$(APP_PY) benchmarks/bench_stats.py --write

purge: setup ## delete conversations and 留言 past XS_RETENTION_DAYS (default 30; SENDER=id deletes one now)
	$(APP_PY) -m tools.purge $(if $(SENDER),--sender $(SENDER))

clean: ## remove environments, models and runtime state
	rm -rf .venvs models var .pytest_cache
