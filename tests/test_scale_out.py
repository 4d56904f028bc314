"""Scale out: source shards, incremental rebuilds, and the multiprocess executor.

One test, end to end on the small world (tests/conftest.py ``small_release``): a new episode
folder is dropped in, the release is rebuilt in process, and

* only the new episode's shard is computed; every other shard is reused from the stage store
  (same key: inputs, splits, config and code unchanged) and no other stage folder appears;
* the release differs only where it should: the untouched domains' Parquet files are the same
  bytes, the episodes table gains one row;
* a build from scratch of the same raw data with Dagster's multiprocess executor (2 processes,
  `dagster job execute`) and one process per domain for the cross-episode stages
  (``domain_workers: 0``) gives the same ``release_id`` and the same bytes in every file: an
  incremental build is a build, and neither the executor nor the worker count changes anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SMALL, small_config

REPO = Path(__file__).resolve().parents[1]
DOMAINS = ("navigation", "manipulation", "simulation")
TAGS = {"dagster/asset_partition_range_start": "navigation", "dagster/asset_partition_range_end": "simulation"}


def _manifest(root: Path) -> dict:
    from remot_pipeline.core.release import latest_release

    return json.loads((latest_release(root / "releases") / "manifest.json").read_text())


def _files(manifest: dict) -> dict[str, str]:
    return {f["path"]: f["sha256"] for f in manifest["files"]}


def _stage_folders(root: Path) -> set[str]:
    return {p.relative_to(root / "stages").as_posix() for p in (root / "stages").glob("*/*/*/*") if p.is_dir()
            and (p / "entry.json").is_file()}


def _new_episode(tmp: Path, root: Path) -> tuple[Path, str]:
    """A navigation episode from another seed of the world, copied in as a drop-folder source under
    a name whose split leaves every existing episode's split as it was (the split quota is per
    domain: a new episode may move another across it, and then that shard is rightly recomputed;
    this test is about the shard that is new)."""
    from remot_pipeline.core.ingest import assign_splits
    from remot_pipeline.core.shards import discover
    from remot_pipeline.defs.assets import CODE_VERSIONS, domain_sources
    from remot_pipeline.defs.resources import RemotPaths
    from remot_pipeline.synthetic import WorldConfig
    from remot_pipeline.synthetic.world import cached_world

    other, _, _ = cached_world(tmp / "other_world", WorldConfig(seed=11, episodes_per_domain=1,
                                                                frames_per_episode=SMALL["frames_per_episode"]),
                               CODE_VERSIONS["synthetic_world"])
    config, paths = small_config(), RemotPaths(data_root=str(root))
    world = next((root / "raw" / "synthetic").glob("world-*")).relative_to(root).as_posix()

    def splits() -> dict[str, str]:
        found, failed = discover(domain_sources(config, paths, "navigation", world))
        assert not failed, failed
        refs = [r for _, rs in found for r in rs]
        return assign_splits([r.episode_id for r in refs], config.test_fraction, {r.episode_id: r.scene_id for r in refs})

    before = splits()
    for i in range(20):
        folder = root / "raw" / "navigation" / "new_rig" / f"seq_{i:02d}"
        shutil.copytree(next((other / "navigation").iterdir()), folder)
        after = splits()
        if all(after[e] == s for e, s in before.items()):
            (new_id,) = set(after) - set(before)
            return folder, new_id
        shutil.rmtree(folder)
    raise AssertionError("no episode name kept the existing splits")


@pytest.mark.slow
def test_a_new_episode_folder_recomputes_only_its_shard_and_equals_a_multiprocess_build_from_scratch(
        small_release, tmp_path):
    from remot_pipeline import definitions
    from remot_pipeline.defs.resources import RemotPaths
    from remot_pipeline.defs.store import StageIOManager

    root = tmp_path / "data"
    shutil.copytree(small_release, root, symlinks=True)
    old_manifest, old_folders = _manifest(root), _stage_folders(root)
    _, new_id = _new_episode(tmp_path, root)

    resources = {"config": small_config(), "paths": RemotPaths(data_root=str(root)),
                 "io_manager": StageIOManager(root=str(root / "stages"))}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(definitions.DATA_ASSETS, resources=resources, instance=instance, tags=TAGS)
        assert result.success
        shards_md = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                         if e.asset_key == dg.AssetKey("shards"))
    count = {k: v.value for k, v in shards_md.items() if k.startswith(("shards/", "reused/"))}
    # navigation: the synthetic shard reused, the new source's shard computed; the others all reused
    assert count == {"shards/navigation": 2, "reused/navigation": 1, "shards/manipulation": 1,
                     "reused/manipulation": 1, "shards/simulation": 1, "reused/simulation": 1}, count

    # Per-shard stage outputs: only the new shard's folders are new; domain-level stages of
    # navigation change (cross-episode work), those of the other domains are the same keys.
    new = _stage_folders(root) - old_folders
    per_shard = {f for f in new if f.split("/")[0] in ("episodes", "episode_frames", "motion_pairs",
                                                       "positive_pairs", "frame_features", "shard_notes")
                 and f.count("/") == 3}
    assert per_shard and all("new_rig" in f for f in per_shard), sorted(per_shard)
    assert not [f for f in new if f.split("/")[1] in ("manipulation", "simulation")], sorted(new)

    manifest = _manifest(root)
    assert manifest["release_id"] != old_manifest["release_id"]
    old_files, files = _files(old_manifest), _files(manifest)
    for d in ("manipulation", "simulation"):
        same = {p: h for p, h in old_files.items() if f"/{d}/" in p}
        assert same and all(files.get(p) == h for p, h in same.items()), d
    assert manifest["rows"]["episodes"] == old_manifest["rows"]["episodes"] + 1
    assert new_id in manifest["inputs"]

    # The same raw data from scratch, with the multiprocess executor, through the CLI.
    scratch = tmp_path / "scratch"
    shutil.copytree(root / "raw", scratch / "raw", symlinks=True)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    run_config = tmp_path / "run.yaml"
    run_config.write_text(
        # forked from a forkserver that preloaded remot_pipeline.preload, as configs/local.yaml does
        "execution:\n  config:\n    multiprocess:\n      max_concurrent: 2\n      start_method:\n"
        "        forkserver: {preload_modules: [remot_pipeline.definitions, remot_pipeline.preload]}\n"
        "resources:\n  config:\n    config:\n"
        f"      synthetic: {{enabled: true, seed: 0, episodes_per_domain: {SMALL['episodes_per_domain']}, "
        f"frames_per_episode: {SMALL['frames_per_episode']}}}\n"
        "      coverage: {min_train_triplets_per_value: 0, min_bench_triplets_per_value: 0}\n"
        "      audit: {enabled: false}\n"
        "      domain_workers: 0\n")  # negatives and triplets: one spawned process per domain, too
    env = {**os.environ, "DAGSTER_HOME": str(home), "REMOT_DATA_ROOT": str(scratch), "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("REMOT_SOURCES", None)
    out = subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m",
                          "remot_pipeline.definitions", "-j", "build_release", "-c", str(run_config),
                          "--tags", json.dumps(TAGS)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert "Launching subprocess for \"shards.shard_work[navigation" in log or "shard_work[navigation" in log, \
        "the per-shard steps did not run as their own steps"
    # "<time> - dagster - DEBUG - build_release - <run id> - <pid> - <step> - STEP_START - ..."
    pids = {ln.split(" - ")[5] for ln in log.splitlines() if " - STEP_START - " in ln}
    assert len(pids) > 1, "every step ran in one process: the multiprocess executor was not used"
    scratch_manifest = _manifest(scratch)
    assert scratch_manifest["release_id"] == manifest["release_id"]
    assert _files(scratch_manifest) == files


@pytest.mark.parametrize("name", ["local.yaml", "remot-16k.yaml"])
def test_shipped_run_configs_are_valid_for_build_release(name):
    import yaml

    from remot_pipeline.definitions import defs

    config = yaml.safe_load((REPO / "configs" / name).read_text())
    assert dg.validate_run_config(defs.resolve_job_def("build_release"), config) is not None
    preload = config["execution"]["config"]["multiprocess"]["start_method"]["forkserver"]["preload_modules"]
    for module in preload:  # each one imports (the forkserver would only warn on a failure)
        __import__(module)


@given(st.integers(0, 3000), st.integers(1, 700), st.sampled_from([None, ["question_id", "split"], ["answer"]]))
@settings(max_examples=15, deadline=None)
def test_a_lazy_stage_result_streams_the_same_rows_as_a_read(tmp_path_factory, n, batch_rows, columns):
    """What the release reads the questions through: :class:`LazyResult` batches of a projection
    concatenate to the eager read's columns, the ledger and key are the entry's, and a corrupted
    file fails on the first batch with the store's one-line error."""
    import numpy as np
    import pyarrow as pa

    from data_contracts import conform, empty
    from remot_pipeline.core.ledger import StageResult
    from remot_pipeline.defs.store import LazyResult, StageCorrupted, StageStore, stage_key_of

    rng = np.random.default_rng(n)
    base = empty("questions")
    rows = {f.name: ([f"{f.name}-{i}" for i in range(n)] if pa.types.is_string(f.type) else [None] * n)
            for f in base.schema}
    table = pa.table({f.name: pa.array(rows[f.name], f.type) if pa.types.is_string(f.type)
                      else pa.array([[] for _ in range(n)], f.type) if pa.types.is_list(f.type)
                      else pa.array(rng.random(n), f.type) if pa.types.is_floating(f.type)
                      else pa.array(rows[f.name], f.type) for f in base.schema})
    table = conform(table, "questions")  # stamped with its contract, as a stage writes it
    store = StageStore(tmp_path_factory.mktemp("store"))
    key = store.write("questions", "navigation", StageResult(table, empty("quarantine"), n + 5, {"rule": 5}),
                      {"code_version": "t", "config_hash": "c", "inputs": {}})
    eager, lazy = store.read("questions", "navigation", key), store.lazy("questions", "navigation", key)
    assert isinstance(lazy, LazyResult) and stage_key_of(lazy) == key
    assert lazy.ledger() == eager.ledger() and lazy.balanced() and lazy.rows_out == n
    parts = list(lazy.tables(columns, batch_rows))
    assert all(t.num_rows <= batch_rows for t in parts) and len(parts) == -(-n // batch_rows)
    want = eager.table if columns is None else eager.table.select(columns)
    assert (pa.concat_tables(parts) if parts else want.slice(0, 0)).equals(want)
    assert lazy.table.equals(eager.table) and lazy.quarantine.equals(eager.quarantine)
    path = store.path("questions", "navigation", key) / "out.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StageCorrupted, match="out.parquet"):
        next(store.lazy("questions", "navigation", key).tables())
