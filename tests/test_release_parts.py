"""Release tables streamed from chunks into bounded part files (remot_pipeline.core.release).

Rows are generated from the contracts themselves (every column of ``triplets``, ``questions``,
``episodes`` and ``quarantine``, with small real JPEGs in the image columns), so the tests follow
the contracts when they change. Everything is written under ``tmp_path``; nothing reads the network.
"""

from __future__ import annotations

import functools
import json
import random
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts import IMAGE, ContractError, conform, contract, empty, write_parquet
from remot_pipeline.core import release as rel

DOMAINS = ("manipulation", "navigation", "simulation")
SPLITS = ("test", "train")
RID = "0123456789abcdef"


def _jpegs(n: int = 4) -> list[bytes]:
    rng = np.random.default_rng(0)
    return [cv2.imencode(".jpg", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))[1].tobytes() for _ in range(n)]


JPEGS = _jpegs()


def _value(t: pa.DataType, rng: random.Random, nullable: bool):
    if nullable and rng.random() < 0.2:
        return None
    if t == IMAGE:
        return {"bytes": rng.choice(JPEGS), "path": None}
    if pa.types.is_string(t):
        return "".join(rng.choice("abcdef ") for _ in range(rng.randrange(1, 24)))
    if pa.types.is_integer(t):
        return rng.randrange(0, 1000)
    if pa.types.is_floating(t):
        return rng.uniform(-5, 5)
    if pa.types.is_boolean(t):
        return rng.random() < 0.5
    if pa.types.is_binary(t):
        return rng.randbytes(rng.randrange(0, 32))
    if pa.types.is_fixed_size_list(t):
        return [_value(t.value_type, rng, False) for _ in range(t.list_size)]
    if pa.types.is_list(t):
        return [_value(t.value_type, rng, False) for _ in range(rng.randrange(0, 3))]
    if pa.types.is_struct(t):
        return {f.name: _value(f.type, rng, f.nullable) for f in t}
    raise AssertionError(f"no generator for {t}")


def rows_table(name: str, n: int, seed: int = 0, domains=DOMAINS, splits=SPLITS) -> pa.Table:
    """``n`` rows of contract ``name``, conformed, with domains and splits interleaved at random and
    a row number in the first column (``triplet_id`` / ``question_id`` / ...) to check order."""
    rng = random.Random(seed)
    c = contract(name)
    schema = c.schema()
    rows = []
    for i in range(n):
        row = {f.name: _value(f.type, rng, c.is_nullable(f.name)) for f in schema}
        if "domain" in row:
            row["domain"] = rng.choice(domains)
        if "split" in row:
            row["split"] = rng.choice(splits)
        row[schema[0].name] = f"row-{i:06d}"
        rows.append(row)
    return conform(pa.Table.from_pylist(rows, schema=schema), name)


def chunked(table: pa.Table, cuts: list[int]):
    """A generator of slices of ``table`` cut at ``cuts`` (a shard at a time)."""
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < table.num_rows), table.num_rows]
    for a, b in zip(edges, edges[1:]):
        yield table.slice(a, b - a)


def tables(triplets, questions=None, episodes=None, quarantine=None) -> dict:
    return {"triplets": triplets, "questions": questions if questions is not None else empty("questions"),
            "episodes": episodes if episodes is not None else empty("episodes"),
            "quarantine": quarantine if quarantine is not None else empty("quarantine")}


def manifest_of(path: Path) -> dict:
    return json.loads((path / rel.MANIFEST).read_text())


def file_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*.parquet"))}


def part_of(table: pa.Table, domain: str, split: str) -> pa.Table:
    return table.filter(pc.and_(pc.equal(table["domain"], domain), pc.equal(table["split"], split)))


def group_bytes(table: pa.Table, rows: int) -> int:
    return table.slice(0, rows).combine_chunks().nbytes


@pytest.fixture(scope="module")
def data():
    return {"triplets": rows_table("triplets", 96, seed=1), "questions": rows_table("questions", 120, seed=2),
            "episodes": rows_table("episodes", 40, seed=3), "quarantine": rows_table("quarantine", 25, seed=4)}


@pytest.fixture(scope="module")
def published(tmp_path_factory, data):
    """A release of the data streamed in random chunks, 4-row row groups and parts of ~2 groups."""
    root = tmp_path_factory.mktemp("releases")
    t = data["triplets"]
    part_max = int(group_bytes(t, 4) * 1.5)
    rng = random.Random(5)
    chunks = {name: chunked(tbl, [rng.randrange(tbl.num_rows) for _ in range(tbl.num_rows // 7)])
              for name, tbl in data.items()}
    staged = rel.stage_release(root, RID, chunks, {"note": "parts"}, part_max_bytes=part_max, row_group_rows=4)
    path, written = rel.publish(root, staged, RID)
    assert written
    return path


# ----------------------------------------------------------------------------------- (a) ---

def test_chunks_are_written_as_several_bounded_parts_in_input_order(published, data):
    manifest = manifest_of(published)
    files = manifest["files"]
    assert rel.verify_release(published) == []
    for name, tbl in data.items():
        assert manifest["rows"][name] == tbl.num_rows == sum(f["rows"] for f in files if f["table"] == name)
    assert {k for f in files for k in f} == {"path", "table", "domain", "split", "rows", "sha256"}
    # Every table folder: parts numbered from 00000 without gaps, listed in order.
    by_folder: dict[str, list[str]] = {}
    for f in files:
        folder, part = f["path"].rsplit("/", 1)
        by_folder.setdefault(folder, []).append(part)
    assert all(parts == [f"part-{i:05d}.parquet" for i in range(len(parts))] for parts in by_folder.values())
    assert list(by_folder) == sorted(by_folder, key=lambda k: (rel.PARTITIONED + rel.SINGLE).index(k.split("/")[0]))
    t = data["triplets"]
    for d in DOMAINS:
        for s in SPLITS:
            listed = [f for f in files if f["table"] == "triplets" and (f["domain"], f["split"]) == (d, s)]
            assert len(listed) >= 2, (d, s)  # several parts per (domain, split)
            assert all(f["path"].startswith(f"triplets/{d}/{s}/") for f in listed)
            back = conform(pa.concat_tables([pq.read_table(published / f["path"]) for f in listed]), "triplets")
            want = part_of(t, d, s)
            assert back.equals(want, check_metadata=True), (d, s)  # same rows, same order, contract stamped
            metas = [pq.ParquetFile(published / f["path"]).metadata for f in listed]
            assert all(m.row_group(i).num_rows <= 4 for m in metas for i in range(m.num_row_groups))
            assert all(m.num_rows == f["rows"] for m, f in zip(metas, listed))
    # Parts hold several row groups and close at the bound (each at most one row group past it).
    assert max(pq.ParquetFile(published / f["path"]).metadata.num_row_groups for f in files) >= 2
    # Single tables roll over too, and keep their input order.
    episodes = [f for f in files if f["table"] == "episodes"]
    assert [f["path"] for f in episodes][:1] == ["episodes/part-00000.parquet"]
    back = pa.concat_tables([pq.read_table(published / f["path"]) for f in episodes])
    assert conform(back, "episodes").equals(data["episodes"])


def test_parts_are_closed_while_the_chunks_still_stream(tmp_path):
    """The writer does not gather a table: the first part is on disk before the last chunk is read."""
    t = rows_table("triplets", 60, seed=7, domains=("navigation",), splits=("train",))
    seen = []

    def shards():
        for i in range(0, t.num_rows, 5):
            seen.append(sorted(tmp_path.glob(".tmp~*/triplets/navigation/train/part-*")))
            yield t.slice(i, 5)

    staged = rel.stage_release(tmp_path, RID, tables(shards()), {}, part_max_bytes=1, row_group_rows=5)
    assert len(manifest_of(staged)["files"]) == 12 + 2  # 12 triplet parts, one empty episodes, one empty quarantine
    assert len(seen[-1]) == 11  # before the last shard is read, 11 parts are already closed


def test_streamed_parts_honour_the_umask(tmp_path):
    import os

    t = rows_table("triplets", 12, seed=9)
    old = os.umask(0o027)
    try:
        staged = rel.stage_release(tmp_path, RID, tables(chunked(t, [5])), {}, part_max_bytes=1, row_group_rows=2)
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in staged.rglob("*") if p.is_file()} == {0o640}
    assert {p.stat().st_mode & 0o777 for p in staged.rglob("*") if p.is_dir()} == {0o750}


def test_empty_tables_partitioned_write_nothing_single_write_one_empty_part(tmp_path):
    staged = rel.stage_release(tmp_path, RID, tables(iter([]), empty("questions"), iter([]), []), {})
    manifest = manifest_of(staged)
    assert [f["path"] for f in manifest["files"]] == ["episodes/part-00000.parquet", "quarantine/part-00000.parquet"]
    assert manifest["rows"] == {"triplets": 0, "questions": 0, "episodes": 0, "quarantine": 0}
    for f in manifest["files"]:
        back = pq.read_table(staged / f["path"])
        assert conform(back, f["table"]).equals(empty(f["table"]), check_metadata=True)
        assert back.schema.metadata == contract(f["table"]).schema().metadata  # the contract stamp
    assert rel.verify_release(staged) == []


def test_a_chunk_that_breaks_the_contract_stages_nothing(tmp_path):
    t = rows_table("triplets", 10, seed=8)
    bad = chunked(t, [5])
    with pytest.raises(ContractError, match="missing column"):
        rel.stage_release(tmp_path, RID, tables(iter([next(bad), t.slice(5).drop(["scene_id"])])), {})
    with pytest.raises(ValueError, match="cannot name a release folder"):
        rel.stage_release(tmp_path, RID, tables(t.set_column(t.schema.get_field_index("domain"), "domain",
                                                             pa.array(["../x"] * 10))), {})
    assert not list(tmp_path.glob(".tmp~*")) and not list(tmp_path.glob("*/*.parquet"))


# ----------------------------------------------------------------------------------- (b) ---

def test_the_same_chunks_give_the_same_bytes_and_manifest(tmp_path, data):
    t, q = data["triplets"], data["questions"]
    kw = {"part_max_bytes": int(group_bytes(t, 4) * 2.5), "row_group_rows": 4}
    a = rel.stage_release(tmp_path / "a", RID, tables(chunked(t, [3, 50, 51, 90]), chunked(q, [7])), {}, **kw)
    b = rel.stage_release(tmp_path / "b", RID, tables(chunked(t, [3, 50, 51, 90]), chunked(q, [7])), {}, **kw)
    assert file_bytes(a) == file_bytes(b) and manifest_of(a)["files"] == manifest_of(b)["files"]
    # One whole table, other chunkings: the same rows give the same files, byte for byte.
    c = rel.stage_release(tmp_path / "c", RID, tables(t, q), {}, **kw)
    d = rel.stage_release(tmp_path / "d", RID, tables(chunked(t, list(range(1, 96))), [q]), {}, **kw)
    assert file_bytes(c) == file_bytes(a) == file_bytes(d)
    assert manifest_of(c)["files"] == manifest_of(a)["files"] == manifest_of(d)["files"]


@functools.lru_cache
def _triplets(seed: int) -> pa.Table:
    return rows_table("triplets", 40, seed=seed, domains=DOMAINS[:2])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, 39), max_size=12), rg=st.integers(3, 9), groups_per_part=st.floats(0.5, 4.0),
       seed=st.integers(0, 2))
