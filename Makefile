# One entry point for every task; CI calls `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-output
DEMO_ACTIONS ?= 200000
EXTRAS := dev,spark,nlp,report,web,monitor,media,fast

.PHONY: demo test lint bench clean env browser

$(STAMP): pyproject.toml setup.py src/fimiscope/coordination/_cpairs.c src/fimiscope/ingest/_cjson.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

# The sentence-transformers stack (torch) only for the tests of that embedder: when it cannot
# be installed here, those tests report themselves as skipped with the reason.
ST_STAMP := $(VENV)/.installed-st
$(ST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[st]' || echo "make: torch/sentence-transformers not installed; their tests will be skipped" >&2
	touch $(ST_STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m fimiscope.demo --out $(DEMO_DIR) --actions $(DEMO_ACTIONS)

# Browser tests need Debian's chromium (never a downloaded browser). Installed when we may;
# otherwise the browser tests report themselves as skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	   chromium chromium-driver fonts-noto-cjk >/dev/null) ; } || echo "make: chromium not installed; browser tests will be skipped" >&2

test: $(STAMP) $(ST_STAMP) browser
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build *.egg-info
