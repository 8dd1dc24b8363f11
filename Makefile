# n4d4d: `make demo` builds a real mesh end to end; `make test` runs the test suite.
# Both create .venv and install the project with its dependencies first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench clean system-deps

install: $(STAMP)

# Outside tools the tests use, each skipped by its test with a reason where it cannot be had:
# Mesa EGL / OSMesa (offscreen renders on a CPU-only machine), Debian's chromium (the report's
# headless-browser test), and the Khronos glTF validator from npm. Needs root and apt / npm.
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 chromium) >/dev/null 2>&1 \
	  || echo "note: apt-get could not install Mesa/chromium: render and browser tests will skip"; \
	else echo "note: no root apt-get: install libegl-mesa0 libosmesa6 chromium for renders and the browser test"; fi
	@if command -v npm >/dev/null 2>&1; then \
	  (command -v gltf_validator >/dev/null 2>&1 || npm ls -g gltf-validator >/dev/null 2>&1 || npm install -g --silent gltf-validator >/dev/null 2>&1) \
	  || echo "note: npm could not install gltf-validator: the glTF validator tests will skip"; \
	else echo "note: no npm: the glTF validator tests will skip"; fi

# torch is pinned to exactly 2.13.0: the CPU build this machine keeps on disk (any other
# spec downloads gigabytes of CUDA packages). It is installed first so that the project's
# own `torch==2.13.0` requirement is already satisfied.
$(STAMP): pyproject.toml
	$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@# compile and cache the Warp / Newton kernels once, so no build pays for it (n4d4d warmup)
	$(BIN)/n4d4d warmup || echo "warning: n4d4d warmup failed; kernels will compile during the first build"
	touch $(STAMP)

demo: install
	$(BIN)/n4d4d build --sample duck -o out/demo
	@echo "USD: $$(ls $(CURDIR)/out/demo/duck/asset.usda)"
	@echo "report: $$(ls $(CURDIR)/out/demo/duck/report.html 2>/dev/null || echo 'not written (no OpenGL)')"

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: install
	$(BIN)/python benchmarks/build.py

clean:
	rm -rf out .pytest_cache
