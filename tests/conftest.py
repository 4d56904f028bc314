"""Shared fixtures: a small synthetic world and the real samples under ../shared/data/real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
SMALL = dict(episodes_per_domain=3, frames_per_episode=90)


def small_config(synthetic: bool = True, world: dict | None = None, **cfg):
    """The pipeline's config on the small world. Three short episodes per domain cannot cover every
    attribute value in both splits, so the coverage minimums are 0 here; the default world's
    coverage is tested in tests/test_world_coverage.py and by `make run`'s release__coverage
    (tests/test_cli.py runs it end to end)."""
    from remot_pipeline.defs.resources import AuditConfig, CoverageConfig, RemotConfig, SyntheticWorldConfig

    cfg.setdefault("coverage", CoverageConfig(min_train_triplets_per_value=0, min_bench_triplets_per_value=0))
    # Its remot-bench is one episode per domain (~50 questions a cell): the shortcut audit is a gate on
    # real-sized releases (the default world, run end to end by tests/test_cli.py) and is tested with
    # planted shortcuts in tests/test_audit.py; here it would judge sampling noise.
    cfg.setdefault("audit", AuditConfig(enabled=False))
    # The cross-episode stages one domain after the other in the step's process: a spawned process
    # per domain costs ~3 s of imports, more than a small world's whole negatives step. The parallel
    # path is run end to end by tests/test_scale_out.py (the CLI build) and gives the same bytes.
    cfg.setdefault("domain_workers", 1)
    return RemotConfig(synthetic=SyntheticWorldConfig(enabled=synthetic, **(world or SMALL)), **cfg)


def real_path(*parts: str) -> Path:
    p = REAL.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real sample {p} not present")
    return p


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """A small synthetic world (3 episodes x 90 frames per domain), generated once per worker."""
    from remot_pipeline.synthetic import WorldConfig, generate_world

    root = tmp_path_factory.mktemp("world")
    generate_world(root, WorldConfig(**SMALL))
    return root


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
    yield


def pytest_configure(config):
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def small_release_home(shared: Path) -> Path:
    """The DAGSTER_HOME of the instance that materialized :func:`small_release` (beside it)."""
    return Path(shared) / "small_release_dagster_home"


@pytest.fixture(scope="session")
def small_release(tmp_path_factory) -> Path:
    """A data root holding one release of a small synthetic world (3 episodes x 90 frames per
    domain), built once for all test workers (a file lock in the shared base temp folder), and
    recorded in a Dagster instance on disk (:func:`small_release_home`): stage outputs are found
    through the instance that materialized them."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every xdist worker
    root = shared / "small_release"
    with FileLock(str(shared / "small_release.lock")):
        if not ((root / "releases" / "LATEST").is_dir() and small_release_home(shared).is_dir()):
            import dagster as dg

            from remot_pipeline import definitions
            from remot_pipeline.defs.resources import RemotPaths
            from remot_pipeline.defs.store import StageIOManager

            resources = {"config": small_config(),
                         "paths": RemotPaths(data_root=str(root)),
                         "io_manager": StageIOManager(root=str(root / "stages"))}
            small_release_home(shared).mkdir(exist_ok=True)
            with dg.DagsterInstance.local_temp(str(small_release_home(shared))) as instance:
                result = dg.materialize(definitions.DATA_ASSETS, resources=resources, instance=instance,
                                        tags=definitions.ALL_DOMAINS_TAGS)
            assert result.success
    return root
