# make demo  - the AZ-1 showroom on a virtual board: doors and engine, plotted to out/demo/showroom.png
# make test  - lint, firmware type check, mpy-cross compile, pytest (CPython and MicroPython); the phone page's
#              browser test needs Debian's chromium and chromium-driver (.ci/run installs them), else it is skipped
# make bench - benchmarks (allocation per call under MicroPython, ...)
# Each target creates .venv and installs what it needs on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The MicroPython stdlib stubs replace CPython's typeshed for the firmware check.
SITE = $(shell $(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

.PHONY: demo test lint typecheck compile pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/python -m host_tools.demo

test: lint typecheck compile pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/pyright -p firmware.pyrightconfig.json --typeshedpath $(SITE)

compile: $(STAMP)
	$(BIN)/python -m host_tools.build --check

# Each test file runs whole in one of three workers (a file's MicroPython run is one process).
pytest: $(STAMP)
	$(BIN)/pytest -n 3 --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build
