# Two commands do all of the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.remot-installed
export DAGSTER_HOME := $(CURDIR)/dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
# One run covers every domain partition (single-run backfill policy on the per-domain assets).
ALL_DOMAINS := '{"dagster/asset_partition_range_start": "navigation", "dagster/asset_partition_range_end": "simulation"}'

.PHONY: install run test ui bench train-demo clean release-16k readme-tables scale-out

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# CPU machines: torch 2.13.0 first (a local CPU wheel), so the train extra pulls no CUDA wheels.
	@if ! command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/python -m pip install -q torch==2.13.0; fi
	$(BIN)/python -m pip install -q -e ".[train,dev]"
	@# The local Celery broker of tests/test_distributed.py (deploy/celery/): Debian's redis-server.
	@command -v redis-server >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null 2>&1 \
	  || echo "redis-server: apt-get install failed; tests/test_distributed.py needs it (apt-get install -y redis-server)"; \
	else echo "redis-server: not installed and not root; tests/test_distributed.py needs it: sudo apt-get install -y redis-server"; fi
	@touch $(STAMP)

install: $(STAMP)

run: install
	@$(BIN)/python -m remot_pipeline.preflight
	$(BIN)/dagster job execute -m remot_pipeline.definitions -j build_release -c configs/local.yaml --tags $(ALL_DOMAINS)
	$(BIN)/python -m remot_pipeline.report

test: install
	$(BIN)/python -m pytest -n 2 -q

# Every training schedule on the tiny model (CPU, a few minutes) from the latest release, then
# the evaluation on remot-bench and on generated VSI-Bench / MMSI-Bench / CameraBench fixtures
# (data/benchmarks/, in the published layouts; configs/train-demo.yaml names them), side by side;
# the comparison table lands in data/evaluations/<release_id>/.
train-demo: run
	$(BIN)/python -m remot_train.benchmarks.fixtures all data/benchmarks
	$(BIN)/dagster job execute -m remot_pipeline.definitions -j train_models -c configs/train-demo.yaml
	@cat data/evaluations/$$(basename $$(readlink data/releases/LATEST))/comparison.md

ui: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: install
	$(BIN)/python bench/bench_motion_kernel.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_retrieval.py
	$(BIN)/python bench/bench_rewards.py
	@if [ -d data/stages ]; then $(BIN)/python bench/label_flow_agreement.py data; else echo "label_flow_agreement: run make run first"; fi
	@if [ -e data/releases/LATEST ]; then $(BIN)/python bench/teacher_leakage.py; else echo "teacher_leakage: run make run first"; fi

# ReMoT-16K (16,500 triplets, 49,500 questions) under data-16k/, timed on CORES cores (the
# multiprocess executor uses them all: make release-16k CORES=$$(nproc)); the
# numbers land in bench/results/release_scale_remot-16k.json and a Markdown line is printed.
CORES ?= 2
release-16k: install
	$(BIN)/python bench/build_release_scale.py --config configs/remot-16k.yaml --cores $(CORES)

# ReMoT-16K in process vs the multiprocess executor, then 2x and 4x its episodes (about 16.5K,
# 33K, 66K triplets) under data-scale/: bench/results/scale_out.{json,md} (README, "Measured").
scale-out: install
	$(BIN)/python bench/scale_out.py --cores $(CORES) --start-method forkserver --suffix=-forkserver

# The README's remot-bench and coverage tables, recomputed from a release (RELEASE: a release
# folder, a LATEST file or a data root) between their <!-- remot-bench:begin/end --> and
# <!-- remot-coverage:begin/end --> markers.
RELEASE ?= data/releases/LATEST
readme-tables: install
	$(BIN)/python bench/readme_tables.py $(RELEASE) --write README.md

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
