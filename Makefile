# The two Quick start commands (`make run`, `make test`) create .venv inside the checkout
# on first use and reinstall when pyproject.toml changes.
VENV  := .venv
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/careloop serve --demo

# The browser tests drive Debian's Chromium; a fresh machine gets it from apt (never a
# browser download of Playwright's own).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

test: $(STAMP) $(CHROMIUM)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(VENV)/bin/python -m bench
