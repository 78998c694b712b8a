# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# SpikingJelly releases that published spiking transformers pin; each lives in its own folder (they cannot share a
# venv with 2.x) and the tests run it in a subprocess with PYTHONPATH set (tests/test_published.py).
OLD_SJ := 0.0.0.0.12 0.0.0.0.14

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): Makefile pyproject.toml constraints.txt requirements-nodeps.txt requirements-sj.txt \
		requirements-lava.txt requirements-lava-deps.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/pip install -q -c constraints.txt -r requirements-sj.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install -q -c constraints.txt -r requirements-lava-deps.txt
	$(BIN)/pip install -q --no-deps --ignore-requires-python -r requirements-lava.txt
	for v in $(OLD_SJ); do $(BIN)/pip install -q --no-deps --upgrade --target $(VENV)/spikingjelly-$$v spikingjelly==$$v; done
	touch $(STAMP)

demo: setup
	$(BIN)/python examples/demo.py $(if $(MODEL),--model $(MODEL))

lint: setup
	$(BIN)/ruff check snncompile tests examples bench targets
	$(BIN)/mypy  # files and options: pyproject.toml [tool.mypy]

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
