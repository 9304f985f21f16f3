# Quick start: `make demo` and `make test`. Both create or refresh .venv/ in the repo root.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# torch is pinned in the dev install only: 2.13.0 is a CPU build on our machines, while an unpinned
# torch pulls a multi-GB CUDA build. Users of the library choose their own torch.
TORCH  := torch==2.13.0
EXTRAS := dev,transformers,llamacpp,semantic,constrained,mcp

.PHONY: venv install install-dev demo test lint typecheck unit bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

venv: $(PY)
	$(PIP) install --upgrade pip setuptools wheel

install: venv
	$(PIP) install $(TORCH)
	$(PIP) install -e ".[transformers,semantic]"

install-dev: venv
	$(PIP) install $(TORCH)
	$(PIP) install -e ".[$(EXTRAS)]"

demo: install
	$(VENV)/bin/funcroute demo

lint:
	$(VENV)/bin/ruff check src tests bench demos
	$(VENV)/bin/ruff format --check src tests bench demos

typecheck:
	$(VENV)/bin/mypy --strict src

unit:
	$(PY) -m pytest

test: install-dev lint typecheck unit

bench: install-dev
	$(PY) bench/overhead.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