def test_chunking_never_changes_the_bytes(cuts, rg, groups_per_part, seed):
    t = _triplets(seed)
    kw = {"part_max_bytes": max(1, int(group_bytes(t, rg) * groups_per_part)), "row_group_rows": rg}
    with tempfile.TemporaryDirectory() as tmp:
        whole = rel.stage_release(Path(tmp) / "w", RID, tables(t), {}, **kw)
        parts = rel.stage_release(Path(tmp) / "p", RID, tables(chunked(t, cuts)), {}, **kw)
        assert file_bytes(whole) == file_bytes(parts)
        assert manifest_of(whole)["files"] == manifest_of(parts)["files"]
        assert manifest_of(parts)["rows"]["triplets"] == 40 and rel.verify_release(parts) == []


def test_a_part_closes_at_the_same_row_group_however_the_rows_were_chunked(tmp_path):
    """A row group's size is measured once its rows are contiguous: chunked Arrow data counts a few
    more bytes (one offsets buffer per chunk), which at a bound one byte above the group would
    otherwise close the part early for chunked input only."""
    t = rows_table("triplets", 8, seed=0, domains=("navigation",), splits=("train",))
    kw = {"part_max_bytes": group_bytes(t, 4) + 1, "row_group_rows": 4}
    whole = rel.stage_release(tmp_path / "w", RID, tables(t), {}, **kw)
    ones = rel.stage_release(tmp_path / "o", RID, tables(chunked(t, list(range(1, 8)))), {}, **kw)
    assert [f["rows"] for f in manifest_of(whole)["files"] if f["table"] == "triplets"] == [8]
    assert file_bytes(whole) == file_bytes(ones)


