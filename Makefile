# n4d4d: `make demo` builds a real mesh end to end; `make test` runs the test suite.
# Both create .venv and install the project with its dependencies first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench clean

install: $(STAMP)

# torch is pinned to exactly 2.13.0: the CPU build this machine keeps on disk (any other
# spec downloads gigabytes of CUDA packages). It is installed first so that the project's
# own `torch==2.13.0` requirement is already satisfied.
$(STAMP): pyproject.toml
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

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: install
	$(BIN)/python benchmarks/build.py

clean:
	rm -rf out .pytest_cache
