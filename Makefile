# Thin wrappers over the `obsstack` command (src/obsstack). `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OBSSTACK := $(VENV)/bin/obsstack
COMPOSE ?= docker compose

.DEFAULT_GOAL := help
.PHONY: help up down logs ps smoke urls validate test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(VENV)/.setup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

# The tests also import the GPU exporter and the demo app: their own distributions, installed editable.
$(VENV)/.test: pyproject.toml exporters/pyproject.toml demo/pyproject.toml $(VENV)/.setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' -e ./exporters -e ./demo
	@touch $@

up: $(VENV)/.setup ## write .env with generated secrets (first run), check the host, start everything
	$(OBSSTACK) setup
	$(COMPOSE) up -d --wait
	@$(OBSSTACK) urls

down: ## stop the stack (data volumes are kept)
	$(COMPOSE) down

logs: ## follow every service's log
	$(COMPOSE) logs -f --tail=100

ps: ## show the services and their health
	$(COMPOSE) ps

urls: $(VENV)/.setup ## print the URLs and where each login is
	@$(OBSSTACK) urls

smoke: $(VENV)/.setup ## prove the running stack works, part by part
	$(OBSSTACK) smoke --wait 180

validate: $(VENV)/.setup ## check the host and every config without changing anything
	$(OBSSTACK) validate

test: $(VENV)/.test ## install the real tools into .tools/ and run every test
	$(OBSSTACK) toolchain install
	$(PY) -m pytest
