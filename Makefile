# Two commands on a fresh machine: `make run` starts the bot, `make test` runs the tests.
# Another Python than python3: `make PYTHON=python3.12 test` (the .venv is rebuilt with it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml
MIN_PYTHON := 3.11

# "3.12" for a Python that runs and is new enough, empty otherwise (missing, broken, too old).
good_python = $(shell $(1) -c 'import sys; sys.version_info >= (3, 11) and print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHON_VERSION := $(call good_python,$(PYTHON))
VENV_VERSION := $(call good_python,$(BIN)/python)
# The .venv is rebuilt when its interpreter is gone (a dangling link), broken or too old, or
# when PYTHON was chosen on the command line and the .venv was made by another version.
ifneq ($(filter command line environment,$(origin PYTHON)),)
  ifneq ($(VENV_VERSION),$(PYTHON_VERSION))
    VENV_VERSION :=
  endif
endif
ifeq ($(VENV_VERSION),)
  ifneq ($(wildcard $(VENV)),)
    ifneq ($(PYTHON_VERSION),)
      $(info $(VENV) is broken or was made by another Python: rebuilding it with $(PYTHON) $(PYTHON_VERSION))
      $(shell rm -rf $(VENV))
    endif
  endif
endif

.PHONY: run chat check test lint bench clean python

run: python $(VENV)/.installed $(CONFIG)
	$(BIN)/relaybot run -c $(CONFIG)

chat: python $(VENV)/.installed $(CONFIG)
	$(BIN)/relaybot chat -c $(CONFIG)

check: python $(VENV)/.installed $(CONFIG)
	$(BIN)/relaybot check-config -c $(CONFIG)

test: python $(VENV)/.installed-dev
	$(BIN)/pytest -q

# Stops early, saying why, when no Python new enough can build the .venv.
python:
ifeq ($(VENV_VERSION)$(PYTHON_VERSION),)
	@echo "relaybot needs Python $(MIN_PYTHON) or newer; '$(PYTHON)' is: $$($(PYTHON) --version 2>/dev/null || echo 'not found or not working')" >&2
	@echo "Pick another Python, for example: make PYTHON=python3.12 $(or $(MAKECMDGOALS),run)" >&2
	@exit 2
endif

lint: python $(VENV)/.installed-dev
	$(BIN)/ruff check core bots tests bench
	$(BIN)/mypy

$(CONFIG):
	cp config.example.yaml $(CONFIG)
	@echo "Created $(CONFIG) from config.example.yaml. Fill in before the bot can start:"
	@echo "  relay.base_url  (or export RELAY_BASE_URL)  the relay's root URL"
	@echo "  relay.api_key   (or export RELAY_API_KEY)   your relay key, sk-..."
	@echo "  and for each platform you enable: telegram.token (TELEGRAM_TOKEN), discord.token (DISCORD_TOKEN)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

bench: python $(VENV)/.installed-dev
	$(BIN)/python bench/bench_chat.py --answers 100
	$(BIN)/python bench/bench_telegram.py --answers 20

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
