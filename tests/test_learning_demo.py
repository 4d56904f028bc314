"""Smoke tests for bench/learning_demo.py: the training forms' labels, the baselines, the metrics
and the report (no release build, no training; a few seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from remot_train.trainers.toy import toy_row

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "learning_demo.py"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("learning_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(seed: int, answer: str) -> dict:
    row = toy_row(seed, size=32, with_completion=False)  # states "turned to the left"
    return {**row, "answer": answer}


def test_directions_and_swap(demo):
    assert demo.directions(_row(0, "true")) == ("left", "left")
    assert demo.directions(_row(0, "false")) == ("left", "right")
    assert demo.swap_directions("the camera turned to the left; turned to the right") == (
        "the camera turned to the right; turned to the left")


@pytest.mark.parametrize("answer", ["true", "false"])
def test_variants_keep_labels_exact(demo, answer):
    row = _row(1, answer)
    a, b = (np.asarray(im) for im in row["images"])
    stated, actual = demo.directions(row)

    plain = demo.variant(row, False, False, "think")
    assert plain["answer"] == answer and plain["question_id"] == row["question_id"]
    assert f"turned to the {actual}." in plain["completion"][0]["content"]
    assert plain["completion"][0]["content"].endswith(f"<answer>{answer}</answer>")

    mirrored = demo.variant(row, True, False, "think")
    assert mirrored["answer"] == answer  # both the turn and the statement flip
    assert np.array_equal(np.asarray(mirrored["images"][0]), a[:, ::-1])
    assert demo.directions(mirrored) == (demo.OTHER[stated], demo.OTHER[actual])
    assert row["prompt"][0]["content"][-1]["text"].count("left") == 1  # the source row is untouched

    reversed_ = demo.variant(row, False, True, "think")
    assert reversed_["answer"] == ("false" if answer == "true" else "true")  # the turn reverses
    assert np.array_equal(np.asarray(reversed_["images"][0]), b)
    assert f"turned to the {demo.OTHER[actual]}." in reversed_["completion"][0]["content"]

    both = demo.variant(row, True, True, "answer")
    assert both["answer"] == reversed_["answer"]
    assert both["completion"][0]["content"].startswith("<think>\n\n</think>")
    assert len({plain["question_id"], mirrored["question_id"], reversed_["question_id"], both["question_id"]}) == 4


def test_text_only_rule(demo):
    rows = [_row(0, "true"), _row(1, "true"), _row(2, "false")]
    assert demo.text_only_rule(rows)["left"] == "true"


def test_summary_and_verdict(demo):
    rows = [_row(i, "true" if i % 2 else "false") for i in range(10)]
    good = [{"correct": True, "parsed": r["answer"],
             "completion": f"from image 1 to image 2 the camera turned to the {demo.directions(r)[1]}.\n</think>\n"
                           f"<answer>{r['answer']}</answer>"} for r in rows]
    s = demo.summary(good, rows, "think")
    assert s["accuracy"] == 1.0 and s["think_direction_accuracy"] == 1.0 and s["true_share"] == 0.5
    assert s["answer_follows_think"] == 1.0
    blind = [{"correct": r["answer"] == "false", "parsed": "false", "completion": "<answer>false</answer>"} for r in rows]
    b = demo.summary(blind, rows, "think")
    assert b["true_share"] == 0.0 and b["think_direction_accuracy"] == 0.0
    base = {"chance": 0.5, "majority_class": 0.5, "text_only_rule": 0.5}
    none = demo.summary([{"correct": False, "parsed": None, "completion": ""} for _ in rows], rows, "think")
    assert "did not learn the task" in demo.verdict(none, b, base)  # one answer only
    assert demo.verdict(none, none, base).startswith("It did not learn")
    big = {**s, "n": 400, "accuracy": 0.9, "ci95": [0.87, 0.93]}
    assert demo.verdict(none, big, base).startswith("It learned")
    memorised = {**s, "think_direction_accuracy": 0.5, "think_direction_ci95": [0.45, 0.55]}
    assert "memorised" in demo.learned(none, memorised, {**s, "think_direction_accuracy": 0.9})


def test_report_renders(demo, tmp_path):
    s = {"n": 10, "correct": 7, "accuracy": 0.7, "ci95": [0.4, 0.9], "format_failure_rate": 0.0, "true_share": 0.5,
         "n_parsed": 10, "think_direction_accuracy": 0.7, "think_direction_ci95": [0.4, 0.9], "eval_s": 1.0,
         "answer_follows_think": 1.0}
    none = {**s, "correct": 0, "accuracy": 0.0, "ci95": [0.0, 0.3], "format_failure_rate": 1.0, "true_share": None,
            "n_parsed": 0, "think_direction_accuracy": 0.0}
    settings = vars(demo.parse_args([]))
    res = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
           "data": {"test_episodes": 2, "train_questions": 20, "train_episodes": 5, "train_examples": 80},
           "model_parameters": 1000, "image_tokens": 4, "before": none, "after": s, "after_on_train": s,
           "baselines": {"chance": 0.5, "majority_class": 0.6, "text_only_rule": 0.5}, "majority_answer": "true",
           "text_rule": {"left": "true", "right": "false"}, "steps": 3, "train_wall_s": 1.0,
           "stopped_by_time_budget": False, "final_loss": 0.1, "release_s": 0.0, "total_wall_s": 2.0, "threads": 1,
           "loss_curve": [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}], "verdict": "v", "learned": "l"}
    attempt = {**res, "note": "try", "comment": "a note"}
    md = demo.markdown(res, [attempt])
    assert "| accuracy [95% Wilson CI] | 0.000 [0.000, 0.300] | 0.700 [0.400, 0.900] |" in md
    assert "## What we tried" in md and "a note" in md
    demo.plot(res, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_clip_forms_pack_the_forms_frames_in_time_order(demo):
    """--views clips: each training form is one clip whose frames are the form's, in its order
    (a 2-frame clip, and a 4-frame one with two frames between the pair's)."""
    from PIL import Image

    from remot_pipeline.core import questions as Q
    from remot_train.clips import clip_row, frames_of
    from remot_train.data import prompt_messages

    row = _row(2, "true")
    text = Q._images(2) + Q.TF_TEMPLATES[0].format(claim="the camera turned to its left") + "\n" + Q.SCAFFOLD
    row = {**row, "prompt": prompt_messages(text)}
    rng = np.random.default_rng(0)
    w, h = row["images"][0].size
    inner = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for _ in range(2)]
    for between in (None, {"positive": inner}):
        clip = clip_row(row, ["anchor", "positive"], between)
        played = [np.asarray(im) for im in [row["images"][0], *(between or {}).get("positive", []), row["images"][1]]]
        reversed_ = demo.variant(clip, True, True, "restate", views="clips")
        assert len(reversed_["images"]) == 1 and reversed_["views"] == "clips"
        assert reversed_["clip_frames"] == len(played)
        frames = [np.asarray(f) for f in frames_of(reversed_["images"][0], len(played))]
        for got, want in zip(frames, played[::-1], strict=True):  # mirrored, then played back
            assert np.array_equal(got, want[:, ::-1])
        assert demo.directions(reversed_) == ("right", "left") and reversed_["answer"] == "false"
        assert "over the clip the camera turned to the left; the question says right." in \
            reversed_["completion"][0]["content"]
        assert "Clip (motion m12): " in reversed_["prompt"][0]["content"][0]["text"]


