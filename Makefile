# reelscope — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install lock run test lint bench chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# what gets installed: deploy/install.sh (the Dockerfile runs it too); pyproject.toml names the
# packages, constraints.txt their exact versions
CONSTRAINTS ?= -c constraints.txt

$(STAMP): pyproject.toml constraints.txt deploy/install.sh
	$(PYTHON) -m venv $(VENV)
	sh deploy/install.sh $(BIN)/pip '-e .[dev]' '$(CONSTRAINTS)'  # the image runs it too
	touch $(STAMP)

install: $(STAMP) ## create .venv and install reelscope with its dev tools (versions from constraints.txt)

lock: ## resolve pyproject.toml afresh into a new .venv and write its versions to constraints.txt
	rm -rf $(VENV)
	$(MAKE) install CONSTRAINTS=
	@{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

run: $(STAMP) ## install, then run the demo on the embedded default (broker, folder bucket, local analyzer)
	$(BIN)/reelscope demo

# promtool for the alert rules' unit tests (tests/dashboards/test_alert_rules.py): the binary of
# Debian's prometheus package, unpacked into the venv (installing the package would start a
# Prometheus daemon where the init system allows it)
$(BIN)/promtool: | $(STAMP)
	tmp=$$(mktemp -d) && cd $$tmp \
	  && { apt-get download prometheus >/dev/null 2>&1 \
	       || { apt-get update -qq && apt-get download prometheus; }; } \
	  && dpkg -x prometheus_*.deb unpacked \
	  && cp unpacked/usr/bin/promtool $(CURDIR)/$(BIN)/promtool; \
	  status=$$?; rm -rf $$tmp; exit $$status

# Chromium for the review page's browser tests (tests/e2e/test_review_page.py): Debian's package,
# driven by Playwright for Python with executable_path (Playwright's browser download is impossible)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends chromium \
	  || { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
	       --no-install-recommends chromium; }

test: $(STAMP) $(BIN)/promtool $(CHROMIUM) ## install, then run lint and the whole test suite (real broker, S3 endpoint, ffmpeg, promtool, Chromium)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile  # two workers, a test file each: e2e stacks mostly wait

lint: $(STAMP) ## ruff, mypy --strict and hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

chaos: $(STAMP) ## long fault runs: 20 kills under 240 uploads, writes refused 30 s, 10 broker restarts
	REELSCOPE_CHAOS_KILLS=20 REELSCOPE_CHAOS_UPLOADS=240 REELSCOPE_BROKER_RESTARTS=10 \
		REELSCOPE_REFUSE_WRITES_S=30 \
		$(BIN)/pytest tests/e2e/test_chaos.py tests/e2e/test_broker_faults.py

bench: $(STAMP) ## run the benchmarks and print their tables
	@for b in bench/bench_*.py; do m=$$(basename $$b .py); echo "== bench.$$m"; $(BIN)/python -m bench.$$m || exit 1; done

clean: ## remove the venv, caches and the local bucket
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache reelscope-data
