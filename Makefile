# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The pinned CPU wheel: a bare `torch` requirement with no torch installed would pull
# several GB of CUDA packages. Users elsewhere get their platform's build via `torch>=2.2`.
TORCH_PIN ?= torch==2.13.0
# Real benchmark data (read-only, never committed): the shared folder beside the repository.
QFCAST_DATA_DIR ?= $(abspath ../shared/data)
export QFCAST_DATA_DIR

.PHONY: demo test lint bench peers reproduce reproduce-quick clean

$(VENV)/.torch:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet "$(TORCH_PIN)"
	touch $@

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m qfcast demo

test: $(VENV)/.dev
	$(PY) -m pytest -q

lint: $(VENV)/.dev
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples

# The research claims (examples/): full runs and REPRODUCTION.md (about 15 min on 2 cores),
# or the same code on less data (a few minutes; CI runs it through tests/test_reproduce.py).
reproduce: $(VENV)/.installed
	$(PY) examples/reproduce.py

reproduce-quick: $(VENV)/.installed
	$(PY) examples/reproduce.py --quick

bench: $(VENV)/.installed
	$(PY) benchmarks/distributions.py
	$(PY) benchmarks/data.py

# Peer libraries (GluonTS, ...) live in their own venv, never in ours.
PEERS_VENV := .venv-peers
peers:
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet "$(TORCH_PIN)"
	$(PEERS_VENV)/bin/pip install --quiet -r benchmarks/peers/requirements.txt

clean:
	rm -rf $(VENV) $(PEERS_VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
