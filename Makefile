# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test install install-dev translations lint clean stack-start stack-stop stack-status

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed node_modules/.installed
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# Test-only JavaScript from the npm registry (package.json: ical.js reads the calendars as
# Thunderbird does; axe-core checks every page in Chromium), again whenever package.json changes.
node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

# Compiled message catalogs are build output (ignored by git).
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -f -d translations >/dev/null

run: install
	$(FLASK) db upgrade
	$(FLASK) portal demo --if-empty
	@echo ""
	@echo "  Portal:  http://$(HOST):$(PORT)/"
	@echo "  Demo log-ins (local demo data only):"
	@echo "    事務局 secretariat@example.org / demo-secretariat"
	@echo "    会員   member@example.org      / demo-member-2021"
	@echo "    オブザーバー observer@example.org / demo-observer-2021"
	@echo "  Mail: no MAIL_SERVER set, so messages are written to instance/mail/*.eml"
	@echo "        (and listed in the back office under 事務局 → 送信メール)."
	@echo ""
	$(FLASK) mail deliver & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

# The production stack on this machine (nginx → gunicorn → PostgreSQL, Redis, mail worker), stopped
# by PID: settings by environment (DATABASE_URL, RUN_DIR, STACK_LISTEN…; see deploy/stack.py).
stack-start: install
	deploy/stack start

stack-stop:
	deploy/stack stop

stack-status:
	deploy/stack status

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache
