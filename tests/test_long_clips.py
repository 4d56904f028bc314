"""Clips of k > 2 frames (remot_config ``clip_frames``): the release stores each pair's frames
between its two, decoded from the sources at the sources' timestamps; training packs a k-frame
clip into ceil(k / 2) temporal patches of Qwen-VL's vision tower (one image, grid t > 1)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from remot_pipeline.core.clips import ClipError, between_frames
from remot_train import clips
from remot_train.model import build_processor, build_tiny_model, build_tokenizer, load

K = 4
SIZE = 32
GRPO_TINY = dict(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, learning_rate=1e-3)


# --- the choice of frames ---------------------------------------------------------------------------
def oracle(ts: list[float], first: int, last: int, k: int) -> list[int]:
    """Brute force: for each evenly spaced time strictly between the pair's, the nearest frame of
    the window (the earlier on a tie), chosen forwards in time and reversed for a backward pair."""
    lo, hi = min(first, last), max(first, last)
    picks = []
    for j in range(1, k - 1):
        target = ts[lo] + (ts[hi] - ts[lo]) * j / (k - 1)
        picks.append(min(range(lo, hi + 1), key=lambda i: (abs(ts[i] - target), i)))
    return picks if first <= last else picks[::-1]


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.floats(1e-3, 2.0), min_size=1, max_size=60), data=st.data(), k=st.integers(2, 12))
def test_between_frames_matches_a_brute_force_oracle(steps, data, k):
    ts = np.concatenate([[0.0], np.cumsum(steps)])
    first = data.draw(st.integers(0, len(ts) - 1))
    last = data.draw(st.integers(0, len(ts) - 1))
    got = between_frames(ts, first, last, k)
    assert got.dtype == np.int64 and got.shape == (k - 2,)
    assert got.tolist() == oracle(ts.tolist(), first, last, k)
    assert between_frames(ts, last, first, k).tolist() == got[::-1].tolist()  # a reversal plays the clip backwards
    lo, hi = min(first, last), max(first, last)
    assert all(lo <= p <= hi for p in got)
    assert np.all(np.diff(got) >= 0) if first <= last else np.all(np.diff(got) <= 0)


def test_between_frames_refuses_a_short_clip():
    with pytest.raises(ClipError, match="clip_frames must be an integer >= 2"):
        between_frames(np.arange(5.0), 0, 4, 1)


@given(n=st.integers(2, 40), data=st.data())
def test_subsample_keeps_the_ends_and_the_order(n, data):
    k = data.draw(st.integers(2, n))
    picked = clips.subsample(list(range(n)), k)
    assert len(picked) == k and picked[0] == 0 and picked[-1] == n - 1 and picked == sorted(set(picked))
    with pytest.raises(ClipError, match=f"rebuild the release with remot_config clip_frames: {n + 1}"):
        clips.subsample(list(range(n)), n + 1)


# --- the processor ----------------------------------------------------------------------------------
def _noise(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("k", [3, 4, 5])
def test_a_k_frame_clip_fills_ceil_k_over_2_temporal_patches(k):
    proc = build_processor(build_tokenizer("small"), 64)
    frames = [_noise(i) for i in range(k)]
    clip_proc = clips.processor_for(proc, "clips", k)
    out = clip_proc.image_processor(images=[clips.clip_image(frames)], return_tensors="np")
    t = -(-k // 2)
    assert out["image_grid_thw"].tolist() == [[t, 4, 4]]
    patches = out["pixel_values"].reshape(t, 16, 3, 2, 16, 16)  # (t, patches, C, temporal, ph, pw)
    stock = [proc.image_processor(images=[f], return_tensors="np")["pixel_values"].reshape(16, 3, 2, 16, 16)[:, :, 0]
             for f in frames]
    padded = stock + [stock[-1]] * (2 * t - k)  # an odd clip repeats its last frame
    for i, frame in enumerate(padded):
        assert np.array_equal(patches[i // 2, :, :, i % 2], frame)
    still = clip_proc.image_processor(images=[clips.still_clip(frames[0], k)], return_tensors="np")
    assert still["image_grid_thw"].tolist() == [[t, 4, 4]]
    assert [f.tobytes() for f in clips.frames_of(clips.clip_image(frames), k)] == [f.tobytes() for f in frames]
    with pytest.raises(ClipError, match=f"not a {k}-frame clip"):
        clip_proc.image_processor(images=[Image.new("RGB", (64, 64 * k + 1))], return_tensors="np")


# --- the release ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def k_release(tmp_path_factory):
    """The small synthetic world built with 4-frame clips; returns (data root, materialize result)."""
    import dagster as dg

    from remot_pipeline import definitions
    from remot_pipeline.defs.resources import RemotPaths
    from remot_pipeline.defs.store import StageIOManager
    from tests.conftest import small_config

    root = tmp_path_factory.mktemp("k_release")
    resources = {"config": small_config(clip_frames=K), "paths": RemotPaths(data_root=str(root)),
                 "io_manager": StageIOManager(root=str(root / "stages"))}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(definitions.DATA_ASSETS, resources=resources, instance=instance,
                                tags=definitions.ALL_DOMAINS_TAGS)
        checks = [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()]
    assert result.success
    return root, checks


def _sql(query: str):
    import duckdb

    return duckdb.connect().sql(query)


def _decode(image: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image["bytes"])).convert("RGB"), dtype=np.int16)


def test_a_release_with_4_frame_clips_passes_every_check(k_release):
    root, checks = k_release
    assert checks and [name for name, ok in checks if not ok] == []
    manifest = json.loads((root / "releases" / "LATEST" / "manifest.json").read_text())
    assert manifest["config"]["clip_frames"] == K


def test_clip_frames_are_the_sources_frames_at_the_chosen_times(k_release):
    """Recomputed independently: the frames table of the run (its stage output), the brute-force
    oracle, and the source media decoded here with PyAV / OpenCV."""
    import av
    import cv2

    root, _ = k_release
    release = root / "releases" / "LATEST"
    frames = _sql(f"SELECT episode_id, frame_index, timestamp_s, media_path, media_frame_index "
                  f"FROM '{root}/stages/episode_frames/**/out.parquet' ORDER BY episode_id, timestamp_s").pl()
    episodes = dict(_sql(f"SELECT episode_id, source_root FROM '{release}/episodes/**/*.parquet'").fetchall())
    triplets = _sql(f"SELECT * FROM '{release}/triplets/**/*.parquet'").pl()
    assert triplets.height > 100
    by_episode = {e: part for (e,), part in frames.partition_by("episode_id", as_dict=True).items()}
    checked_pixels = 0
    for row in triplets.iter_rows(named=True):
        for which, episode, first, last in (("positive", "episode_id", "anchor", "positive"),
                                           ("negative", "negative_episode_id", "negative_anchor", "negative")):
            fr = by_episode[row[episode]]
            fi = fr["frame_index"].to_list()
            ts = fr["timestamp_s"].to_list()
            a, b = fi.index(row[f"{first}_frame_index"]), fi.index(row[f"{last}_frame_index"])
            expected = [fi[p] for p in oracle(ts, a, b, K)]
            assert row[f"{which}_between_frame_index"] == expected, row["triplet_id"]
            assert row[f"{which}_between_timestamp_s"] == [ts[fi.index(f)] for f in expected]
            assert len(row[f"{which}_between_images"]) == K - 2
        if row["negative_kind"] == "temporal_reversal":
            assert row["negative_between_frame_index"] == row["positive_between_frame_index"][::-1]
            assert [i["bytes"] for i in row["negative_between_images"]] == \
                [i["bytes"] for i in row["positive_between_images"]][::-1]
        if row["negative_transform"] == "hflip":  # each frame mirrored, through the same re-encode
            for p, n in zip(row["positive_between_images"], row["negative_between_images"]):
                assert np.abs(_decode(p)[:, ::-1] - _decode(n)).mean() < 3.0
    # pixels: a sample of clip frames against the source media, decoded here
    sample = triplets.filter(triplets["negative_transform"] == "none").group_by("domain").head(4)
    for row in sample.iter_rows(named=True):
        fr = by_episode[row["episode_id"]]
        for f, image in zip(row["positive_between_frame_index"], row["positive_between_images"]):
            media = fr.filter(fr["frame_index"] == f).row(0, named=True)
            path = root / episodes[row["episode_id"]] / media["media_path"]
            if path.suffix.lower() in {".png", ".jpg", ".jpeg"}:
                src = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            else:
                with av.open(str(path)) as container:
                    src = [fm.to_ndarray(format="rgb24") for fm in container.decode(video=0)][media["media_frame_index"]]
            stored = _decode(image)
            src = cv2.resize(src, (stored.shape[1], stored.shape[0]), interpolation=cv2.INTER_AREA).astype(np.int16)
            assert np.abs(src - stored).mean() < 6.0, (row["triplet_id"], f)
            checked_pixels += 1
    assert checked_pixels >= 3 * (K - 2)


def test_clip_frames_share_the_keyframes_encoding(k_release):
    """A clip frame that is also some triplet's keyframe is stored byte for byte as that keyframe
    (one decode -> resize -> JPEG path for both)."""
    root, _ = k_release
    release = root / "releases" / "LATEST"
    t = f"'{release}/triplets/**/*.parquet'"
    shared = _sql(f"""
        WITH between AS (SELECT episode_id, unnest(positive_between_frame_index) AS frame_index,
                                unnest(positive_between_images) AS image
                         FROM {t} WHERE negative_transform = 'none'),
             keys AS (SELECT episode_id, anchor_frame_index AS frame_index, anchor_image AS image FROM {t}
                      WHERE negative_transform = 'none'
                      UNION ALL SELECT episode_id, positive_frame_index, positive_image FROM {t}
                      WHERE negative_transform = 'none')
        SELECT count(*) AS n, count(*) FILTER (WHERE b.image.bytes = k.image.bytes) AS same
        FROM between b JOIN keys k USING (episode_id, frame_index)""").fetchall()[0]
    assert shared[0] > 0 and shared[1] == shared[0]


def test_the_catalog_lists_each_clips_frames(k_release, tmp_path):
    from remot_pipeline.core.catalog import build_catalog, connect

    root, _ = k_release
    build_catalog(root, tmp_path / "catalog.duckdb")
    con = connect(root, tmp_path / "catalog.duckdb")
    try:
        rows = con.sql("SELECT c.pair, c.frame_index, c.timestamp_s, t.anchor_frame_index, t.positive_frame_index, "
                       "t.negative_anchor_frame_index, t.negative_frame_index FROM clip_frames c "
                       "JOIN triplets t USING (triplet_id)").fetchall()
    finally:
        con.close()
    assert rows and {len(r[1]) for r in rows} == {len(r[2]) for r in rows} == {K}
    for pair, frames, _, a, p, na, n in rows:
        assert (frames[0], frames[-1]) == ((a, p) if pair == "positive" else (na, n))


def test_k_frame_clips_load_through_the_adapter_and_datasets(k_release):
    import glob

    import datasets

    from remot_train.data import question_dataset, question_rows

    root, _ = k_release
    rows = question_rows(root, limit=20, views="clips", image_max_side=SIZE)
    assert {r["clip_frames"] for r in rows} == {K}
    for r in rows:
        assert all(im.size[1] == K * (im.size[1] // K) for im in r["images"])
    frames = question_rows(root, limit=20, image_max_side=SIZE)
    two = question_rows(root, limit=20, views="clips", image_max_side=SIZE, clip_frames=2)
    for f, c in zip(frames, two, strict=True):  # two of four frames: the pair's own, as a 2-frame release shows
        for clip, group in zip(c["images"], clips.clip_groups(len(f["images"]))):
            assert [x.tobytes() for x in clips.frames_of(clip, 2)] == \
                [clips.frames_of(clips.clip_image([f["images"][i] for i in group]), 2)[j].tobytes() for j in (0, 1)]
    ds = question_dataset(root, limit=8, views="clips")
    assert clips.clip_frames_of(ds) == K and ds[0]["images"][0].size[1] % K == 0
    files = glob.glob(str(root / "releases" / "LATEST" / "triplets" / "**" / "*.parquet"), recursive=True)
    hf = datasets.load_dataset("parquet", data_files=files, split="train")
    assert isinstance(hf.features["positive_between_images"], datasets.List)
    assert isinstance(hf[0]["positive_between_images"][0], Image.Image)


def test_a_bad_clip_frames_config_fails_before_any_shard(tmp_path):
    import dagster as dg

    from remot_pipeline import definitions
    from remot_pipeline.defs.resources import RemotPaths
    from remot_pipeline.defs.store import StageIOManager
    from tests.conftest import small_config

    resources = {"config": small_config(clip_frames=1), "paths": RemotPaths(data_root=str(tmp_path)),
                 "io_manager": StageIOManager(root=str(tmp_path / "stages"))}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(definitions.DATA_ASSETS, resources=resources, instance=instance,
                                tags=definitions.ALL_DOMAINS_TAGS, raise_on_error=False)
        failures = [e for e in result.all_events if e.is_step_failure]
    assert not result.success
    assert any("clip_frames must be an integer >= 2" in str(e.event_specific_data.error) for e in failures)


# --- training ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def k_rows(k_release):
    from remot_train.data import question_rows

    rows = question_rows(k_release[0], with_completion=True, views="clips", image_max_side=SIZE, limit=40)
    one = [r for r in rows if len(r["images"]) == 1][:3]
    two = [r for r in rows if len(r["images"]) == 2][:3]
    return [r for pair in zip(one, two) for r in pair]


def test_k_frame_clip_tokens_and_positions_line_up(tmp_path_factory, k_rows):
    import torch

    from remot_train.collator import AnswerSpanCollator
    from remot_train.evaluate import encode_prompts

    model, processor = load(build_tiny_model(tmp_path_factory.mktemp("tiny_k") / "base", seed=0, image_size=SIZE))
    proc = clips.processor_for(processor, "clips", clips.clip_frames_of(k_rows))
    merge = model.config.vision_config.spatial_merge_size ** 2
    for batch in (AnswerSpanCollator(proc)(k_rows), encode_prompts(proc, k_rows)):
        grid = batch["image_grid_thw"]
        assert grid.shape[0] == sum(len(r["images"]) for r in k_rows) and (grid[:, 0] == K // 2).all()
        counts = iter((grid.prod(-1) // merge).tolist())
        for i, r in enumerate(k_rows):
            expected = sum(next(counts) for _ in r["images"])
            assert int((batch["input_ids"][i] == model.config.image_token_id).sum()) == expected
            assert int((batch["mm_token_type_ids"][i] == 1).sum()) == expected
    enc = encode_prompts(proc, k_rows)
    position_ids, _ = model.model.get_rope_index(enc["input_ids"], mm_token_type_ids=enc["mm_token_type_ids"],
                                                  image_grid_thw=enc["image_grid_thw"],
                                                  attention_mask=enc["attention_mask"])
    for i, r in enumerate(k_rows):
        if len(r["images"]) == 1:  # one clip: K / 2 temporal steps of rotary position
            t_pos = position_ids[0, i][enc["input_ids"][i] == model.config.image_token_id]
            assert len(set(t_pos.tolist())) == K // 2 and torch.all(t_pos.diff() >= 0)
    with torch.no_grad():
        out = model(**enc)
    assert torch.isfinite(out.logits).all()


def test_sft_grpo_ffr_and_evaluation_run_on_k_frame_clips(tmp_path_factory, k_rows, tmp_path):
    import torch

    from remot_train.evaluate import evaluate
    from remot_train.rewards import format_reward, task_reward
    from remot_train.trainers import grpo, sft
    from remot_train.trainers.ffr import ffr, make_teacher

    base = build_tiny_model(tmp_path_factory.mktemp("tiny_k_small") / "base", seed=0, image_size=SIZE,
                            tokenizer="small")
    grpo_rows = [{k: v for k, v in r.items() if k != "completion"} for r in k_rows[:4]]
    res = sft(base, k_rows, tmp_path / "sft", views="clips", args=dict(max_steps=1, per_device_train_batch_size=3))
    assert [e for e in res.log_history if "loss" in e]
    res = grpo(res.final_checkpoint, grpo_rows, tmp_path / "grpo", views="clips",
               reward_funcs=[format_reward, task_reward], args=dict(GRPO_TINY, max_steps=1, beta=0.0))
    assert "rewards/task_reward/mean" in res.log_history[0]
    res = ffr(base, grpo_rows, tmp_path / "ffr", views="clips", reward_funcs=[format_reward, task_reward],
              teacher=make_teacher("metadata", crop_size=SIZE), args=dict(GRPO_TINY, max_steps=1, beta=0.0))
    step = [e for e in res.log_history if "loss" in e][0]
    assert torch.isfinite(torch.tensor(step["loss"]))
    stats = json.loads((tmp_path / "ffr" / "ffr_stats.json").read_text())
    assert stats["totals"]["patched"] >= 1  # the teacher's crops went in as still K-frame clips
    model, processor = load(res.final_checkpoint)
    result = evaluate(model, clips.processor_for(processor, "clips", K), k_rows[:4], batch_size=4, max_new_tokens=8)
    assert len(result.records) == 4
    with pytest.raises(ClipError, match="one run shows one clip length"):
        two = [{**r, "clip_frames": 2} for r in grpo_rows[:2]]
        grpo(base, grpo_rows[:2] + two, Path(tmp_path) / "mixed", views="clips",
             reward_funcs=[format_reward, task_reward], args=dict(GRPO_TINY, max_steps=1, beta=0.0))


def test_a_clip_frame_that_does_not_decode_quarantines_its_row_and_names_the_file(tmp_path):
    import cv2
    import polars as pl
    import pyarrow as pa

    from remot_pipeline.core.triplets import decode_clip_frames

    (tmp_path / "ep").mkdir()
    for f in range(6):
        cv2.imwrite(str(tmp_path / "ep" / f"{f}.png"), np.full((24, 32, 3), 40 * f, np.uint8))
    (tmp_path / "ep" / "3.png").write_bytes(b"not a png")  # frame 3 is damaged
    frames = pa.table({"episode_id": ["e"] * 6, "frame_index": list(range(6)),
                       "media_path": [f"{f}.png" for f in range(6)], "media_frame_index": [0] * 6})
    episodes = pa.table({"episode_id": ["e"], "source_root": ["ep"]})
    plan = pl.DataFrame({"triplet_id": ["ok", "bad"], "episode_id": ["e", "e"], "negative_episode_id": ["e", "e"],
                         "positive_between_frame_index": [[1, 2], [2, 4]],
                         "negative_between_frame_index": [[2, 1], [4, 3]]})
    kept, images, quarantine = decode_clip_frames(plan, frames, episodes, tmp_path, 320, 90, "navigation", 4)
    assert kept["triplet_id"].to_list() == ["ok"]
    assert quarantine.num_rows == 1
    q = quarantine.to_pylist()[0]
    assert q["reason_code"] == "frame_undecodable" and q["stage"] == "triplets" and q["frame_index"] == 3
    assert q["file"].endswith("3.png") and "bad" in q["detail"]
    assert sorted(images["frame_index"].to_list()) == [1, 2, 4]
    none, no_images, empty_q = decode_clip_frames(plan, frames, episodes, tmp_path, 320, 90, "navigation", 2)
    assert none.height == 2 and no_images is None and empty_q.num_rows == 0


def test_the_ui_sheet_shows_each_clip_and_the_preview_leaves_out_its_jpegs(k_release):
    import glob

    import pyarrow.parquet as pq

    from remot_pipeline.defs import plots

    root, _ = k_release
    files = sorted(glob.glob(str(root / "releases" / "LATEST" / "triplets" / "**" / "*.parquet"), recursive=True))
    table = pq.read_table(files[0]).slice(0, 2)
    sheet = plots.triplet_sheet(table, n=2)
    assert "data:image/png;base64" in sheet.value or "![" in sheet.value
    preview = plots.preview(table).value
    assert "positive_between_frame_index" in preview and "between_images" not in preview and "\\x" not in preview
