# neurolink — every target creates and uses its own virtual environment in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install test test-fast check lint types demo bench bench-loop bench-archive bench-delete bench-scale completions docs pictures clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install neurolink with its test tools
	@echo "installed: $(BIN)/neurolink"

test: $(STAMP) ## Run the whole test suite, what CI runs (starts its own redis-server; ~2.5 min)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

FAST := not slow and not cluster and not e2e

test-fast: $(STAMP) ## The inner loop (~45 s): skip tests marked slow, cluster or e2e
	$(BIN)/python -m pytest -q -m "$(FAST)" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check neurolink_cli tests bench docs
	$(BIN)/ruff format --check neurolink_cli tests bench docs

types: $(STAMP) ## mypy on the package
	$(BIN)/mypy neurolink_cli

check: lint types test ## What CI runs: lint, types, tests

demo: $(STAMP) ## Load sample conversations into a store and show list + export
	$(BIN)/python docs/demo.py

bench: $(STAMP) ## Time export, list, stats (both layouts) against their ceilings (N=20000 T=20)
	$(BIN)/python bench/bench_export.py $(BENCH_ARGS)

bench-loop: $(STAMP) ## Time loop start, first answer, Ctrl-D exit, SDK (BENCH_LOOP_ARGS="--reps 5 --load 2")
	$(BIN)/python bench/bench_loop.py $(BENCH_LOOP_ARGS)

bench-archive: $(STAMP) ## Time memory archive to a directory and to S3 (moto) (BENCH_ARCHIVE_ARGS="--reps 3")
	$(BIN)/python bench/bench_archive.py $(BENCH_ARCHIVE_ARGS)

bench-delete: $(STAMP) ## Time memory delete (both layouts) against export-all (N=20000 T=20)
	$(BIN)/python bench/bench_delete.py $(BENCH_ARGS)

bench-scale: $(STAMP) ## Time export-all of 1M sessions vs the ceiling (needs ~9 GB free, several minutes; not in make test/CI)
	$(BIN)/python bench/bench_scale.py $(BENCH_SCALE_ARGS)

completions: $(STAMP) ## Regenerate shell completions from the Click tree
	$(BIN)/python -m neurolink_cli.cli.completions completions

docs: $(STAMP) ## Regenerate the README's command reference from the real --help
	$(BIN)/python docs/readme_help.py --write

pictures: $(STAMP) ## Render the README's terminal pictures (docs/*.svg) from a real run (needs tmux)
	$(BIN)/python docs/pictures.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
