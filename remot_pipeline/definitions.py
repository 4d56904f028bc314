"""The Dagster code location: ``dagster job execute -m remot_pipeline.definitions -j build_release``.

Environment variables are read here and nowhere else:

* ``REMOT_DATA_ROOT``: where raw data, stage outputs, releases and the catalog live (default ``data``).
* ``REMOT_SOURCES``: an optional sources YAML declaring datasets beside the synthetic world.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg
from dagster_celery import celery_executor

# single-run backfill policies are "beta" in Dagster 1.13; we rely on them deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from remot_pipeline.defs import assets  # noqa: E402
from remot_pipeline.defs.resources import RemotConfig, RemotPaths  # noqa: E402
from remot_pipeline.defs.sensors import dead_run_reaper, host_tags, make_drop_folder_sensor  # noqa: E402
from remot_pipeline.defs.store import StageIOManager  # noqa: E402
from remot_pipeline.defs.training import TRAINING_ASSETS, TrainingConfig  # noqa: E402

DATA_ASSETS = [assets.synthetic_world, assets.shards, assets.ingest, assets.motion_pairs, assets.positive_pairs, assets.frame_features,
               assets.negatives, assets.triplets, assets.questions, assets.release, assets.catalog]

#: The main job: sources -> release -> catalog for every domain. Run it for all domains with the
#: partition-range tags (see the Makefile). Dagster's multiprocess executor by default: each source
#: shard's step (``shard_work``, see defs/assets.py) and every independent step run in their own
#: process, up to ``max_concurrent`` (default: the CPU count) at once; run config
#: ``execution: {config: {in_process: {}}}`` runs it in one process instead (tests, debugging).
#: Both give the same release, byte for byte (tests/test_scale_out.py).
#: Its runs carry ``remot/host`` (host_tags) so that the dead_run_reaper sensor may check their
#: worker pid. No ``dagster/max_runtime`` tag: the reaper fails a killed run within ~30 s, and a
#: limit could only tell a hung live worker from a slow one by guessing (the ReMoT-16K build takes
#: minutes on 2 cores and grows with the data); past it a live `make run` is only marked FAILURE
#: while it goes on working. Set one per run (--tags) where a hang is a real risk.
build_release = dg.define_asset_job(
    "build_release",
    selection=dg.AssetSelection.assets(*DATA_ASSETS),
    run_tags=host_tags(),
    executor_def=dg.multi_or_in_process_executor,
    description="Raw metadata -> motion contrast triplets -> questions -> versioned release + DuckDB catalog.",
)

#: The same selection, run config and tags as ``build_release``, with each step sent as a Celery
#: task to whatever workers listen on the broker (deploy/celery/README.md), on this machine or
#: others. The broker and result backend come from run config (``execution: config: broker/backend``,
#: e.g. deploy/celery/run_config.yaml), else from dagster-celery's defaults (an AMQP broker on
#: ``DAGSTER_CELERY_BROKER_HOST``). The launcher and every worker must share the Dagster instance
#: (DAGSTER_HOME) and the data root (REMOT_DATA_ROOT). tests/test_distributed.py: same release, byte
#: for byte, as the in-process run.
build_release_celery = dg.define_asset_job(
    "build_release_celery",
    selection=dg.AssetSelection.assets(*DATA_ASSETS),
    run_tags=host_tags(),
    executor_def=celery_executor,
    description="build_release on Celery workers: the broker/backend come from run config "
                "(execution: config: broker/backend) or the environment (DAGSTER_CELERY_BROKER_HOST).",
)

#: Every training schedule from the latest release, then the evaluation on remot-bench. The
#: recipes come from the ``training`` resource (default: the ``cpu-demo`` family).
train_models = dg.define_asset_job(
    "train_models",
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    run_tags=host_tags(),
    executor_def=dg.in_process_executor,
    description="Release -> base / SFT / GRPO / SFT->GRPO / SFT<->GRPO / FFR models -> evaluation on remot-bench.",
)

ALL_DOMAINS_TAGS = {
    "dagster/asset_partition_range_start": assets.DOMAIN_PARTITIONS.get_partition_keys()[0],
    "dagster/asset_partition_range_end": assets.DOMAIN_PARTITIONS.get_partition_keys()[-1],
}


def make_definitions(data_root: str | None = None, sources_file: str | None = None) -> dg.Definitions:
    data_root = data_root or os.environ.get("REMOT_DATA_ROOT", "data")
    sources_file = sources_file or os.environ.get("REMOT_SOURCES") or None
    return dg.Definitions(
        assets=[*DATA_ASSETS, *TRAINING_ASSETS],
        jobs=[build_release, build_release_celery, train_models],
        sensors=[make_drop_folder_sensor(build_release), dead_run_reaper],
        resources={
            "paths": RemotPaths(data_root=data_root, sources_file=sources_file),
            "config": RemotConfig(),
            "training": TrainingConfig(),
            # Launches `python -m remot_train train|evaluate` for the training assets; swap in
            # dagster_k8s.PipesK8sClient (or any Pipes client) to run them on a cluster.
            "pipes_client": dg.PipesSubprocessClient(),
            "io_manager": StageIOManager(root=os.path.join(data_root, "stages")),
        },
    )


defs = make_definitions()
