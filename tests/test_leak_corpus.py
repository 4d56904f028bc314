"""The leakage guard measured on paraphrases (bench/leak_guard.py over bench/leak_corpus.py).

The corpus was written by hand, before and apart from the guard's code. These tests hold the guard to
the issue's targets on the development and held-out splits (recall on leaks >= 95%, false drops on safe
guidance <= 5%), require every held-out paraphrase leak to be caught, and run every text the
MetadataTeacher can write through the guard (its false drops must be 0). Unlike a check of the
teacher's templates against the same word lists, each of these can fail.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("leak_guard", BENCH / "leak_guard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured(bench):
    return {split: bench.measure(split) for split in ("dev", "heldout")}


def test_the_corpus_is_large_and_varied(bench):
    from leak_corpus import cases

    dev = cases("dev")
    leaks, safe = [c for c in dev if c["label"] == "leak"], [c for c in dev if c["label"] == "safe"]
    assert len(leaks) >= 150 and len(safe) >= 150
    assert len({c["text"] for c in dev}) == len(dev)  # no text counted twice
    assert len({c["attribute"] for c in leaks}) >= 15 and len({c["style"] for c in leaks}) >= 10
    assert {c["question_type"] for c in leaks} == {"true_false", "fill_blank", "multiple_choice", "comparative"}


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_recall_and_false_drops_meet_the_targets(measured, split):
    r = measured[split]
    assert r["recall"]["rate"] >= 0.95, r["missed_leaks"]
    assert r["false_drop_rate"]["rate"] <= 0.05, r["false_drops"]


def test_every_heldout_paraphrase_leak_is_caught(measured):
    assert measured["heldout"]["missed_leaks"] == []


def test_the_guard_reads_the_frame_of_reference(measured):
    """Among caught direction/state leaks, the value read (scene motion inverted for the camera) is the
    value the text states."""
    for split in ("dev", "heldout"):
        fa = measured[split]["frame_accuracy"]
        assert fa["n"] >= 25 and fa["rate"] >= 0.95, measured[split]["misread_frames"]


def test_metadata_teacher_texts_pass_the_new_guard(bench):
    md = bench.measure_metadata()
    assert md["texts"] >= 700 and md["dropped"] == 0, md["drops"]


def test_the_issues_paraphrases_are_caught():
    from remot_train.teacher import EvidencePatch, check_leak

    def sample(attribute, value, qtype="true_false", answer="true"):
        roles = ["anchor", "positive"] if qtype == "true_false" else ["anchor", "positive", "negative_anchor", "negative"]
        return {"attribute": attribute, "positive_value": value, "question_type": qtype, "answer": answer,
                "parse_rule": "true_false" if qtype == "true_false" else "choice_letter",
                "options": ["true", "false"] if qtype == "true_false" else ["Pair A", "Pair B"], "image_roles": roles}

    cases = [("the scene slides toward the right edge of the image", sample("yaw", "left"), "yaw = 'left'"),
             ("the horizon sinks toward the bottom", sample("pitch", "up"), "pitch = 'up'"),
             ("the gap between the fingers grows", sample("gripper", "opening"), "gripper = 'opening'"),
             ("pair B's shift is about three times pair A's", sample("yaw", None, "comparative", "B"), "ratio")]
    for text, s, expected in cases:
        reason = check_leak(EvidencePatch("spatial", list(range(1, len(s["image_roles"]) + 1)), text), s)
        assert reason is not None and expected in reason, (text, reason)
