# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: demo test lint bench-generators clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job. At this stage: generate the patterns of an MNIST-sized pre-defined sparse MLP,
# report their metrics and draw them. Outputs go to out/demo/ (re-running replaces them).
demo: $(STAMP)
	mkdir -p $(DEMO)
	$(BIN)/neurofabric topology make clash-free --sizes 800,100,10 --fan-out 20,10 \
		--parallelism 200,25 --seed 0 --out $(DEMO)/clash_free.npz --force
	$(BIN)/neurofabric topology show $(DEMO)/clash_free.npz --png $(DEMO)/clash_free.png \
		--schedule-png $(DEMO)/clash_free_schedule.png --force
	$(BIN)/neurofabric topology make structured --sizes 800,100 --fan-out 20 --seed 0 \
		--out $(DEMO)/structured.npz --png $(DEMO)/structured.png --force
	$(BIN)/neurofabric topology make windowed --sizes 800,100 --fan-out 20 \
		--out $(DEMO)/windowed.npz --png $(DEMO)/windowed.png --force
	$(BIN)/neurofabric topology scatter $(DEMO)/structured.npz
	$(BIN)/neurofabric topology scatter $(DEMO)/windowed.npz
	@echo "pictures and topologies written to $(DEMO)/"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench-generators: $(STAMP)
	$(BIN)/python benchmarks/bench_generators.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
