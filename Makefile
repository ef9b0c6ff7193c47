# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-dev bench-deps clean

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
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

# Baselines for benchmarks/: deface 1.5.0 with its fast onnxruntime backend,
# which needs the `onnx` package: kept in a venv of its own, because `onnx`
# upgrades protobuf past what mediapipe 0.10.21 accepts.
bench-deps: install-dev
	$(PYTHON) -m venv .bench/deface
	.bench/deface/bin/python -m pip install --quiet deface==1.5.0 onnx onnxruntime

clean:
	rm -rf out out.facesafe.sqlite* build dist src/*.egg-info
