# The two commands of the README: `make demo` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install lock chromium demo test bench bench-quick lint format clean

# torch is installed first and pinned exactly so pip takes the CPU build (see docs/install.md);
# then the exact versions of requirements.lock, then tunebench itself without resolving again.
$(INSTALLED): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(INSTALLED)

# Re-resolve requirements.lock from pyproject.toml's ranges (after changing them, or to take
# newer releases); commit the result. pip-tools lives in its own venv, not the project's.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q pip-tools
	.venv-lock/bin/pip-compile -q --upgrade --extra dev --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.lock pyproject.toml

install: $(INSTALLED)

demo: install
	$(BIN)/tunebench fetch minilm-l6 sms_spam
	$(BIN)/tunebench run examples/quickstart.yaml
	$(BIN)/tunebench results runs/quickstart --format markdown > runs/quickstart/report.md
	@echo "report: runs/quickstart/report.md (all runs: tunebench results runs/quickstart --format json)"

# The HTML report's test opens a report in headless Chromium (Debian's package). Where it
# cannot be installed (not root, no apt-get), that one test is skipped and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends chromium >/dev/null; } \
	  || echo "chromium not installed: the HTML report's browser test will be skipped"

test: install chromium
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m pytest -q --durations=20  # the slowest tests, for keeping CI short

# tunebench against plain training scripts on identical work (docs/benchmarks.md); results in
# bench/results/. bench-quick: a few minutes on a 2-core CPU.
bench: install
	$(BIN)/tunebench fetch minilm-l6 sms_spam
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/tunebench fetch minilm-l6 sms_spam
	$(BIN)/python -m bench --quick

lint: install
	$(BIN)/ruff check src tests bench

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .venv-lock runs .pytest_cache
