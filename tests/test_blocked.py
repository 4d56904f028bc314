"""Blocked and threaded kernels give exactly what the one-shot computation gives.

The release's near-duplicate search, its perceptual hashes and the negatives' retrieval-vs-random
statistic work a block (and a thread) at a time so that their memory stays flat as a release
grows; these properties pin them to the unblocked definitions over random shapes and blocks."""

from __future__ import annotations

import cv2
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from remot_pipeline.core.bench import min_hamming, phash
from remot_pipeline.core.negatives import retrieval_vs_random


def brute_min_hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(b) == 0:
        return np.full(len(a), a.shape[1] * 8, np.int64)
    bits = np.unpackbits(a, axis=1)[:, None, :] != np.unpackbits(b, axis=1)[None, :, :]
    return bits.sum(axis=2).min(axis=1).astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), m=st.integers(0, 70), width=st.sampled_from([1, 3, 8, 16, 32]),
       block=st.integers(1, 5000), workers=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_min_hamming_matches_brute_force(n, m, width, block, workers, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (n, width), dtype=np.uint8)
    b = rng.integers(0, 256, (m, width), dtype=np.uint8)
    if n and m:  # plant near and exact copies so small distances occur
        b[rng.integers(0, m)] = a[rng.integers(0, n)]
    got = min_hamming(a, b, block_elements=block, workers=workers)
    assert got.dtype == np.int64 and got.shape == (n,)
    np.testing.assert_array_equal(got, brute_min_hamming(a, b))


def test_phash_threads_equal_one_thread():
    rng = np.random.default_rng(3)
    jpegs = [cv2.imencode(".jpg", cv2.GaussianBlur(rng.integers(0, 256, (48 + i, 64 + 2 * i), np.uint8), (5, 5), 0))[1]
             .tobytes() for i in range(600)]
    one, many = phash(jpegs, workers=1), phash(jpegs, workers=3)
    np.testing.assert_array_equal(one, many)
    assert len({row.tobytes() for row in one}) > 500  # distinct images hash apart


def test_phash_names_an_undecodable_image():
    import pytest

    good = cv2.imencode(".jpg", np.zeros((16, 16), np.uint8))[1].tobytes()
    with pytest.raises(ValueError, match="image 300 is not a decodable JPEG"):
        phash([good] * 300 + [b"not a jpeg"], workers=2)


@settings(max_examples=25, deadline=None)
@given(episodes=st.integers(1, 4), frames=st.integers(1, 12), negatives=st.integers(0, 60),
       block=st.integers(1, 70), seed=st.integers(0, 2**31 - 1))
def test_retrieval_vs_random_does_not_depend_on_the_block(episodes, frames, negatives, block, seed):
    rng = np.random.default_rng(seed)
    eps = [f"e{i}" for i in range(episodes)]
    desc = rng.normal(size=(episodes * frames, 6)).astype(np.float32)
    features = pa.table({"episode_id": [e for e in eps for _ in range(frames)],
                         "frame_index": [f for _ in eps for f in range(frames)],
                         "descriptor": pa.array(list(desc), pa.list_(pa.float32()))})
    neg = pa.table({"episode_id": rng.choice(eps, negatives).tolist(),
                    "positive_frame_index": rng.integers(0, frames, negatives).tolist(),
                    "negative_similarity": rng.random(negatives).tolist(),
                    "negative_kind": rng.choice(["retrieval", "mirror"], negatives).tolist()})
    whole_r, whole_x = retrieval_vs_random(neg, features, seed=5, block=1 << 20)
    got_r, got_x = retrieval_vs_random(neg, features, seed=5, block=block)
    np.testing.assert_array_equal(whole_r, got_r)
    np.testing.assert_array_equal(whole_x, got_x)
    assert len(got_x) == sum(k == "retrieval" for k in neg.column("negative_kind").to_pylist())


def test_questions_do_not_depend_on_the_chunk(small_release):
    import pyarrow.dataset as ds

    from remot_pipeline.core.questions import build_questions

    release = small_release / "releases" / "LATEST"
    triplets = ds.dataset(release / "triplets", format="parquet", partitioning="hive").to_table()
    triplets = triplets.drop_columns([c for c in triplets.column_names if c.endswith("_image")])
    assert triplets.num_rows > 20
    whole = build_questions(triplets, 0, chunk_rows=1 << 20)
    for chunk in (1, 7):
        part = build_questions(triplets, 0, chunk_rows=chunk)
        assert part.table.equals(whole.table) and part.rows_in == whole.rows_in == 3 * triplets.num_rows


def test_a_stage_file_changed_after_a_verified_read_is_caught(tmp_path):
    """The stage store hashes a file once per process while it stays the same file; an in-place
    change of the same size, with its modification time put back, is still caught (the change
    time moves), as is a projection read after it."""
    import os

    import pytest

    from data_contracts import conform
    from remot_pipeline.core.ledger import StageResult
    from remot_pipeline.defs.store import StageCorrupted, StageStore

    store = StageStore(tmp_path / "stages")
    rows = [{"file": f"f{i}.txt", "line": i, "stage": "ingest", "domain": "navigation",
             "source_name": "s", "frame_index": i, "episode_id": "e", "reason_code": "nan_pose", "detail": "d" * 50}
            for i in range(50)]
    table = conform(pa.Table.from_pylist(rows), "quarantine")
    key = store.write("probe", "navigation", StageResult(table, table.slice(0, 0), 50, {}), {"config_hash": "x"})
    assert store.read("probe", "navigation", key).table.equals(table)
    assert store.read("probe", "navigation", key, columns=["line", "file"]).table.column_names == ["line", "file"]
    path = store.path("probe", "navigation", key) / "out.parquet"
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(path, "r+b") as f:  # same file, same size
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(StageCorrupted, match="sha256 does not match"):
        store.read("probe", "navigation", key, columns=["line"])