def test_second_attribute_ee_lateral(demo):
    """--attribute manipulation/ee_lateral: the stated direction is parsed from the gripper's wording,
    mirroring swaps it in place (mid-sentence) and the think block names the gripper's motion."""
    from remot_pipeline.core import questions as Q
    from remot_train.data import prompt_messages

    claim = Q._PHRASES["ee_lateral"]["left"]
    text = Q._images(2) + Q.TF_TEMPLATES[0].format(claim=claim) + "\n" + Q.SCAFFOLD
    row = {**_row(3, "false"), "prompt": prompt_messages(text)}
    try:
        demo.use_attribute("manipulation/ee_lateral")
        assert (demo.DOMAIN, demo.ATTRIBUTE) == ("manipulation", "ee_lateral")
        assert demo.directions(row) == ("left", "right")
        assert demo.swap_directions(claim) == Q._PHRASES["ee_lateral"]["right"]
        from remot_train.clips import clip_row

        mirrored = demo.variant(clip_row(row, ["anchor", "positive"]), True, False, "restate", views="clips")
        assert demo.directions(mirrored) == ("right", "left") and mirrored["answer"] == "false"
        assert ("over the clip the robot's gripper moved toward the left of the image; the question says right."
                in mirrored["completion"][0]["content"])
        reversed_ = demo.variant(row, False, True, "think")
        assert reversed_["answer"] == "true" and demo.directions(reversed_) == ("left", "left")
    finally:
        demo.use_attribute("navigation/yaw")
    assert demo.directions(_row(0, "true")) == ("left", "left")


