"""The Dagster code location: ``dagster job execute -m remot_pipeline.definitions -j build_release``.

Environment variables are read here and nowhere else:

* ``REMOT_DATA_ROOT``: where raw data, stage outputs, releases and the catalog live (default ``data``).
* ``REMOT_SOURCES``: an optional sources YAML declaring datasets beside the synthetic world.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

# single-run backfill policies are "beta" in Dagster 1.13; we rely on them deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from remot_pipeline.defs import assets  # noqa: E402
from remot_pipeline.defs.resources import RemotConfig, RemotPaths  # noqa: E402
from remot_pipeline.defs.sensors import dead_run_reaper, host_tags, make_drop_folder_sensor  # noqa: E402
from remot_pipeline.defs.store import StageIOManager  # noqa: E402
from remot_pipeline.defs.training import TRAINING_ASSETS, TrainingConfig  # noqa: E402

DATA_ASSETS = [assets.synthetic_world, assets.ingest, assets.motion_pairs, assets.positive_pairs, assets.frame_features,
               assets.negatives, assets.triplets, assets.questions, assets.release, assets.catalog]

#: The main job: sources -> release -> catalog for every domain, in one in-process run.
#: Run it for all domains with the partition-range tags (see the Makefile).
#: Its runs carry ``remot/host`` (host_tags) so that the dead_run_reaper sensor may check their
#: worker pid. No ``dagster/max_runtime`` tag: the reaper fails a killed run within ~30 s, and a
#: limit could only tell a hung live worker from a slow one by guessing (the ReMoT-16K build takes
#: ~4 min on 2 cores and grows with the data); past it a live `make run` is only marked FAILURE
#: while it goes on working. Set one per run (--tags) where a hang is a real risk.
build_release = dg.define_asset_job(
    "build_release",
    selection=dg.AssetSelection.assets(*DATA_ASSETS),
    run_tags=host_tags(),
    executor_def=dg.in_process_executor,
    description="Raw metadata -> motion contrast triplets -> questions -> versioned release + DuckDB catalog.",
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
        jobs=[build_release, train_models],
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
