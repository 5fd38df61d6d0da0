# Every target creates or refreshes .venv from the project's own files first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ORACLE := .oracle
PYTEST_ARGS ?=

.PHONY: install oracle lab demo test bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev,lab]'
	touch $@

install: $(VENV)/.installed

# Real MXNet 1.9.1 in its own venv: the oracle for parity tests (numpy 1.x, separate process).
$(ORACLE)/.installed:
	test -x $(ORACLE)/bin/python || $(PYTHON) -m venv $(ORACLE)
	$(ORACLE)/bin/python -m pip install -q numpy==1.23.5 mxnet==1.9.1
	touch $@

oracle: $(ORACLE)/.installed

lab: install
	$(VENV)/bin/jupyter lab notebooks/

demo: install
	$(PY) -m mxteach.demo

test: install oracle
	MXTEACH_ORACLE=$(ORACLE)/bin/python MXTEACH_REQUIRE_ORACLE=1 \
		$(PY) -m pytest -n auto -q $(PYTEST_ARGS) tests

bench: install oracle
	MXTEACH_ORACLE=$(ORACLE)/bin/python $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(ORACLE) build *.egg-info
