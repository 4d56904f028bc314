"""views: clips (remot_train/clips.py): each shown pair enters as one clip, its two frames packed
into one temporal patch of Qwen-VL's vision tower; the same questions, worded for clips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from remot_pipeline.core import questions as Q
from remot_pipeline.core.clips import ClipError, clip_prompt, clip_roles
from remot_train import clips
from remot_train.model import build_processor, build_tiny_model, build_tokenizer, load

SIZE = 32  # px per frame: one merged token per clip, fast
GRPO_TINY = dict(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, learning_rate=1e-3)


def _noise(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", seed=0, image_size=SIZE)


@pytest.fixture(scope="module")
def small_base(tmp_path_factory):
    """The tiny model with the small vocabulary (speed only) for the few-step training runs."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_small") / "base", seed=0, image_size=SIZE, tokenizer="small")


@pytest.fixture(scope="module")
def clip_rows(small_release):
    """Real release questions as clip rows: 1 clip (true/false, blanks) or 2 (choice, comparison)."""
    from remot_train.data import question_rows

    rows = question_rows(small_release, with_completion=True, views="clips", image_max_side=SIZE, limit=40)
    one = [r for r in rows if len(r["images"]) == 1][:3]
    two = [r for r in rows if len(r["images"]) == 2][:3]
    return [r for pair in zip(one, two) for r in pair]  # 1, 2, 1, 2, ... clips: mixed lengths in a batch


def _text(prompt) -> str:
    return "".join(p["text"] if p["type"] == "text" else "<image>" for p in prompt[0]["content"])


# --- the processor ------------------------------------------------------------------------------------
def test_a_clip_packs_its_two_frames_into_one_temporal_patch(tmp_path):
    proc = build_processor(build_tokenizer("small"), 64)
    clip_proc = clips.processor_for(proc, "clips")
    assert clips.processor_for(proc, "frames") is proc and clip_proc.tokenizer is proc.tokenizer
    a, b = _noise(0), _noise(1)
    still = proc.image_processor(images=[a], return_tensors="np")
    as_clip = clip_proc.image_processor(images=[clips.still_clip(a)], return_tensors="np")
    # a still, shown as a clip, is encoded exactly as the stock processor encodes it
    assert np.array_equal(still["pixel_values"], as_clip["pixel_values"])
    moving = clip_proc.image_processor(images=[clips.clip_image([a, b])], return_tensors="np")
    assert moving["image_grid_thw"].tolist() == [[1, 4, 4]]  # one image: grid t = 1
    patches = moving["pixel_values"].reshape(16, 3, 2, 16, 16)  # (patches, C, temporal, ph, pw)
    first = proc.image_processor(images=[a], return_tensors="np")["pixel_values"].reshape(16, 3, 2, 16, 16)
    second = proc.image_processor(images=[b], return_tensors="np")["pixel_values"].reshape(16, 3, 2, 16, 16)
    assert np.array_equal(patches[:, :, 0], first[:, :, 0]) and np.array_equal(patches[:, :, 1], second[:, :, 0])
    with pytest.raises(ClipError, match="not a 2-frame clip"):
        clip_proc.image_processor(images=[Image.new("RGB", (64, 63))], return_tensors="np")
    clip_proc.save_pretrained(tmp_path)  # a checkpoint keeps the stock processor: views are chosen per run
    saved = json.loads((tmp_path / "processor_config.json").read_text())["image_processor"]
    assert saved["image_processor_type"] == "Qwen2VLImageProcessor" and "clip_frames" not in saved
    assert [f.tobytes() for f in clips.frames_of(clips.clip_image([a, b]))] == [a.tobytes(), b.tobytes()]


# --- the wording --------------------------------------------------------------------------------------
def test_every_question_template_has_a_clip_wording():
    claim = dict(claim="the camera turned to its left", quantity="the angle", unit="degrees", options="(left, right)",
                 sentence="the camera turned to its ___")
    cases = [(3, t) for t in Q.MC_IMAGE_TEMPLATES] + [(4, t) for t in Q.MC_PAIR_TEMPLATES] + [
        (2, t) for t in Q.TF_TEMPLATES + Q.NUMBER_TEMPLATES + Q.BLANK_TEMPLATES]
    for pairs in ("Pair A goes from image 1 to image 2; pair B goes from image 3 to image 4.",
                  "Pair A goes from image 1 to image 2; pair B goes from image 1 to image 3."):
        cases += [(4, t.replace("{pairs}", pairs).replace("{more}", "larger") + "\nA) Pair A\nB) Pair B")
                  for t in Q.COMPARE_TEMPLATES]
    for n, template in cases:
        prompt = Q._images(n) + template.format(**claim) + "\n" + Q.SCAFFOLD
        text = clip_prompt(prompt)  # raises on any image or pair reference it leaves
        assert text.count("<image>") == (1 if n == 2 else 2)
        assert text.startswith("Clip (motion m12): <image>\n" if n == 2 else "Clip A (motion m12): <image>\n")
        assert "(motion m13)" in text if n == 3 else "(motion m13)" not in text
        assert text.endswith("Then give only the final answer inside <answer> </answer>.")
    with pytest.raises(ClipError, match="cannot word this prompt"):
        clip_prompt("Image 1: <image>\nSee image 1 and image 5.")
    assert clip_roles(["anchor", "positive", "negative"]) == [["anchor", "positive"], ["anchor", "negative"]]


