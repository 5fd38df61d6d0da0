# Every target creates or refreshes .venv from the project's own files first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ORACLE := .oracle
PYTEST_ARGS ?=

.PHONY: install sysdeps sysdeps-lab sysdeps-test oracle lab demo docs test test-fast screenshots \
	bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# a fresh venv carries setuptools 65 without bdist_wheel; the wheel test builds in-venv
	$(PY) -m pip install -q -U 'setuptools>=70.1' wheel
	$(PY) -m pip install -q -e '.[dev,lab,dist,docs]'
	touch $@

install: $(VENV)/.installed

# System packages through apt, as root or with sudo when it needs no password.
# `$(call apt_install,PKGS)`: installs PKGS; returns non-zero if that was impossible.
APT_INSTALL = { SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	command -v apt-get >/dev/null 2>&1 && \
	{ $$SUDO apt-get install -y -q $(1) >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null 2>&1 && \
	    $$SUDO apt-get install -y -q $(1) >/dev/null 2>&1; }; }; }

# The notebooks need one system program, graphviz's `dot` (GraphView, mx.viz.plot_network).
# Never fails: without apt (a Mac, a container without root) it says what to do, and the
# notebooks still run (GraphView then draws a plain layer stack and says why).
sysdeps-lab:
	@command -v dot >/dev/null 2>&1 || $(call APT_INSTALL,graphviz) || \
		echo "note: graphviz's 'dot' is not installed and could not be installed here" \
		"(no apt, or no root/sudo). GraphView will draw a plain layer stack instead." \
		"Install it with 'sudo apt-get install graphviz' or 'brew install graphviz'."

# The tests also need Debian's Chromium for the JupyterLab browser test (Playwright never
# downloads a browser here); a failure to install is an error.
sysdeps-test:
	@command -v dot >/dev/null 2>&1 && [ -x /usr/bin/chromium ] || \
		$(call APT_INSTALL,graphviz chromium) || \
		{ echo "error: the tests need graphviz and chromium (apt-get install graphviz" \
		       "chromium)" >&2; exit 1; }

sysdeps: sysdeps-test

# Real MXNet 1.9.1 in its own venv: the oracle for parity tests (numpy 1.x, separate process).
$(ORACLE)/.installed:
	test -x $(ORACLE)/bin/python || $(PYTHON) -m venv $(ORACLE)
	$(ORACLE)/bin/python -m pip install -q numpy==1.23.5 mxnet==1.9.1
	touch $@

oracle: $(ORACLE)/.installed

# JupyterLab refuses to run as root unless told: containers usually run as root.
ALLOW_ROOT = $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: install sysdeps-lab
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) notebooks/

# Headless twin of `make lab`: executes every notebook and writes HTML to build/demo/.
demo: install sysdeps-lab
	$(PY) scripts/run_notebooks.py --html build/demo notebooks

# The documentation site (Sphinx: API reference, the course with its stored outputs, the
# teacher's guide, benchmarks, design notes) into build/docs/; any warning is an error.
docs: install
	$(PY) -m sphinx -W --keep-going -q -b html docs build/docs
	@echo "open build/docs/index.html"

test: install sysdeps-test oracle
	MXTEACH_ORACLE=$(ORACLE)/bin/python MXTEACH_REQUIRE_ORACLE=1 MXTEACH_REQUIRE_BROWSER=1 \
		$(PY) -m pytest -n auto -q $(PYTEST_ARGS) tests
	# every test marked cudasim, wherever it lives
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -n auto -q -p no:cacheprovider -m cudasim tests
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax \
		--nbval-sanitize-with notebooks/sanitize.cfg notebooks

# Everything except the slow, browser and CUDA-simulator tests.
test-fast: install oracle
	MXTEACH_ORACLE=$(ORACLE)/bin/python $(PY) -m pytest -n auto -q \
		-m "not slow and not browser and not cudasim" tests

# Screenshots of every view (light and dark theme, live and stored) into docs/img/, taken by
# the browser harness of tests/test_browser.py.
screenshots: install sysdeps-test
	$(PY) scripts/screenshots.py docs/img

bench: install oracle
	$(PY) -m pip install -q -e '.[dev,lab,bench]'
	MXTEACH_ORACLE=$(ORACLE)/bin/python $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(ORACLE) build *.egg-info
