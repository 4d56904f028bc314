"""The SFT target does not hand over the label: text-only probes on a release's SFT rows.

A probe reads only the context the model is given before its answer (the prompt's text and the
completion up to ``<answer>``) and predicts the answer of the two-way questions (true/false,
multiple choice, comparative). In answer-only mode (``include_think: false``, an empty think
block) no probe may beat chance. Each probe is first shown to work: on rows whose think block
reasons from the metadata (``rationale=True``, what the old answer-only SFT rows held) it
recovers the answers far above chance, so a leak in the answer-only rows would fail the test.

* The **rule** reads the think block as the issue's audit did: the statement's motion words
  found in it (true/false), the option whose part of the reasoning holds the asked motion
  (multiple choice), the order of the two magnitudes (comparative).
* The **classifier** is a naive Bayes over words of the prompt, words of each part of the
  reasoning, and their pairs (so it can learn "the question says left, the reasoning says
  right"), trained on half of the triplets and scored on the other half.
"""

from __future__ import annotations

import collections
import hashlib
import math
import re

import pytest

from remot_train.collator import answer_char_span
from remot_train.data import question_rows
from remot_train.scoring import wilson_interval

TWO_WAY = ("true_false", "multiple_choice", "comparative")
_MOTION = re.compile(r"\b(left|right|up|upwards|down|downwards|forward|backward|toward|away|clockwise|"
                     r"counterclockwise|open|opened|opening|close|closed|closing|hold|holding|still|approach|"
                     r"approaching|grasp|grasping|lift|lifting|place|placing)\b")


def _prompt(row) -> str:
    return " ".join(p.get("text") or "" for p in row["prompt"][0]["content"])


def _reasoning(row) -> str:
    completion = row["completion"][0]["content"]
    return re.sub(r"</?think>", "", completion[: answer_char_span(completion)[0]]).strip()


def _stems(text: str) -> set[str]:
    return {m[:4] for m in _MOTION.findall(text.lower())}


def _reading(reasoning: str) -> str:
    """The step that reads the metadata as motion words (a release rationale's last step, up to
    its conclusion), or the whole reasoning when it has no steps."""
    last = re.split(r"Step \d+: ", reasoning)[-1]
    return re.split(r"; (?:the claim|the statement|it is)|: the blank", last)[0]


def rule(row) -> str:
    reasoning, prompt = _reasoning(row), _prompt(row)
    reading = _reading(reasoning)
    if row["question_type"] == "true_false":
        if not reasoning:
            return "true"
        claim = re.split(r"image 2[,:]?|true or false:", prompt.split("?")[0], flags=re.I)[-1]
        return "true" if _stems(claim) and _stems(claim) <= _stems(reading) else "false"
    if not reasoning:
        return "A"
    if row["question_type"] == "comparative":
        nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", reading)]
        if len(nums) < 2:
            return "A"
        want_larger = any(w in prompt.lower() for w in ("larger", "more", "bigger", "greater"))
        return "A" if (nums[0] > nums[1]) == want_larger else "B"
    asked = _stems(prompt.split("\nA)")[0].split("true that")[-1])
    parts = [s for s in re.split(r" and in pair b|;", reading, flags=re.I) if s.strip()]
    return "A" if parts and asked and asked <= _stems(parts[0]) else "B"


def _features(row) -> set[str]:
    words = lambda t: re.findall(r"[a-z]+", t.lower())  # noqa: E731
    prompt = words(_prompt(row))
    out = {"p:" + w for w in prompt}
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", _reasoning(row))]
    if len(nums) >= 2:
        out |= {"n:gt" if nums[0] > nums[1] else "n:lt"}
    for i, part in enumerate(s for s in re.split(r"[;\n]", _reasoning(row)) if words(s)):
        out |= {f"c{i}:{w}" for w in words(part)}
    crossed = {f"x:{p}|{c}" for p in set(prompt) for c in out if not c.startswith(("p:", "x:"))}
    return out | crossed


def _half(row) -> int:
    return int(hashlib.md5(row["triplet_id"].encode()).hexdigest(), 16) % 2


def classifier_accuracy(rows: list[dict], question_type: str) -> tuple[int, int, float]:
    """(right, n, majority rate) of a naive Bayes trained on triplet half 0, scored on half 1."""
    train = [r for r in rows if r["question_type"] == question_type and _half(r) == 0]
    test = [r for r in rows if r["question_type"] == question_type and _half(r) == 1]
    classes = collections.Counter(r["answer"] for r in train)
    seen = {c: collections.Counter() for c in classes}
    for r in train:
        seen[r["answer"]].update(_features(r))
    vocab = set().union(*seen.values())

    def predict(r):
        f = _features(r) & vocab
        return max(classes, key=lambda c: math.log(classes[c]) + sum(
            math.log((seen[c][x] + 1) / (classes[c] + 2)) for x in f))

    right = sum(predict(r) == r["answer"] for r in test)
    majority = max(collections.Counter(r["answer"] for r in test).values()) / len(test)
    return right, len(test), majority


@pytest.fixture(scope="module")
def rows(small_release):
    return {rationale: question_rows(small_release, split="train", with_completion=True, rationale=rationale,
                                     image_max_side=8)
            for rationale in (False, True)}


def test_answer_only_rows_have_an_empty_think_block(rows):
    assert rows[False] and all(_reasoning(r) == "" and "rationale_source" not in r for r in rows[False])
    assert all(_reasoning(r) and r["rationale_source"] == "metadata" for r in rows[True])


@pytest.mark.parametrize("question_type", TWO_WAY)
def test_the_rule_reads_rationales_but_not_answer_only_rows(rows, question_type):
    for rationale, expect_leak in ((True, True), (False, False)):
        rs = [r for r in rows[rationale] if r["question_type"] == question_type]
        right = sum(rule(r) == r["answer"] for r in rs)
        lo, hi = wilson_interval(right, len(rs))
        majority = max(collections.Counter(r["answer"] for r in rs).values()) / len(rs)
        if expect_leak:  # the probe works: the old SFT context hands over the label
            assert lo > 0.9, (question_type, right, len(rs))
        else:
            assert lo <= majority, (question_type, right, len(rs), majority)


@pytest.mark.parametrize("question_type", TWO_WAY)
def test_a_classifier_on_the_context_is_at_chance_in_answer_only_mode(rows, question_type):
    right, n, majority = classifier_accuracy(rows[True], question_type)
    assert wilson_interval(right, n)[0] > majority, ("the probe cannot even read rationales", right, n)
    right, n, majority = classifier_accuracy(rows[False], question_type)
    assert wilson_interval(right, n)[0] <= majority, (question_type, right, n, majority)
