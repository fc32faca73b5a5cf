# tinygrad_edu: `make demo` and `make test` set everything up on a fresh machine.
#
#   make demo    create .venv, install the package, train an MLP on the offline default dataset
#                (digits), writing the model, a training plot, the forward graph (graph.svg) and
#                the backprop player (backprop.html) to runs/demo
#   make test    create .venv and run the whole test suite (what CI runs); installs Graphviz's
#                `dot`, and Chromium with its driver for the browser tests, when they are missing
#                and we are root
#   make lint    ruff check and format check
#   make bench   tinygrad_edu vs NumPy, PyTorch and MyGrad, and an MNIST epoch vs PyTorch (benchmarks/)
#   make oracle  add PyTorch (CPU) from a local wheel, as a second test oracle
#   make docs    write notebooks/ from the pages and build the documentation site into site/
#                (mkdocs build --strict; the site works offline, opened from the disk)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_OUT ?= runs/demo

# One BLAS thread: with two, OpenBLAS slows down several times over whenever the other core of
# a small machine is busy, and these small networks gain nothing from a second thread.
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: demo test lint bench dot browser oracle docs clean

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

# The browser tests (the backprop player, the docs) use Debian's headless Chromium and its driver;
# install them when we can, otherwise those tests skip and say how to install them.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver with apt-get (for the browser tests)"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
		|| echo "note: could not install chromium; the browser tests will be skipped"; \
	else \
		echo "note: no chromium/chromedriver; the browser tests will be skipped. Install them with:"; \
		echo "  sudo apt-get install chromium chromium-driver"; \
	fi

# PyTorch (CPU) is an optional second oracle for the tests and a contender in the benchmarks.
# It is installed only from a local wheel (pip's find-links), never as a multi-GB download;
# without one, the tests that use it are skipped.
oracle: $(STAMP)
	@$(PY) -c "import torch" 2>/dev/null || \
	{ $(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-index torch==2.13.0 2>/dev/null && \
	  $(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0; } || \
	echo "note: no local PyTorch 2.13.0 (CPU) wheel; the tests that compare with PyTorch will be skipped"

test: $(STAMP) dot browser oracle
	$(PY) -m pytest -q

demo: $(STAMP) dot
	$(VENV)/bin/tinygrad-edu train --out $(DEMO_OUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The benchmarks of issue 12 at the libraries' default threads: the OPENBLAS_NUM_THREADS=1 exported
# above is dropped here unless it came from your environment. Options go through BENCH_ARGS (to
# benchmarks/bench.py) and EPOCH_ARGS (to benchmarks/bench_mnist_epoch.py), e.g.
# make bench BENCH_ARGS=--quick EPOCH_ARGS=--quick, or BENCH_ARGS="--threads 1".
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ENV := $(if $(filter file,$(origin OPENBLAS_NUM_THREADS)),env -u OPENBLAS_NUM_THREADS)

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]' && touch $@ || \
	echo "note: could not install the bench extra (mygrad, threadpoolctl); MyGrad is left out of the benchmark"

bench: $(STAMP) oracle $(BENCH_STAMP)
	$(BENCH_ENV) $(PY) benchmarks/bench.py $(BENCH_ARGS)
	$(BENCH_ENV) $(PY) benchmarks/bench_mnist_epoch.py $(EPOCH_ARGS)

# The pages' code runs in `make test` (tests/test_docs.py, as notebooks); this writes the
# notebooks made from the pages and renders the site.
docs: $(STAMP)
	$(PY) docs/hooks/pages.py notebooks
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) runs site .pytest_cache .ruff_cache .hypothesis
