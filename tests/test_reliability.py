"""Release integrity under crashes, concurrent runs, corruption, moves and other users.

Every run here is a real pipeline run in its own process (``tests/reliability_child.py``) on the
small synthetic world, recorded in a real Dagster instance; kills are real SIGKILLs, delivered
right before a stage output, a release, ``LATEST`` or the catalog is renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from remot_pipeline.core import release as rel
from remot_pipeline.core.catalog import connect as catalog_connect
from remot_pipeline.defs.store import StageStore

pytestmark = pytest.mark.slow
CHILD = Path(__file__).with_name("reliability_child.py")
REPO = CHILD.parents[1]
STAGES = ("episode_frames", "motion_pairs", "positive_pairs", "frame_features", "negatives", "triplets", "questions")


def dagster_home(path: Path) -> Path:
    """A real Dagster instance on disk, its storage created once (as `dagster_home/` is in use)."""
    import dagster as dg

    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.local_temp(str(path)):
        pass
    return path


def start(root: Path, home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, str(CHILD), str(root), *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run(root: Path, home: Path, *args: str) -> tuple[int, str]:
    p = start(root, home, *args)
    out, _ = p.communicate(timeout=600)
    return p.returncode, out


def last_line(out: str) -> str:
    return out.strip().splitlines()[-1] if out.strip() else ""


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith((".tmp~", ".trash~"))]


def assert_served_release_is_sound(root: Path) -> str | None:
    """LATEST names nothing, or a release that verifies, and the catalog (if built) reads it."""
    rid = rel.read_latest(root / "releases")
    if rid is None:
        return None
    path = root / "releases" / rid
    assert rel.verify_release(path) == [], f"LATEST -> {rid} does not verify"
    if (root / "catalog.duckdb").exists():
        con = catalog_connect(root)
        try:
            assert con.sql("SELECT release_id FROM release_info").fetchall()[0][0] == rid
            manifest = json.loads((path / "manifest.json").read_text())
            assert con.sql("SELECT count(*) FROM triplets").fetchall()[0][0] == manifest["rows"]["triplets"]
        finally:
            con.close()
    return rid


#: Per-episode stages write one output per source shard (``stages/<asset>/<domain>/<shard>/<key>``),
#: the shard index and the cross-episode stages one per domain, the triplets stage one per chunk too.
#: A shard writes its stages in one step, in order: a kill at its first (episode_frames) and at the
#: last (frame_features, of the second shard) covers a shard half written and one not yet begun.
KILL_POINTS = [(r"/stages/episode_frames/[^/]+/[^/]+/[0-9a-f]{20}$", 1),
               (r"/stages/frame_features/[^/]+/[^/]+/[0-9a-f]{20}$", 2)] + [
    (r"/stages/shards/[^/]+/[0-9a-f]{20}$", 2),
    (r"/stages/negatives/[^/]+/[0-9a-f]{20}$", 1),
    # (in this order: a rerun reuses the chunks a killed run wrote, so a later kill could not land on one)
    (r"/stages/triplets/[^/]+/chunk-[0-9]+/[0-9a-f]{20}$", 2),
    (r"/stages/triplets/[^/]+/[0-9a-f]{20}$", 2),
    (r"/stages/questions/[^/]+/[0-9a-f]{20}$", 1),
    (r"/releases/[0-9a-f]{16}$", 1),   # the staged release renamed into place
    (r"/releases/LATEST$", 1),         # the release in place, LATEST not yet moved
    (r"/catalog\.duckdb$", 1),         # LATEST moved, the catalog not yet rebuilt
]


def test_sigkill_at_every_stage_and_commit_step_then_rerun_gives_the_same_release(tmp_path):
    root, home = tmp_path / "data", dagster_home(tmp_path / "dagster_home")
    code, out = run(tmp_path / "clean", home)  # an uninterrupted run elsewhere: ids do not depend on the root
    assert code == 0, out[-3000:]
    reference_id = last_line(out).split()[-1]
    for pattern, nth in KILL_POINTS:
        code, out = run(root, home, "--kill-at", pattern, "--kill-nth", str(nth))
        assert code == -signal.SIGKILL, (pattern, out[-2000:])
        assert_served_release_is_sound(root)
    code, out = run(root, home)
    assert code == 0, out[-3000:]
    assert last_line(out) == f"release {reference_id}"
    assert assert_served_release_is_sound(root) == reference_id
    assert leftovers(root) == [], "the rerun removes what the killed runs left"
    store = StageStore(root / "stages")
    # every stage output folder (a 20-hex lineage key), per domain, per shard and per chunk
    key_dirs = [p for p in (root / "stages").rglob("*") if p.is_dir() and re.fullmatch(r"[0-9a-f]{20}", p.name)]
    assert key_dirs
    for key_dir in key_dirs:
        assert store.problems(key_dir) == [], key_dir
    # Files are created with the user's umask (022 here), never 0600.
    umask = os.umask(0)
    os.umask(umask)
    for p in (root / "releases").rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_concurrent_runs_with_different_configs_each_publish_exactly_their_data(tmp_path):
    """Three runs at once into one fresh root: two identical (cap 20) and one other (cap 30)."""
    root, home = tmp_path / "data", dagster_home(tmp_path / "dagster_home")
    procs = [start(root, home, "--cap", str(cap)) for cap in (20, 30, 20)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    ids = [last_line(o).split()[-1] for o in outs]
    assert ids[0] == ids[2] != ids[1]
    for rid, cap in ((ids[0], 20), (ids[1], 30)):
        path = root / "releases" / rid
        assert rel.verify_release(path) == []
        manifest = json.loads((path / "manifest.json").read_text())
        assert manifest["config"]["max_triplets_per_domain"] == cap
        per_domain = {}
        for f in manifest["files"]:
            if f["table"] == "triplets" and f["split"] == "train":
                per_domain[f["domain"]] = f["rows"]
        assert set(per_domain.values()) == {cap}, (rid, per_domain)  # the small world has more than 30
    assert rel.read_latest(root / "releases") in ids and leftovers(root) == []


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _publish_rounds(root: str, rid: str, rounds: int) -> None:
    from data_contracts import empty

    for _ in range(rounds):
        staged = rel.stage_release(Path(root), rid, {n: empty(n) for n in rel.PARTITIONED + rel.SINGLE}, {"writer": rid})
        rel.publish(Path(root), staged, rid)


def _read_latest_rounds(root: str, seconds: float, out) -> None:
    import time

    reads = missing = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rid = rel.read_latest(Path(root))
        if rid is not None:
            reads += 1
            missing += not (Path(root) / rid / rel.MANIFEST).is_file()
    out.put((reads, missing))


def test_racing_publishers_never_expose_a_release_without_its_manifest(tmp_path):
    """Two writers publish two releases 25 times each while a reader follows LATEST: every read
    finds a manifest, and no writer crashes (the old code deleted the other's folder)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    reader = ctx.Process(target=_read_latest_rounds, args=(str(tmp_path), 4.0, q))
    writers = [ctx.Process(target=_publish_rounds, args=(str(tmp_path), rid, 25)) for rid in ("a" * 16, "b" * 16)]
    for p in [reader, *writers]:
        p.start()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    reads, missing = q.get(timeout=60)
    reader.join(60)
    assert reads > 0 and missing == 0
    assert all(rel.verify_release(tmp_path / rid) == [] for rid in ("a" * 16, "b" * 16)) and leftovers(tmp_path) == []


def test_flipped_bytes_in_a_stage_file_and_in_a_release_file_are_detected_and_never_served(tmp_path):
    from remot_train.data import ReleaseNotFound, question_table

    root, home = tmp_path / "data", dagster_home(tmp_path / "dagster_home")
    code, out = run(root, home)
    assert code == 0, out[-3000:]
    rid = rel.read_latest(root / "releases")
    manifest = json.loads((root / "releases" / rid / "manifest.json").read_text())

    # A stage file: a release-only materialization refuses it in one line; LATEST stays.
    # (the triplets stage's rows live in chunks; the manifest names each chunk's key too)
    stage = root / "stages" / "triplets" / "navigation" / "chunk-00000" / \
        manifest["stages"]["triplets/navigation/chunk-00000"] / "out.parquet"
    flip_byte(stage)
    code, out = run(root, home, "--only-release")
    assert code == 1 and "sha256 does not match entry.json" in last_line(out) and "triplets" in last_line(out), out[-2000:]
    assert rel.read_latest(root / "releases") == rid and rel.verify_release(root / "releases" / rid) == []

    # A release file: every reader refuses it, and a full rerun replaces it.
    part = root / "releases" / rid / "triplets" / "simulation" / "test" / "part-00000.parquet"
    flip_byte(part)
    with pytest.raises(ReleaseNotFound, match=r"sha256 mismatch: release .* is not served"):
        question_table(root)
    from remot_pipeline import report

    assert report.main(["--data-root", str(root)]) == 1
    code, out = run(root, home)  # recomputes the corrupted stage output and rewrites the release
    assert code == 0 and last_line(out) == f"release {rid}", out[-3000:]
    assert rel.verify_release(root / "releases" / rid) == [] and question_table(root).num_rows > 0
    assert StageStore(root / "stages").problems(stage.parent) == []
    assert leftovers(root) == []


def test_a_failed_blocking_check_leaves_latest_where_it_was(tmp_path, small_release):
    """A release whose check fails (here: coverage minimums no small world meets) is kept under
    releases/.rejected/ and LATEST still names the previous, verified release."""
    import dagster as dg

    from remot_pipeline import definitions
    from remot_pipeline.defs.resources import CoverageConfig, RemotPaths
    from remot_pipeline.defs.store import StageIOManager
    from tests.conftest import small_config

    root = tmp_path / "data"
    shutil.copytree(small_release, root, symlinks=True, ignore=shutil.ignore_patterns("stages", "raw"))
    before = rel.read_latest(root / "releases")
    config = small_config(coverage=CoverageConfig(min_train_triplets_per_value=10**6, min_bench_triplets_per_value=0))
    result = dg.materialize(definitions.DATA_ASSETS, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                            resources={"config": config, "paths": RemotPaths(data_root=str(root)),
                                       "io_manager": StageIOManager(root=str(root / "stages"))},
                            tags=definitions.ALL_DOMAINS_TAGS)
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {"release__coverage"}
    assert rel.read_latest(root / "releases") == before and assert_served_release_is_sound(root) == before
    rejected = [p for p in (root / "releases" / rel.REJECTED).iterdir() if not p.name.startswith(".")]
    assert len(rejected) == 1 and rejected[0].name != before and rel.verify_release(rejected[0]) == []
    assert not (root / "releases" / rejected[0].name).exists()
    from remot_train.data import ReleaseNotFound, resolve_release

    with pytest.raises(ReleaseNotFound, match=r"failed its blocking checks and is not served"):
        resolve_release(rejected[0])
    (mat,) = [m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey("release")]
    assert mat.materialization.metadata["published"].value is False
    from remot_pipeline.defs.training import release_folder

    with pytest.raises(dg.Failure, match=r"failed its blocking checks and was not published"):
        release_folder(RemotPaths(data_root=str(root)), {"release_id": rejected[0].name, "published": False,
                                                         "path": f"releases/.rejected/{rejected[0].name}"})


def test_moved_and_copied_data_root_keeps_its_catalog_and_its_release(tmp_path, small_release):
    from remot_train.data import question_table

    copy = tmp_path / "copied"
    shutil.copytree(small_release, copy, symlinks=True)
    moved = tmp_path / "moved"
    shutil.move(str(copy), moved)  # the folder the catalog was built in no longer exists
    rid = rel.read_latest(small_release / "releases")
    con = catalog_connect(moved)
    try:
        assert con.sql("SELECT release_id, path FROM release_info").fetchall()[0] == (rid, f"releases/{rid}")
        files = {r[0] for r in con.sql("SELECT DISTINCT filename FROM read_parquet('releases/LATEST/episodes/*.parquet',"
                                       " filename = true)").fetchall()}
        assert all(f.startswith(str(moved.resolve())) for f in files), files  # read here, not at the old root
        n = con.sql("SELECT count(*) FROM questions").fetchall()[0][0]
    finally:
        con.close()
    assert n == question_table(moved, split=None).num_rows > 0
    # Nothing in the release names the root it was built in.
    for p in (moved / "releases" / rid).rglob("*"):
        if p.is_file():
            assert str(small_release).encode() not in p.read_bytes(), p


def test_release_parquet_reads_with_pyarrow_dataset_pandas_duckdb_and_datasets(small_release):
    import duckdb
    import pandas as pd
    import pyarrow.dataset as ds

    path = rel.latest_release(small_release / "releases")
    manifest = json.loads((path / "manifest.json").read_text())
    n = manifest["rows"]["triplets"]
    assert ds.dataset(path / "triplets", format="parquet", partitioning="hive").count_rows() == n
    assert len(pd.read_parquet(path / "questions", columns=["question_id", "domain"])) == manifest["rows"]["questions"]
    assert duckdb.sql("SELECT count(*) FROM read_parquet(?)", params=[str(path / "triplets/*/*/*.parquet")]).fetchall()[0][0] == n
    import datasets  # a dependency of the train extra that `make install` installs

    dd = datasets.load_dataset("parquet", data_dir=str(path / "triplets"))
    assert {s: len(d) for s, d in dd.items()} == {
        s: sum(f["rows"] for f in manifest["files"] if f["table"] == "triplets" and f["split"] == s) for s in dd}


def test_a_release_path_with_quotes_and_glob_characters_reads(tmp_path, small_release):
    from remot_train.data import question_table

    odd = tmp_path / "it's a \"root\" [v2] *really*"
    shutil.copytree(small_release / "releases", odd / "releases", symlinks=True)
    assert question_table(odd, split="test").num_rows == question_table(small_release, split="test").num_rows > 0


def test_a_data_root_with_a_comma_is_refused_in_one_line(tmp_path):
    """DuckDB's file_search_path splits at commas, so the catalog could not resolve its views."""
    out = subprocess.run([sys.executable, "-m", "remot_pipeline.preflight", str(tmp_path / "a,b")], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "holds a comma" in out.stderr and "REMOT_DATA_ROOT" in out.stderr


def test_a_file_the_manifest_does_not_list_makes_the_release_unservable(tmp_path, small_release):
    """Readers glob the table folders: a stray file would be served, so verification refuses it."""
    from remot_train.data import ReleaseNotFound, question_table

    shutil.copytree(small_release / "releases", tmp_path / "releases", symlinks=True)
    path = rel.latest_release(tmp_path / "releases")
    part = path / "triplets" / "navigation" / "train" / "part-00000.parquet"
    shutil.copy(part, part.with_name("part-00001.parquet"))
    assert rel.verify_release(path) == [f"{part.with_name('part-00001.parquet')}: not in the manifest"]
    with pytest.raises(ReleaseNotFound, match=r"part-00001.parquet: not in the manifest: release .* is not served"):
        question_table(tmp_path)


def test_an_altered_stage_entry_is_refused(tmp_path):
    """entry.json is checked too: its lineage must hash to its folder's key."""
    from data_contracts import empty
    from remot_pipeline.core.ledger import StageResult
    from remot_pipeline.defs.store import StageCorrupted

    store = StageStore(tmp_path)
    value = StageResult(empty("motion_pairs"), empty("quarantine"), 0)
    key = store.write("motion_pairs", "navigation", value, {"code_version": "2", "config_hash": "a", "inputs": {}})
    assert store.read("motion_pairs", "navigation", key).rows_out == 0
    entry = store.path("motion_pairs", "navigation", key) / "entry.json"
    entry.write_text(entry.read_text().replace('"config_hash": "a"', '"config_hash": "b"'))
    with pytest.raises(StageCorrupted, match=r"entry.json: its lineage does not hash to"):
        store.read("motion_pairs", "navigation", key)
    assert store.problems(entry.parent) and store.write(
        "motion_pairs", "navigation", value, {"code_version": "2", "config_hash": "a", "inputs": {}}) == key
    assert store.read("motion_pairs", "navigation", key).rows_out == 0  # rewritten, not reused


def test_another_user_can_read_a_release(small_release):
    """Every file of a release written by the pipeline (umask 022) is readable by others: the mode
    bits say so, and, run as root, ``sha256sum`` as ``nobody`` reads every file and matches the
    manifest. The copy keeps the modes the pipeline gave (copy2) and only moves it out of
    pytest's private 0700 folder."""
    base = Path(tempfile.mkdtemp(prefix="remot-uid-", dir="/tmp"))
    try:
        base.chmod(0o755)
        shutil.copytree(small_release / "releases", base / "releases", symlinks=True)
        rid = rel.read_latest(base / "releases")
        manifest = json.loads((base / "releases" / rid / "manifest.json").read_text())
        for p in (base / "releases" / rid).rglob("*"):
            need = 0o005 if p.is_dir() else 0o004  # others may traverse folders and read files
            assert p.stat().st_mode & need == need, (p, oct(p.stat().st_mode))
        if os.geteuid() != 0:
            return  # no other uid to switch to: the mode bits above are the check
        files = [str(base / "releases" / "LATEST" / f["path"]) for f in manifest["files"]]
        out = subprocess.run(["sha256sum", *files, str(base / "releases" / rid / "manifest.json")], capture_output=True,
                             text=True, preexec_fn=_become_nobody)
        assert out.returncode == 0, out.stderr
        sums = dict(line.split()[::-1] for line in out.stdout.splitlines())
        for f, p in zip(manifest["files"], files):
            assert sums[p] == f["sha256"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _become_nobody():
    os.setgid(65534)
    os.setuid(65534)


def test_the_writers_honour_the_umask(tmp_path):
    """Releases, stage outputs and atomic writes create files with the process umask: 022 gives
    0644 (a colleague reads), 077 gives 0600 (the user asked for privacy)."""
    from data_contracts import empty, write_parquet
    from data_contracts.tables import atomic_write_bytes

    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        old = os.umask(umask)
        try:
            d = tmp_path / f"u{umask:o}"
            write_parquet(empty("quarantine"), "quarantine", d / "q.parquet")
            atomic_write_bytes(d / "x.json", b"{}")
            staged = rel.stage_release(d / "releases", "r1", {n: empty(n) for n in rel.PARTITIONED + rel.SINGLE}, {})
            rel.publish(d / "releases", staged, "r1")
        finally:
            os.umask(old)
        modes = {p.stat().st_mode & 0o777 for p in d.rglob("*") if p.is_file() and not p.is_symlink()}
        assert modes == {mode}, (oct(umask), {oct(m) for m in modes})
        assert (d / "releases" / "r1").stat().st_mode & 0o777 == 0o777 & ~umask


def test_an_unwritable_data_root_fails_in_one_line(tmp_path):
    """``/sys`` (sysfs, on every Linux machine) refuses new entries even to root: the run fails at its
    first step with one line naming the root and the fix."""
    code, out = run(Path("/sys/remot-test-root"), dagster_home(tmp_path / "home"))
    assert code == 1
    line = last_line(out)
    assert line.startswith("step failed: synthetic_world | ") and "/sys/remot-test-root: cannot write (" in line
    assert "point REMOT_DATA_ROOT at a writable folder" in line


def test_a_full_disk_is_one_line_naming_the_path():
    import errno

    from data_contracts.storage import StorageError, storage_error

    with pytest.raises(OSError) as info:  # /dev/full: every write fails with ENOSPC (Linux)
        with open("/dev/full", "wb") as fh:
            fh.write(b"x" * 8192)
            fh.flush()
    err = storage_error(info.value, Path("/data/releases/abc"))
    assert isinstance(err, StorageError) and err.errno == errno.ENOSPC
    assert str(err) == ("/data/releases/abc: cannot write (no space left on device); free some space (old stage "
                        "outputs under stages/ can go) or point REMOT_DATA_ROOT elsewhere")
