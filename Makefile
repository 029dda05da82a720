# `make run` and `make test` each do all set-up on a fresh machine and are quick once it is done.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
WORKSPACE ?= workspace
PORT ?= 8501

.PHONY: run test test-fast install clean browser java messages

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

run: $(STAMP)
	PROMOLENS_WORKSPACE=$(WORKSPACE) $(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

# Browser tests (tests/e2e) drive the system's Chromium; install it when we can (root + apt),
# otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	echo "Chromium not available: browser tests will be skipped"
	@# A Chinese font, so the Chinese browser journey's screenshots show characters, not empty boxes.
	@fc-list :lang=zh 2>/dev/null | grep -q . || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 ; } ; } ; } || \
	echo "No Chinese font: the Chinese screenshots will show boxes (apt-get install fonts-wqy-zenhei)"

# The Spark engine of `promolens batch` (pyspark from the [spark] extra) needs a Java 17 runtime; install it
# when we can (root + apt), otherwise the Spark tests skip and say why.
java:
	@command -v java >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) ; } || \
	echo "Java 17 not available: Spark tests will be skipped"

# The whole suite, doctests of recsys/ included (pyproject.toml: testpaths, --doctest-modules).
test: $(STAMP) browser java
	$(PY) -m pytest -q

# Everything but the tests marked slow (planted truth, real data, browser, many sessions): minutes, not tens.
test-fast: $(STAMP) java
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache

# Translations (recsys/core/i18n.py): extract the marked messages into the template, merge them into
# every language's .po (new ones come in untranslated: tests/core/test_i18n.py fails until they are
# translated), and check that each catalogue compiles. The .po is the only catalogue kept in git:
# recsys/core/i18n.py compiles it to .mo in memory at first use, so `pip install` needs no build step.
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --no-location --sort-output -w 100 \
		--project PromoLens -o recsys/locale/promolens.pot .
	$(VENV)/bin/pybabel update -i recsys/locale/promolens.pot -d recsys/locale -D promolens --ignore-obsolete \
		--no-fuzzy-matching -w 100
	@# The check that matters is the app's own in-memory compile (pybabel compile's python-format checker
	@# reads "% of customers" as a %-directive and rejects its translation).
	$(PY) -c "from recsys.core import i18n; t = i18n.translations('zh_CN'); print(len(t._catalog), 'messages compile')"
