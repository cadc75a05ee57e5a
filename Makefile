# Tapbuy: `make run` (embedded default) and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
WORKERS ?= 2
# `make test` runs the suite in this many processes (pytest-xdist), each with its own
# test database, Redis keys and Celery queue (tests/parallel.py).
TEST_PROCESSES ?= 2

.PHONY: run serve test fuzz lint format install install-dev install-bench bench-load browser media-tools clean

# The virtual environment is created once and refreshed when a lock file changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/dev.txt $(VENV)/.base-installed
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

# The load-test tools (locust, with gevent and Flask) have a lock file of their own: only
# `make bench-load` installs them, never `make test`.
$(VENV)/.bench-installed: requirements/bench.txt $(VENV)/.dev-installed
	$(BIN)/pip install --quiet -r requirements/bench.txt
	touch $@

install: $(VENV)/.base-installed
install-dev: $(VENV)/.dev-installed
install-bench: $(VENV)/.bench-installed

# Embedded default: SQLite, in-memory channel layer, Celery over the filesystem broker
# with an embedded beat; DATABASE_URL / REDIS_URL are honoured when set.
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	PORT=$(PORT) scripts/run-embedded

# The production topology on one machine: WORKERS ASGI processes on PORT, a Celery
# worker and beat, against DATABASE_URL and REDIS_URL.
serve: install
	PORT=$(PORT) WORKERS=$(WORKERS) scripts/serve

# Debian's Chromium for the browser tests (nothing downloads its own browser).
browser:
	@scripts/ensure-chromium

# Debian's nginx with the RTMP module and ffmpeg for the ingest test.
media-tools:
	@scripts/ensure-media-tools

test: install-dev browser media-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	CACHE_PREFIX=tapbuy-test CHANNEL_PREFIX=tapbuy-test $(BIN)/python -m pytest \
		-n $(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

# The API fuzzing and the money state machine (tests/fuzz) with many more examples and
# steps than `make test` gives them; FUZZ_EXAMPLES and FUZZ_STEPS override the sizes.
FUZZ_EXAMPLES ?= 300
FUZZ_STEPS ?= 60
fuzz: install-dev
	CACHE_PREFIX=tapbuy-test CHANNEL_PREFIX=tapbuy-test FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		FUZZ_STEPS=$(FUZZ_STEPS) $(BIN)/python -m pytest tests/fuzz $(PYTEST_ARGS)

# A busy live for LOAD_MINUTES under locust (bench/load/): the production topology on its
# own database and redis-server; the figures go to bench/README.md (LOAD_ARGS=--no-readme).
LOAD_MINUTES ?= 30
LOAD_USERS ?= 200
LOAD_SPAWN_RATE ?= 2
bench-load: install-bench
	$(BIN)/python bench/load/busy_live.py --minutes $(LOAD_MINUTES) --users $(LOAD_USERS) \
		--spawn-rate $(LOAD_SPAWN_RATE) $(LOAD_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var db.sqlite3