def test_a_small_table_gives_the_bytes_write_parquet_gives(tmp_path, data):
    """Below one row group and one part, the streamed part is the file write_parquet writes."""
    t = data["triplets"]
    nav = part_of(t, "navigation", "train")
    staged = rel.stage_release(tmp_path / "r", RID, tables(nav, episodes=data["episodes"]), {})
    write_parquet(nav, "triplets", tmp_path / "old.parquet")
    write_parquet(data["episodes"], "episodes", tmp_path / "old_episodes.parquet")
    new = staged / "triplets" / "navigation" / "train" / "part-00000.parquet"
    assert new.read_bytes() == (tmp_path / "old.parquet").read_bytes()
    assert (staged / "episodes/part-00000.parquet").read_bytes() == (tmp_path / "old_episodes.parquet").read_bytes()


# ------------------------------------------------------------------------------- (c), (d) ---

def test_duckdb_reads_every_part_by_glob_and_by_manifest(published, data):
    import duckdb

    files = [str(published / f["path"]) for f in manifest_of(published)["files"] if f["table"] == "triplets"]
    con = duckdb.connect()
    q = "SELECT count(*), count(DISTINCT triplet_id), sum(octet_length(anchor_image.bytes)) FROM read_parquet(?)"
    by_glob = con.execute(q, [str(published / "triplets" / "*" / "*" / "*.parquet")]).fetchone()
    by_list = con.execute(q, [files]).fetchone()
    t = data["triplets"]
    want = (t.num_rows, t.num_rows, sum(len(x["bytes"]) for x in t["anchor_image"].to_pylist()))
    assert by_glob == by_list == want
    ids = [r[0] for r in con.execute("SELECT triplet_id FROM read_parquet(?)", [files]).fetchall()]
    assert sorted(ids) == sorted(t["triplet_id"].to_pylist())


def test_hf_datasets_loads_the_manifest_parts(published, data, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    files = [str(published / f["path"]) for f in manifest_of(published)["files"] if f["table"] == "triplets"]
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == data["triplets"].num_rows
    assert isinstance(ds.features["anchor_image"], datasets.Image)
    # The parts in manifest order are the rows of each (domain, split) in input order.
    t = data["triplets"]
    want = [i for d in DOMAINS for s in SPLITS
            for i in part_of(t, d, s)["triplet_id"].to_pylist()]
    assert list(ds["triplet_id"]) == want
    assert ds[0]["anchor_image"].size == (16, 16)  # the inline JPEG decodes


# ----------------------------------------------------------------------------------- (e) ---

def test_verify_flags_an_altered_part_an_unlisted_part_and_wrong_totals(published, tmp_path):
    copy = tmp_path / "releases" / RID
    shutil.copytree(published, copy)
    files = manifest_of(copy)["files"]
    assert rel.verify_release(copy) == []
    second = copy / [f["path"] for f in files if f["path"].endswith("part-00001.parquet")][0]
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF
    second.write_bytes(bytes(data))
    extra = copy / "triplets" / "navigation" / "train" / "part-00099.parquet"
    shutil.copy(copy / files[0]["path"], extra)
    assert rel.verify_release(copy) == [f"{second}: sha256 mismatch", f"{extra}: not in the manifest"]
    with pytest.raises(rel.ReleaseInvalid, match=r"sha256 mismatch \(and 1 more\): .*rebuild it"):
        rel.verified_release(copy)

    again = tmp_path / "again" / RID
    shutil.copytree(published, again)
    manifest = manifest_of(again)
    manifest["rows"]["triplets"] += 1
    (again / rel.MANIFEST).write_text(json.dumps(manifest))
    assert rel.verify_release(again) == [f"{again / rel.MANIFEST}: rows of 'triplets' are "
                                         f"{manifest['rows']['triplets']} but its files list "
                                         f"{manifest['rows']['triplets'] - 1}"]
