# Thin wrappers over scripts/. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COMPOSE ?= docker compose

.DEFAULT_GOAL := help
.PHONY: help up down logs ps smoke urls validate test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(VENV)/.setup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[setup]'
	@touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[setup,demo,test]'
	@touch $@

up: $(VENV)/.setup ## write .env with generated secrets (first run), check the host, start everything
	$(PY) scripts/setup.py
	$(COMPOSE) up -d --wait
	@$(PY) scripts/setup.py --urls

down: ## stop the stack (data volumes are kept)
	$(COMPOSE) down

logs: ## follow every service's log
	$(COMPOSE) logs -f --tail=100

ps: ## show the services and their health
	$(COMPOSE) ps

urls: $(VENV)/.setup ## print the URLs and where each login is
	@$(PY) scripts/setup.py --urls

smoke: $(VENV)/.setup ## prove the running stack works, part by part
	$(PY) scripts/smoke_test.py --wait 180

validate: $(VENV)/.setup ## check the host and every config without changing anything
	$(PY) scripts/setup.py --check-only

test: $(VENV)/.test ## install the real tools into .tools/ and run every test
	$(PY) scripts/toolchain.py install
	$(PY) -m pytest
