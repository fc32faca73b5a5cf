# tinygrad_edu: `make demo` and `make test` set everything up on a fresh machine.
#
#   make demo    create .venv, install the package, train an MLP on the offline default dataset
#   make test    create .venv and run the whole test suite (what CI runs)
#   make lint    ruff check and format check
#   make bench   the engine benchmark (benchmarks/bench_engine.py)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_OUT ?= runs/demo

.PHONY: demo test lint bench dot torch clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependencies change.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[all]'
	@touch $@

# Graph rendering needs Graphviz's `dot` program; install Debian's package when we can.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing graphviz (the 'dot' program) with apt-get"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	else \
		echo "Graphviz's 'dot' program is missing. Install it with one of:"; \
		echo "  sudo apt-get install graphviz            (Debian/Ubuntu)"; \
		echo "  brew install graphviz                    (macOS)"; \
		echo "  conda install -c conda-forge graphviz    (conda)"; \
		exit 1; \
	fi

# PyTorch is an optional second oracle for the tests and a contender in the benchmarks.
torch: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0

test: $(STAMP) dot
	$(PY) -m pytest -q

demo: $(STAMP) dot
	$(PY) examples/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) runs site .pytest_cache .ruff_cache .hypothesis
