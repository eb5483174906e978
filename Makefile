# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv and install the package into it; torch is pinned to the
# CPU build first so that pip never resolves the multi-GB CUDA wheel.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: install demo test lint reproduce-quick clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[bm3d,dev,distributed,heif]"
	touch $@

demo: install
	$(BIN)/n2n demo --out demo-output

test: install
	$(BIN)/python -m pytest -q

# The report's experiments end to end on 2 small images with a few steps (needs ../shared/data).
reproduce-quick: install
	rm -rf $(VENV)/reproduce-quick
	$(BIN)/n2n reproduce all --quick --out $(VENV)/reproduce-quick

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) demo-output
