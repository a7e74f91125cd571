# hall — two commands do everything on a fresh machine:
#   make demo   install what is missing, build the demo site, run the appliance
#   make test   install what is missing, run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# postgresql: the server binaries (/usr/lib/postgresql/*/bin) for the central store's tests,
# which start their own throw-away server on a free port (never the package's own cluster).
# systemd: systemd-analyze verifies the unit that `hall install-service` writes.
# faketime: steps the server's wall clock in tests (exam time must not follow it).
APT_PACKAGES := chromium fonts-wqy-microhei poppler-utils postgresql systemd faketime
STAMP  := $(VENV)/.installed

.PHONY: demo test soak bench bench-weak dist setup system-deps clean

demo: setup
	$(PY) -m hall_server demo $(DEMO_ARGS)

test: setup system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# The model-based interleaving test, long: SOAK_STEPS steps in all (make test runs ~4,000).
SOAK_STEPS ?= 100000
soak: setup
	HALL_MODEL_EXAMPLES=$$(( $(SOAK_STEPS) / 100 )) HALL_MODEL_STEPS=100 HALL_MODEL_SEED=$${HALL_MODEL_SEED:-$$(date +%s)} \
	  $(PY) -m pytest tests/model -q -s -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install --quiet -e '.[test,bench,face]'
	$(PY) -m bench.run $(BENCH_ARGS)
	$(PY) -m bench.proctor

# A weak laptop: each server confined to half of one core by a cgroup CPU quota (root), the
# start storm and the steady exam; then the bytes one phone downloads (docs/benchmarks.md).
bench-weak: setup
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m bench.run --cpu-quota 0.5 --scenario storm,steady --out bench/results/weak.md $(BENCH_ARGS)
	$(PY) -m bench.payload

# One offline install file for a site laptop: build/dist/hall-<version>-py311-<arch>.tar.gz
# (docs/install.md). The wheelhouse is downloaded once and cached under build/.
dist: setup
	$(PY) -m release.build $(DIST_ARGS)

setup: $(STAMP) static_client/vendor/node_modules/.package-lock.json

$(STAMP): pyproject.toml
	@command -v npm >/dev/null || $(MAKE) system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,face]'
	touch $@

# Third-party browser files live under static_client/vendor/: installed here, never committed.
static_client/vendor/node_modules/.package-lock.json: static_client/vendor/package.json static_client/vendor/package-lock.json
	cd static_client/vendor && npm ci --no-audit --no-fund
	touch $@

# Debian packages: Chromium for the phone tests, the CJK font for PDFs and screenshots,
# poppler for rendering PDFs back to PNG, PostgreSQL for the central store's tests,
# Node for installing socket.io-client.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v $(PYTHON) >/dev/null || missing="$$missing python3 python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

clean:
	rm -rf $(VENV) static_client/vendor/node_modules var test-output
