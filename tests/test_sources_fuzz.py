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
from tests.corpus import edits, healthy, make_world

settings.register_profile("ci", max_examples=12, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("deep", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 400)), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

TEXT_SUFFIXES = {".txt", ".csv", ".json", ".jsonl", ".yaml", ".yml"}


# ------------------------------------------------------------------------------ sources ---

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return make_world(tmp_path_factory.mktemp("fuzz_world"))


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
    path, options = healthy(fmt, template, world)
    domain = READERS[fmt].domain
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


# ------------------------------------------------------------------ one damaged row only ---

#: Per format, the files whose records are rows (a glob under the source), and how a record is held:
#: ``"line"`` (a data line), ``"file"`` (the whole file is one row), ``"json"`` (an item of the
#: ``frames`` list), ``"parquet"`` (a table row). Damage to one record may cost that row, never another.
ROW_FILES = {
    "tum": [("*/groundtruth.txt", "line"), ("*/rgb.txt", "line")],
    "kitti": [("poses/00.txt", "line"), ("sequences/00/times.txt", "line")],
    "euroc": [("*/mav0/state_groundtruth_estimate0/data.csv", "line"), ("*/mav0/cam0/data.csv", "line")],
    "realestate10k": [("*.txt", "line")],
    "nerf": [("transforms.json", "json")],
    "scannet": [("*/pose/*.txt", "file")],
    "sevenscenes": [("*/*/frame-*.pose.txt", "file")],
    "pose_table": [("log.csv", "line")],
    "lerobot_v3": [("*/data/*/*.parquet", "parquet")],
    "lerobot_v21": [("data/*/*.parquet", "parquet")],
    "umi_v1": [("*.csv", "line")],
    "robot_table": [("logs/*.csv", "line")],
    "sim_pose_table": [("*/*.csv", "line")],
    "remot_sim_jsonl": [("*/log.jsonl", "line")],
}


def _damage_line(path: Path, line_no: int, draw) -> str:
    import re

    text = path.read_bytes().split(b"\n")
    line = text[line_no - 1]
    kind = draw(st.sampled_from(["token", "token", "token", "garbage", "nonutf8", "cut"]))
    if kind == "token":
        tokens = list(re.finditer(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", line))
        if not tokens:
            return "no token"
        m = tokens[draw(st.integers(0, len(tokens) - 1))]
        new = draw(st.sampled_from(NUMBERS)).encode()
        text[line_no - 1] = line[:m.start()] + new + line[m.end():]
        what = f"token {m.group()!r} -> {new!r}"
    elif kind == "garbage":
        text[line_no - 1] = b"#%&! not a record ,,,"
        what = "garbage"
    elif kind == "nonutf8":
        text[line_no - 1] = line[:5] + b"\xff\xfe" + line[5:]
        what = "non-UTF-8"
    else:
        cut = draw(st.integers(0, max(0, len(line) - 1)))
        text[line_no - 1] = line[:cut]
        what = f"cut at {cut}"
    path.write_bytes(b"\n".join(text))
    return f"{path.name}:{line_no} {what}"


def _damage_one_row(source: Path, fmt: str, draw) -> str:
    glob, how = draw(st.sampled_from(ROW_FILES[fmt]))
    files = sorted(source.glob(glob))
    assert files, (fmt, glob)
    path = files[draw(st.integers(0, len(files) - 1))]
    if how == "line":
        rows = edits.data_lines(path)
        if fmt in ("realestate10k", "remot_sim_jsonl"):
            rows = [i for i in rows if i > 1]  # line 1 is the video URL, or the log's header record
        return _damage_line(path, rows[draw(st.integers(0, len(rows) - 1))], draw)
    if how == "file":
        n = len(edits.lines(path))
        return _damage_line(path, draw(st.integers(1, n)), draw)
    if how == "json":
        doc = json.loads(path.read_text())
        i = draw(st.integers(0, len(doc["frames"]) - 1))
        doc["frames"][i] = _mutate_json_value(doc["frames"][i], draw)
        path.write_text(json.dumps(doc, allow_nan=True))
        return f"frame {i}"
    table = pq.read_table(path)
    numeric = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
               or (pa.types.is_fixed_size_list(f.type) or pa.types.is_list(f.type))]
    col = draw(st.sampled_from(numeric))
    row = draw(st.integers(0, table.num_rows - 1))
    bad = draw(st.sampled_from([-1, float("nan"), float("inf"), 1e12, 9.7]))

    def set_cell(cols):
        v = cols[col][row]
        if isinstance(v, list):
            v = list(v)
            v[draw(st.integers(0, len(v) - 1))] = float(bad)
            cols[col][row] = v
        elif isinstance(v, int) and not float(bad).is_integer():
            cols[col][row] = -1
        else:
            cols[col][row] = type(v)(bad) if isinstance(v, int) else float(bad)
    edits.edit_parquet(path, set_cell)
    return f"{path.name} row {row} {col} = {bad}"


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_one_damaged_row_costs_at_most_that_row(fmt, world, tmp_path_factory):
    """Damage one record (one line, one pose file, one JSON frame, one Parquet row) of a healthy
    source: the source still reads, and at most one row is quarantined - never a healthy one."""
    template = tmp_path_factory.mktemp(f"rows_{fmt}")
    path, options = healthy(fmt, template, world)
    domain = READERS[fmt].domain

    @settings(settings.get_profile(PROFILE))
    @given(st.data())
    def fuzz(data):
        work = Path(tmp_path_factory.mktemp(f"row_{fmt}"))
        shutil.copytree(template, work / "src", symlinks=True)
        what = _damage_one_row(work / "src", fmt, data.draw)
        reads, failed = read_sources([SourceSpec("src", domain, fmt, work / "src" / path.relative_to(template),
                                                 options)])
        assert not failed, (what, failed)
        rows = [(q["reason_code"], q["file"].rsplit("/", 1)[-1], q["line"], q["detail"])
                for r in reads for q in r.quarantine.table().to_pylist()]
        assert len(rows) <= 1, (what, rows)
        for r in reads:
            assert r.rows_in == r.n_frames + len(r.quarantine), (what, r.rows_in, r.n_frames, len(r.quarantine))
        shutil.rmtree(work, ignore_errors=True)

    fuzz()
