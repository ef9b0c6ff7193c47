# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,audit]'

demo: install
	$(BIN)/facesafe anonymize examples --out out --overwrite

test: install-dev
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf out out.manifest.sqlite build dist src/*.egg-info
