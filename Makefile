VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-fast lint bench bench-quality bench-endpoint browser baselines clean

# torch comes first and pinned: the CPU wheel on disk. A bare requirement
# would pull a multi-GB CUDA build; the project itself only asks torch>=2.4.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# crowd-kit and cleanlab are baselines only: they live in their own venv
# because crowd-kit 1.4.2 needs a scikit-learn older than 1.6.
BENCH_VENV := .bench-venv
$(BENCH_VENV)/.installed:
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q crowd-kit==1.4.2 'scikit-learn<1.6' cleanlab
	touch $@

demo: $(STAMP)
	$(VENV)/bin/crowd-bridge demo --workdir demo-output

# The finance page is tested in a real browser: Debian's Chromium and its
# driver. Installing them needs root; elsewhere the browser test says why it
# skipped.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "chromium not installed: the finance browser test will be skipped"

# The aggregators are checked against crowd-kit's, which lives in its own
# venv; without it those tests skip and say why.
baselines:
	@$(MAKE) -s $(BENCH_VENV)/.installed || \
	  echo "crowd-kit venv not built: the comparison tests will be skipped"

test: $(STAMP) browser baselines
	$(PY) -m pytest -q -rs

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not postgres"

lint: $(STAMP)
	$(VENV)/bin/ruff check crowd_bridge tests benchmarks
	$(VENV)/bin/ruff format --check crowd_bridge tests benchmarks
	$(VENV)/bin/mypy crowd_bridge

bench: bench-quality bench-endpoint

bench-quality: $(STAMP) $(BENCH_VENV)/.installed
	$(PY) benchmarks/quality.py

bench-endpoint: $(STAMP)
	$(PY) benchmarks/endpoint_throughput.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