def test_grpo_section_renders(demo):
    s = {"n": 10, "correct": 7, "accuracy": 0.7, "ci95": [0.4, 0.9], "format_failure_rate": 0.0, "true_share": 0.5,
         "n_parsed": 10, "think_direction_accuracy": 0.7, "think_direction_ci95": [0.4, 0.9], "answer_follows_think": 1.0}
    g = {"after": {**s, "accuracy": 0.8, "ci95": [0.5, 0.95]}, "after_on_train": s, "prompts": 20, "steps": 12,
         "grpo_cpu_s": 30.0, "grpo_call_s": 40.0, "stopped_by_time_budget": True,
         "trainer_args": {"learning_rate": 2e-5, "beta": 0.01, "num_generations": 4, "per_device_train_batch_size": 16,
                          "temperature": 1.0},
         "reward_funcs": ["format_reward", "task_reward"], "reward_weights": [3.5, 3.5],
         "log": [{"step": 5, "reward": 5.0, "rewards/task_reward/mean": 0.6}, {"step": 10, "reward": 6.0}]}
    res = {"settings": {"views": "clips"}, "after": s, "after_on_train": s, "grpo": g}
    md = "\n".join(demo.grpo_markdown(res))
    assert "| held-out accuracy [95% CI] | 0.700 [0.400, 0.900] | 0.800 [0.500, 0.950] |" in md
    assert "12 steps (stopped by the time budget)" in md and "total 5.000 -> 6.000" in md
    assert demo.grpo_markdown({**res, "grpo": None}) == []


def test_contact_sheets_rerender_from_the_reports_records(demo, small_release, tmp_path):
    """--render-only --contact-sheet: the sheet from the JSON's held-out records and the release's
    held-out questions, without training (the records are what a run keeps of each answer)."""
    from types import SimpleNamespace

    from remot_train.data import resolve_release

    release = resolve_release(small_release)
    _, _, test = demo.load_rows(release, 32, "restate", False, views="clips")
    assert test
    records = [{"question_id": r["question_id"], "completion": "<think>\nover the clip the camera turned to the "
                f"left; the question says left.\n</think>\n<answer>true</answer>", "parsed": "true",
                "correct": r["answer"] == "true", "score": 1.0} for r in test]
    kept = demo.held_out_records(records)
    assert kept[0].keys() == {"question_id", "completion", "parsed", "correct"}
    res = {"views": "clips", "settings": {"image_size": 32, "completion": "restate"},
           "data": {"release": str(release)}, "heldout_records": kept, "grpo": {"heldout_records": kept[:3]}}
    demo.rerender_contact_sheets(res, SimpleNamespace(out_dir=tmp_path, out_name="demo"))
    assert (tmp_path / "demo_contact.png").stat().st_size > 10_000
    assert (tmp_path / "demo_grpo_contact.png").stat().st_size > 1_000
