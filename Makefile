# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ASSETS := static/vendor/.assets-stamp
export FLASK_APP := app

.PHONY: run test install assets migrate lint check fmt bench schemathesis clean

run: install assets migrate ## set up, then serve on SQLite at instance/attendance.db
	$(BIN)/python app.py

test: install assets ## the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

assets: $(ASSETS)

# Front-end libraries come from npm and are copied into static/vendor: no CDN at run time.
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js node_modules/socket.io-client/dist/socket.io.min.js.map static/vendor/
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map static/vendor/
	touch $(ASSETS)

migrate: install
	mkdir -p instance
	$(BIN)/flask db upgrade

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: install ## the layers (import-linter) and the types (mypy), as CI runs them
	$(BIN)/lint-imports
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/ingest.py

schemathesis: install ## every schemathesis check against a real, seeded server
	PYTHON=$(BIN)/python SCHEMATHESIS=$(BIN)/schemathesis bash tests/schemathesis.sh

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache
