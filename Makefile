# `make run` and `make test` each do all set-up on a fresh machine and are quick once it is done.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
WORKSPACE ?= workspace
PORT ?= 8501

.PHONY: run test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	PROMOLENS_WORKSPACE=$(WORKSPACE) $(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
