"""Evaluation: batched greedy generation (left-padded), scoring and the summary."""

from __future__ import annotations

import json

import pytest

from remot_train.evaluate import comparison_markdown, evaluate, generate, score_row, summary_row
from remot_train.model import build_tiny_model, load
from remot_train.trainers.toy import toy_rows


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m", image_size=64))


@pytest.fixture(scope="module")
def sharp(tmp_path_factory):
    """A tiny model with large random weights: its greedy output varies with the input (the
    freshly initialised model only emits newlines, which would make comparisons vacuous)."""
    import torch

    model, processor = load(build_tiny_model(tmp_path_factory.mktemp("sharp") / "m", image_size=64))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for w in model.parameters():
            if w.dim() > 1:
                w.copy_(torch.randn(w.shape, generator=g) * 0.3)
    return model, processor


def _mixed_rows():
    """Rows whose prompts differ in length: image sizes 64 / 32 px and a longer question."""
    rows = toy_rows(2, seed=0, size=64, with_completion=False) + toy_rows(2, seed=5, size=32, with_completion=False)
    rows[1]["prompt"][0]["content"][-1]["text"] = "Look closely at both views.\n" + rows[1]["prompt"][0]["content"][-1]["text"]
    return rows


def test_batched_generation_matches_one_at_a_time(sharp):
    model, processor = sharp
    rows = _mixed_rows()
    one_by_one = [generate(model, processor, [r], batch_size=1, max_new_tokens=12)[0] for r in rows]
    assert len(set(one_by_one)) == len(rows)  # the outputs differ, so the comparison means something
    assert generate(model, processor, rows, batch_size=4, max_new_tokens=12) == one_by_one
    assert processor.tokenizer.padding_side in ("left", "right")  # untouched: padding is chosen per call


def test_evaluate_returns_records_and_metrics(tiny):
    model, processor = tiny
    rows = _mixed_rows()
    rows[0]["consistency_group_id"] = "g1"
    rows[0]["relations"] = json.dumps([{"if_answer": "true", "left": "a", "op": "<", "right": "b"}])
    model.train()
    result = evaluate(model, processor, rows, batch_size=3, max_new_tokens=8)
    assert model.training  # the mode is restored
    assert [r["question_id"] for r in result.records] == [r["question_id"] for r in rows]
    for rec, row in zip(result.records, rows):
        assert {"question_id", "completion", "parsed", "correct", "score", "format_ok", "domain", "attribute",
                "question_type", "parse_rule", "triplet_id"} <= set(rec)
        assert (rec["domain"], rec["attribute"], rec["triplet_id"]) == (row["domain"], row["attribute"],
                                                                         row["triplet_id"])
        assert isinstance(rec["relations"], list)
    # an untrained model writes no answer block: every question is a format failure
    assert result.metrics["partial"]["n"] == 4
    assert result.metrics["format_failure_rate"]["value"] == 1.0
    assert result.metrics["partial"]["value"] == 0.0
    assert set(result.metrics["by"]["domain"]) == {"navigation"}


def test_scoring_uses_each_rows_rule_and_tolerance():
    base = dict(question_id="q", triplet_id="t", domain="simulation", attribute="yaw", question_type="numeric",
                consistency_group_id=None, relations="[]")
    number = dict(base, answer="24 deg", parse_rule="number", options=[], tolerance=10.0)
    assert score_row(number, "</think><answer>30 degrees</answer>")["correct"]
    assert not score_row(dict(number, tolerance=2.0), "</think><answer>30 degrees</answer>")["correct"]
    choice = dict(base, answer="B", parse_rule="choice_letter", options=["Image 2", "Image 3"], tolerance=None)
    rec = score_row(choice, "</think><answer>Image 3</answer>")
    assert (rec["correct"], rec["parsed"], rec["format_ok"]) == (True, "B", True)
    assert score_row(choice, "no answer")["format_ok"] is False


def test_number_mra_records_carry_the_graded_score_into_the_summary():
    from remot_train.scoring import summarize

    base = dict(triplet_id="t", domain="simulation", attribute="yaw", question_type="fill_blank",
                consistency_group_id=None, relations="[]", answer="24 deg", parse_rule="number_mra", options=[],
                tolerance=None)
    said = ["24 degrees", "30 deg", "0.5 rad", "two metres"]
    records = [score_row(dict(base, question_id=f"q{i}", triplet_id=f"t{i}"), f"</think><answer>{s}</answer>")
               for i, s in enumerate(said)]
    assert [r["score"] for r in records] == [1.0, 0.5, 0.7, 0.0]
    assert [r["correct"] for r in records] == [True, False, False, False]
    assert [r["format_ok"] for r in records] == [True, True, True, False]
    tf = dict(base, question_id="q9", triplet_id="t0", attribute="roll", question_type="true_false", answer="true",
              parse_rule="true_false", options=["true", "false"])
    records.append(score_row(tf, "</think><answer>yes</answer>"))
    m = summarize(records)
    assert m["partial"]["value"] == pytest.approx(3.2 / 5) and m["exact"]["value"] == pytest.approx(2 / 5)
    assert m["numeric_mra"]["value"] == pytest.approx(2.2 / 4) and m["numeric_mra"]["n"] == 4
    assert m["by"]["attribute"]["yaw"]["partial"]["value"] == pytest.approx(2.2 / 4)
    assert m["by"]["question_type"]["fill_blank"]["numeric_mra"]["value"] == pytest.approx(2.2 / 4)
    row = summary_row("m", m)
    assert row["numeric_mra"]["value"] == pytest.approx(0.55) and row["partial/attribute=roll"] == 1.0
    assert row["partial/question_type=fill_blank"] == pytest.approx(0.55)
    md = comparison_markdown([row, {k: v for k, v in row.items() if k not in ("exact", "numeric_mra")}])
    assert "numeric MRA" in md and "| 55.0 [" in md and md.count("| - |") >= 2  # an old table row still renders
