"""Fuzz every reader: mutate one file of a small valid source and read it.

Whatever the bytes, a reader returns rows plus quarantine rows, or raises ``SourceError`` (one
line): no other exception escapes, no line vanishes (``rows_in == rows_out + rows_quarantined``
for every episode), and every error message is a single line. Examples per format are few by
default (CI); ``HYPOTHESIS_PROFILE=deep`` runs many more.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remot_pipeline.core.ingest import read_sources
from remot_pipeline.sources import READERS, SourceSpec

settings.register_profile("ci", max_examples=12, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("deep", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 400)), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

TEXT_SUFFIXES = {".txt", ".csv", ".json", ".jsonl", ".yaml", ".yml"}


# ------------------------------------------------------------------------------ sources ---

def _build(fmt: str, root: Path, world: Path) -> tuple[Path, dict, str]:
    """A small valid source of format ``fmt`` under ``root``: ``(path, options, domain)``."""
    from tests import test_sources_manipulation as man
    from tests import test_sources_navigation as nav

    if fmt == "tum":
        shutil.copytree(world / "navigation", root / "nav")
        return root / "nav", {}, "navigation"
    if fmt == "lerobot_v3":
        shutil.copytree(world / "manipulation", root / "arm")
        return root / "arm", {}, "manipulation"
    if fmt == "remot_sim_jsonl":
        shutil.copytree(world / "simulation", root / "sim")
        return root / "sim", {}, "simulation"
    if fmt == "kitti":
        nav.write_kitti(root)
        return root, {}, "navigation"
    if fmt == "euroc":
        nav.write_euroc(root)
        return root, {}, "navigation"
    if fmt == "realestate10k":
        nav.write_re10k(root)
        return root, {}, "navigation"
    if fmt == "nerf":
        nav.write_nerf(root)
        return root, {}, "navigation"
    if fmt == "scannet":
        nav.write_scannet(root)
        return root, {}, "navigation"
    if fmt == "sevenscenes":
        nav.write_7scenes(root)
        return root, {}, "navigation"
    if fmt == "pose_table":
        path, _ = nav.write_pose_table(root)
        return path, dict(nav.PT_OPTIONS), "navigation"
    if fmt == "lerobot_v21":
        man.make_v21(root, {0: 8, 1: 6})
        return root, {}, "manipulation"
    if fmt == "umi_v1":
        man.make_umi(root)
        return root, {"table": "csv"}, "manipulation"
    if fmt == "robot_table":
        man.make_table(root, {"a": 8})
        return root, dict(man.TABLE_OPTIONS), "manipulation"
    if fmt == "sim_pose_table":
        man.make_carla(root)
        return root, dict(man.CARLA_OPTIONS), "simulation"
    raise KeyError(fmt)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from remot_pipeline.synthetic import WorldConfig, generate_world

    root = tmp_path_factory.mktemp("fuzz_world")
    generate_world(root, WorldConfig(episodes_per_domain=1, frames_per_episode=16))
    return root


# ---------------------------------------------------------------------------- mutations ---

NUMBERS = ["nan", "NaN", "inf", "-inf", "-1", "9.7", "1e308", "abc", "", "0", "-0.0", "true"]


def _mutate_text(data: bytes, draw) -> bytes:
    lines = data.split(b"\n")
    kind = draw(st.sampled_from(["bom", "truncate", "delete", "duplicate", "swap", "token", "garbage", "nonutf8",
                                 "crlf", "empty"]))
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    if kind == "delete":
        return b"\n".join(lines[:i] + lines[i + 1:])
    if kind == "duplicate":
        return b"\n".join(lines[:i + 1] + lines[i:])
    if kind == "swap":
        j = draw(st.integers(0, max(0, len(lines) - 1)))
        lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)
    if kind == "token":
        import re

        tokens = list(re.finditer(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", lines[i])) if lines else []
        if not tokens:
            return data
        m = tokens[draw(st.integers(0, len(tokens) - 1))]
        lines[i] = lines[i][:m.start()] + draw(st.sampled_from(NUMBERS)).encode() + lines[i][m.end():]
        return b"\n".join(lines)
    if kind == "garbage":
        return b"\n".join(lines[:i] + [b"#%&! not a record ,,,"] + lines[i:])
    if kind == "nonutf8":
        return b"\n".join(lines[:i] + [b"\xff\xfe\xfa bad bytes"] + lines[i:])
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    return b""


def _mutate_json_value(doc, draw):
    """Delete a key or change a value's type somewhere in a JSON document (in place)."""
    paths = []

    def walk(node, trail):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append(trail + [k])
                walk(v, trail + [k])
        elif isinstance(node, list):
            for k, v in enumerate(node[:4]):
                paths.append(trail + [k])
                walk(v, trail + [k])

    walk(doc, [])
    if not paths:
        return doc
    trail = paths[draw(st.integers(0, len(paths) - 1))]
    parent = doc
    for k in trail[:-1]:
        parent = parent[k]
    action = draw(st.sampled_from(["delete", "null", "string", "negative", "fraction", "list", "nan"]))
    key = trail[-1]
    if action == "delete":
        parent.pop(key) if isinstance(parent, dict) else parent.pop(key)
    else:
        parent[key] = {"null": None, "string": "oops", "negative": -1, "fraction": 9.7, "list": [1, 2],
                       "nan": float("nan")}[action]
    return doc