# --- the release --------------------------------------------------------------------------------------
def test_the_release_pairs_already_play_as_clips(small_release):
    """Reversed negatives store the positive's frames swapped, mirrored ones both frames mirrored:
    a 2-frame clip is the pair's two stored frames in order, no new storage."""
    import duckdb

    from remot_train.data import release_files, resolve_release

    files = release_files(resolve_release(small_release), "triplets")
    rows = duckdb.sql("""SELECT negative_kind, count(*) AS n,
            count_if(negative_anchor_frame_index = positive_frame_index AND negative_frame_index = anchor_frame_index) AS swapped,
            count_if(negative_anchor_image.path LIKE '%#hflip' AND negative_image.path LIKE '%#hflip') AS mirrored
        FROM read_parquet(?) GROUP BY ALL""", params=[files]).fetchall()
    by_kind = {k: (n, s, m) for k, n, s, m in rows}
    assert by_kind["temporal_reversal"][0] > 0 and by_kind["temporal_reversal"][1] == by_kind["temporal_reversal"][0]
    if "mirror" in by_kind:
        assert by_kind["mirror"][2] == by_kind["mirror"][0]


def test_clip_questions_load_through_the_adapter_datasets_and_the_catalog(small_release, tmp_path):
    import datasets

    from remot_pipeline.core.catalog import build_catalog, connect
    from remot_train.data import question_dataset, question_rows

    frames = question_rows(small_release, limit=30, image_max_side=SIZE)
    as_clips = question_rows(small_release, limit=30, image_max_side=SIZE, views="clips")
    for f, c in zip(frames, as_clips, strict=True):  # the same questions, answers and scoring columns
        for k in ("question_id", "answer", "parse_rule", "consistency_group_id", "relations", "question_type"):
            assert f[k] == c[k]
        assert len(c["images"]) == len(clip_roles(c["image_roles"])) == (1 if len(f["images"]) == 2 else 2)
        assert all(im.size == (f["images"][0].width, 2 * f["images"][0].height) for im in c["images"])
        text = c["prompt"][0]["content"]
        assert sum(p["type"] == "image" for p in text) == len(c["images"])
    binary = question_rows(small_release, limit=10, views="clips", binary=True)  # the binary-pair ablation
    assert binary and all(len(r["images"]) == 1 and r["image_roles"] == ["anchor", "positive"] for r in binary)
    plain = question_dataset(small_release, limit=5)  # frames: the release's own images and wording
    assert [r["options"] for r in plain] == [r["options"] for r in frames[:5]] and "views" not in plain.features
    ds = question_dataset(small_release, limit=30, views="clips", with_completion=True)
    assert isinstance(ds.features["images"], datasets.List) and ds[0]["question_id"] == as_clips[0]["question_id"]
    assert _text(ds[0]["prompt"]) == _text(as_clips[0]["prompt"])
    assert [im.size[1] % 2 for im in ds[0]["images"]] == [0] * len(ds[0]["images"]) == [0] * len(as_clips[0]["images"])
    assert "<think>" in ds[0]["completion"][0]["content"] and ds[0]["views"] == "clips"
    catalog = build_catalog(small_release, tmp_path / "catalog.duckdb")
    con = connect(small_release, catalog)
    try:
        sql = con.sql("SELECT question_id, prompt, options, clip_roles FROM clip_questions ORDER BY question_id "
                      "LIMIT 30").fetchall()
        assert con.sql("SELECT count(*) FROM binary_clip_questions").fetchall()[0][0] > 0
    finally:
        con.close()
    mine = {r["question_id"]: r for r in question_rows(small_release, split=None, limit=30, views="clips",
                                                       image_max_side=8)}  # the same first 30 by question_id
    for qid, prompt, options, roles in sql:  # SQL and Python word the clips alike
        r = mine[qid]
        assert prompt == _text(r["prompt"])
        assert options == r["options"] and roles == clip_roles(r["image_roles"])


# --- training and evaluation --------------------------------------------------------------------------
def _image_marks_hook(model, seen: list):
    """Each forward: every row's image tokens are exactly the ones ``mm_token_type_ids`` marks."""
    image_id = model.config.image_token_id

    def hook(module, args, kwargs):
        ids, marks, mask = kwargs["input_ids"], kwargs.get("mm_token_type_ids"), kwargs.get("attention_mask")
        if marks is None or mask is None or ids is None or ids.shape != mask.shape:
            return
        for b in range(ids.shape[0]):
            keep = mask[b].bool()
            assert ((ids[b][keep] == image_id).int() == marks[b][keep]).all(), f"row {b}: image marks misaligned"
        grid = kwargs.get("image_grid_thw")
        if grid is not None:
            assert (grid[:, 0] == 1).all()  # every clip is one temporal patch
        seen.append(tuple(ids.shape))

    return model.model.register_forward_pre_hook(hook, with_kwargs=True)


def test_clip_tokens_and_positions_line_up_left_padded(base, clip_rows):
    import torch

    from remot_train.collator import AnswerSpanCollator
    from remot_train.evaluate import encode_prompts

    model, processor = load(base)
    proc = clips.processor_for(processor, "clips")
    merge = model.config.vision_config.spatial_merge_size ** 2
    for batch in (AnswerSpanCollator(proc)(clip_rows), encode_prompts(proc, clip_rows)):
        grid = batch["image_grid_thw"]
        assert grid.shape[0] == sum(len(r["images"]) for r in clip_rows) and (grid[:, 0] == 1).all()
        counts = iter((grid.prod(-1) // merge).tolist())
        for i, r in enumerate(clip_rows):
            expected = sum(next(counts) for _ in r["images"])
            assert int((batch["input_ids"][i] == model.config.image_token_id).sum()) == expected
            assert int((batch["mm_token_type_ids"][i] == 1).sum()) == expected
    enc = encode_prompts(proc, clip_rows)
    assert (enc["attention_mask"][:, -1] == 1).all()  # left-padded
    # M-RoPE positions: each row's image tokens get a (1, h, w) grid of positions after its text
    position_ids, _ = model.model.get_rope_index(enc["input_ids"], mm_token_type_ids=enc["mm_token_type_ids"],
                                                  image_grid_thw=enc["image_grid_thw"],
                                                  attention_mask=enc["attention_mask"])
    for i in range(len(clip_rows)):
        img = enc["input_ids"][i] == model.config.image_token_id
        t_pos = position_ids[0, i][img]
        assert torch.all(t_pos == t_pos[0]) if len(clip_rows[i]["images"]) == 1 else True
    with torch.no_grad():
        out = model(**enc)
    assert torch.isfinite(out.logits).all()


def test_sft_grpo_alternating_ffr_and_evaluation_run_on_clips(small_base, clip_rows, tmp_path):
    import torch

    from remot_train.evaluate import evaluate
    from remot_train.rewards import format_reward, task_reward
    from remot_train.trainers import alternating, grpo, sft
    from remot_train.trainers.ffr import ffr, make_teacher

    base = small_base
    grpo_rows = [{k: v for k, v in r.items() if k != "completion"} for r in clip_rows[:4]]
    model, processor = load(base)
    seen: list = []
    handle = _image_marks_hook(model, seen)
    try:
        res = sft(model, clip_rows, tmp_path / "sft", processor=processor, views="clips",
                  args=dict(max_steps=2, per_device_train_batch_size=3, learning_rate=1e-2))
        assert len([e for e in res.log_history if "loss" in e]) == 2
        res = alternating(model, clip_rows, grpo_rows, tmp_path / "alt", processor=processor, views="clips", k_sft=1,
                          k_grpo=1, sft_batch_size=2, reward_funcs=[format_reward, task_reward],
                          args=dict(GRPO_TINY, max_steps=2, beta=0.0))
        assert res.phases == ["sft", "grpo"]
    finally:
        handle.remove()
    assert len(seen) >= 4
    res = grpo(base, grpo_rows, tmp_path / "grpo", views="clips", reward_funcs=[format_reward, task_reward],
               args=dict(GRPO_TINY, max_steps=1, beta=0.01))
    assert [e for e in res.log_history if "loss" in e] and "rewards/task_reward/mean" in res.log_history[0]
    saved = json.loads((res.final_checkpoint / "processor_config.json").read_text())["image_processor"]
    assert "clip_frames" not in saved
    res = ffr(base, grpo_rows, tmp_path / "ffr", views="clips", reward_funcs=[format_reward, task_reward],
              teacher=make_teacher("metadata", crop_size=SIZE), args=dict(GRPO_TINY, max_steps=1, beta=0.0))
    step = [e for e in res.log_history if "loss" in e][0]
    assert torch.isfinite(torch.tensor(step["loss"])) and "ffr/intervention_rate" in step
    stats = json.loads((tmp_path / "ffr" / "ffr_stats.json").read_text())
    assert stats["totals"]["patched"] >= 1  # the teacher's crops went in as still clips
    model, processor = load(res.final_checkpoint)
    result = evaluate(model, clips.processor_for(processor, "clips"), clip_rows[:4], batch_size=4, max_new_tokens=8)
    assert len(result.records) == 4


def test_recipes_take_views(base, clip_rows, tmp_path):
    from remot_train.recipes import RecipeError, load_recipe, run_recipe, validate

    tiny = load_recipe("tiny/sft")
    with pytest.raises(RecipeError, match="views must be frames or clips"):
        validate({**tiny, "views": "video"})
    recipe = {k: v for k, v in tiny.items() if k not in ("model", "tiny")} | {
        "model_path": str(base), "views": "clips", "sft": {**tiny["sft"], "max_steps": 1}}
    result = run_recipe(validate(recipe), tmp_path, sft_rows=clip_rows)
    assert result.global_step == 1
