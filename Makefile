# Two commands on a fresh machine: `make run` starts the bot, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: run chat check test lint bench clean

run: $(VENV)/.installed $(CONFIG)
	$(BIN)/relaybot run -c $(CONFIG)

chat: $(VENV)/.installed $(CONFIG)
	$(BIN)/relaybot chat -c $(CONFIG)

check: $(VENV)/.installed $(CONFIG)
	$(BIN)/relaybot check-config -c $(CONFIG)

test: $(VENV)/.installed-dev
	$(BIN)/pytest -q

lint: $(VENV)/.installed-dev
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

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_chat.py --answers 100
	$(BIN)/python bench/bench_telegram.py --answers 20

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