def _mutate_parquet(path: Path, draw) -> None:
    kind = draw(st.sampled_from(["truncate", "flip", "drop_column", "value"]))
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[:draw(st.integers(0, len(data)))])
        return
    if kind == "flip":
        i = draw(st.integers(0, len(data) - 1))
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        return
    table = pq.read_table(path)
    if table.num_columns == 0 or table.num_rows == 0:
        return
    col = draw(st.integers(0, table.num_columns - 1))
    if kind == "drop_column":
        pq.write_table(table.remove_column(col), path)
        return
    field = table.schema.field(col)
    if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
        return
    values = table.column(col).to_pylist()
    row = draw(st.integers(0, len(values) - 1))
    values[row] = draw(st.sampled_from([-1, float("nan"), float("inf"), 1e12]))
    if pa.types.is_integer(field.type) and not float(values[row]).is_integer():
        values[row] = -1
    arr = pa.array(values, type=pa.float64() if pa.types.is_floating(field.type) else pa.int64())
    pq.write_table(table.set_column(col, field.name, arr), path)


def _mutate(source_root: Path, draw) -> str:
    files = sorted(p for p in source_root.rglob("*") if p.is_file()
                   and (p.suffix.lower() in TEXT_SUFFIXES or p.suffix == ".parquet"))
    assert files, source_root
    target = files[draw(st.integers(0, len(files) - 1))]
    if target.suffix == ".parquet":
        _mutate_parquet(target, draw)
    elif target.suffix == ".json" and draw(st.booleans()):
        try:
            doc = json.loads(target.read_text())
        except ValueError:
            return str(target)
        target.write_text(json.dumps(_mutate_json_value(doc, draw), allow_nan=True))
    else:
        target.write_bytes(_mutate_text(target.read_bytes(), draw))
    return str(target.relative_to(source_root))


# -------------------------------------------------------------------------------- tests ---

@pytest.mark.parametrize("fmt", sorted(READERS))
def test_every_reader_survives_any_single_file_mutation(fmt, world, tmp_path_factory):
    template = tmp_path_factory.mktemp(f"fuzz_{fmt}")
    path, options, domain = _build(fmt, template, world)
    clean, failed = read_sources([SourceSpec("src", domain, fmt, path, options)])
    assert not failed and clean, (fmt, failed)  # the template itself is healthy

    @settings(settings.get_profile(PROFILE))
    @given(st.data())
    def fuzz(data):
        work = Path(tmp_path_factory.mktemp(f"case_{fmt}"))
        shutil.copytree(template, work / "src", symlinks=True)
        mutated_path = work / "src" / path.relative_to(template)
        what = _mutate(work / "src", data.draw)
        reads, failed = read_sources([SourceSpec("src", domain, fmt, mutated_path, options)])
        for f in failed:
            assert f["kind"] == "source_error", (what, f["error"])  # only a SourceError may leave a reader
            assert "\n" not in f["error"], (what, f["error"])
        for r in reads:
            assert r.rows_in == r.n_frames + len(r.quarantine), (what, r.ref.episode_id, r.rows_in, r.n_frames,
                                                                 len(r.quarantine))
            ts = np.asarray(r.columns["timestamp_s"], dtype=float) if r.n_frames else np.zeros(0)
            assert np.isfinite(ts).all() and (np.diff(ts) > 0).all(), (what, "kept timestamps are finite and increasing")
            idx = r.columns.get("media_frame_index")
            if idx is not None and r.n_frames:
                idx = np.asarray([i for i in idx if i is not None], dtype=float)
                assert (idx >= 0).all() and (idx == np.round(idx)).all(), (what, "frame indices are whole and >= 0")
        shutil.rmtree(work, ignore_errors=True)

    fuzz()
