# Every target creates or refreshes .venv from the project's own files first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ORACLE := .oracle
PYTEST_ARGS ?=

.PHONY: install sysdeps oracle lab demo test test-fast bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev,lab]'
	touch $@

install: $(VENV)/.installed

# System packages the tests and notebooks use: graphviz's `dot` and Debian's Chromium
# (for the JupyterLab browser test; Playwright never downloads a browser here).
sysdeps:
	@command -v dot >/dev/null && command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q graphviz chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q graphviz chromium >/dev/null; }; }

# Real MXNet 1.9.1 in its own venv: the oracle for parity tests (numpy 1.x, separate process).
$(ORACLE)/.installed:
	test -x $(ORACLE)/bin/python || $(PYTHON) -m venv $(ORACLE)
	$(ORACLE)/bin/python -m pip install -q numpy==1.23.5 mxnet==1.9.1
	touch $@

oracle: $(ORACLE)/.installed

lab: install sysdeps
	$(VENV)/bin/jupyter lab notebooks/

# Headless twin of `make lab`: executes every notebook and writes HTML to build/demo/.
demo: install sysdeps
	$(PY) scripts/run_notebooks.py --html build/demo notebooks

test: install sysdeps oracle
	MXTEACH_ORACLE=$(ORACLE)/bin/python MXTEACH_REQUIRE_ORACLE=1 MXTEACH_REQUIRE_BROWSER=1 \
		$(PY) -m pytest -n auto -q $(PYTEST_ARGS) tests
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q -p no:cacheprovider -m cudasim \
		tests/test_cuda_kernels.py tests/test_gpu_module.py
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax \
		--nbval-sanitize-with notebooks/sanitize.cfg notebooks

# Everything except the slow, browser and CUDA-simulator tests.
test-fast: install oracle
	MXTEACH_ORACLE=$(ORACLE)/bin/python $(PY) -m pytest -n auto -q \
		-m "not slow and not browser and not cudasim" tests

bench: install oracle
	$(PY) -m pip install -q -e '.[dev,lab,bench]'
	MXTEACH_ORACLE=$(ORACLE)/bin/python $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(ORACLE) build *.egg-info
