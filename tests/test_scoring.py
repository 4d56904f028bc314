"""The shared scoring module, table-driven: parsing, tolerance, MRA, metrics, consistency."""

import math

import numpy as np
import pytest
from hypothesis import example, assume, given, settings
from hypothesis import strategies as st

from remot_train.relations import consistent, entails
from remot_train.scoring import (
    MRA_THRESHOLDS,
    PARSE_RULES,
    Scored,
    asserted_relations,
    constant_answer_baseline,
    consistency_rate,
    mean_relative_accuracy,
    score,
    summarize,
)

ABC = ["Image 2", "Image 3"]

CASES = [
    # completion, answer, rule, options, tolerance, correct, format_ok
    ("<answer>A</answer>", "A", "choice_letter", ABC, None, True, True),
    ("<answer> (b) </answer>", "B", "choice_letter", ABC, None, True, True),
    ("<answer>Option A.</answer>", "A", "choice_letter", ABC, None, True, True),
    ("<answer>image 3</answer>", "B", "choice_letter", ABC, None, True, True),
    ("<answer>C</answer>", "A", "choice_letter", ABC, None, False, False),
    ("<answer>A</answer> then <answer>B</answer>", "B", "choice_letter", ABC, None, True, True),
    ("<think>A?</think>", "A", "choice_letter", ABC, None, False, False),
    ("<ANSWER>yes</ANSWER>", "true", "true_false", ["true", "false"], None, True, True),
    ("<answer>No.</answer>", "false", "true_false", ["true", "false"], None, True, True),
    ("<answer>true or false</answer>", "true", "true_false", ["true", "false"], None, False, False),
    ("<answer>Left</answer>", "left", "categorical", ["left", "right"], None, True, True),
    ("<answer>to the right</answer>", "left", "categorical", ["left", "right"], None, False, True),
    ("<answer>left or right</answer>", "left", "categorical", ["left", "right"], None, False, False),
    ("<answer>counterclockwise</answer>", "clockwise", "categorical", ["clockwise", "counterclockwise"], None, False, True),
    ("<answer>away from</answer>", "away from", "categorical", ["away from", "toward"], None, True, True),
    ("<answer>30 degrees</answer>", "24 deg", "number", [], 10.0, True, True),
    ("<answer>35°</answer>", "24 deg", "number", [], 10.0, False, True),
    ("<answer>0.5 rad</answer>", "24 deg", "number", [], 10.0, True, True),  # 28.6 deg
    ("<answer>0.12 m</answer>", "12 cm", "number", [], 3.6, True, True),
    ("<answer>12 m</answer>", "12 cm", "number", [], 3.6, False, True),
    ("<answer>2 metres</answer>", "24 deg", "number", [], 10.0, False, False),  # wrong kind of unit
    ("<answer>about twenty</answer>", "24 deg", "number", [], 10.0, False, False),
    ("<answer>1.2</answer>", "1.3 m", "number", [], 0.39, True, True),
]


@pytest.mark.parametrize("completion, answer, rule, options, tol, correct, format_ok", CASES)
def test_score_table(completion, answer, rule, options, tol, correct, format_ok):
    s = score(completion, answer, rule, options, tol)
    assert (s.correct, s.format_ok) == (correct, format_ok)
    assert s.score == float(correct)  # the discrete rules and ``number`` score 1/0


def test_unknown_parse_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown parse_rule 'essay'.*number_mra"):
        score("<answer>x</answer>", "x", "essay")
    assert PARSE_RULES == ("choice_letter", "true_false", "categorical", "number", "number_mra")


def test_scored_defaults_its_score_to_correct():
    assert Scored(True, "A", True).score == 1.0 and Scored(False, None, False).score == 0.0
    assert Scored(False, "30", True, 0.5).score == 0.5


# --------------------------------------------------------------------------------------------
# number_mra: mean relative accuracy over thresholds 0.50 .. 0.95
# --------------------------------------------------------------------------------------------

MRA_CASES = [
    # completion, answer, score, correct, format_ok
    ("<answer>24 deg</answer>", "24 deg", 1.0, True, True),
    ("<answer>about 25 degrees</answer>", "24 deg", 1.0, True, True),  # 4.2% off: within 5%
    ("<answer>30°</answer>", "24 deg", 0.5, False, True),  # 25% off: 0.50 .. 0.70 pass
    ("<answer>0.5 rad</answer>", "24 deg", 0.7, False, True),  # 28.65 deg, 19.4% off
    ("<answer>12</answer>", "24 deg", 0.0, False, True),  # 50% off: no threshold passes
    ("<answer>0.5 m</answer>", "50 cm", 1.0, True, True),
    ("<answer>50 cm</answer>", "0.5 m", 1.0, True, True),
    ("<answer>500 mm</answer>", "0.5 m", 1.0, True, True),
    ("<answer>0.45 m</answer>", "50 cm", 0.8, False, True),  # exactly 10% off fails 0.90 (strict <)
    ("<answer>1.4 m</answer>", "1.3 m", 0.9, False, True),
    ("<answer>2 metres</answer>", "24 deg", 0.0, False, False),  # a length for an angle
    ("<answer>about twenty</answer>", "24 deg", 0.0, False, False),
    ("<answer>24 or 25</answer>", "24 deg", 0.0, False, False),
    ("<think>24 deg</think>", "24 deg", 0.0, False, False),  # no answer block
    ("<answer>-12 cm</answer>", "-12 cm", 1.0, True, True),
]


@pytest.mark.parametrize("completion, answer, expected, correct, format_ok", MRA_CASES)
def test_number_mra_table(completion, answer, expected, correct, format_ok):
    s = score(completion, answer, "number_mra")
    assert s.score == pytest.approx(expected, abs=1e-12)
    assert (s.correct, s.format_ok) == (correct, format_ok)
    assert s.correct == (s.score == 1.0)
    assert score(completion, answer, "number_mra", tolerance=100.0) == s  # the tolerance plays no part


def test_number_is_unchanged_for_old_releases():
    s = score("<answer>30 degrees</answer>", "24 deg", "number", tolerance=10.0)
    assert (s.correct, s.score, s.parsed) == (True, 1.0, "30")
    assert score("<answer>30 degrees</answer>", "24 deg", "number_mra").score == 0.5


def test_mra_thresholds_are_vsi_benchs():
    assert MRA_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


truths = st.floats(1e-3, 1e4).flatmap(lambda m: st.sampled_from([m, -m]))
radii = np.array([1.0 - t for t in MRA_THRESHOLDS])


def _off_boundary(rel: float) -> bool:
    """Far from every pass/fail boundary, where rounding in a transformed input cannot flip it."""
    return bool(np.min(np.abs(rel - radii)) > 1e-6)


@settings(max_examples=300, deadline=None)
@given(p=st.floats(-1e6, 1e6), t=st.floats(-1e6, 1e6))
def test_mra_is_a_multiple_of_a_tenth_in_0_1(p, t):
    m = mean_relative_accuracy(p, t)
    assert 0.0 <= m <= 1.0 and abs(m * 10 - round(m * 10)) < 1e-9


@given(t=st.floats(-1e6, 1e6))
def test_mra_is_one_at_the_truth(t):
    assert mean_relative_accuracy(t, t) == 1.0


@settings(max_examples=300, deadline=None)
@given(t=truths, a=st.floats(-1e5, 1e5), b=st.floats(-1e5, 1e5))
def test_mra_does_not_increase_with_the_error(t, a, b):
    near, far = sorted([a, b], key=lambda p: abs(p - t))
    assert mean_relative_accuracy(near, t) >= mean_relative_accuracy(far, t)


@settings(max_examples=300, deadline=None)
@given(t=truths, rel=st.floats(0.0, 3.0))
def test_mra_is_symmetric_in_the_sign_of_the_error(t, rel):
    assume(_off_boundary(rel))
    assert mean_relative_accuracy(t + rel * abs(t), t) == mean_relative_accuracy(t - rel * abs(t), t)


@settings(max_examples=300, deadline=None)
@given(t=truths, rel=st.floats(-3.0, 3.0), k=st.floats(1e-3, 1e3))
def test_mra_is_scale_invariant(t, rel, k):
    p = t * (1.0 + rel)
    assume(_off_boundary(abs(p - t) / abs(t)))
    assert mean_relative_accuracy(k * p, k * t) == mean_relative_accuracy(p, t)


@settings(max_examples=200, deadline=None)
@given(said_cm=st.integers(1, 100_000), truth_cm=st.integers(1, 100_000))
def test_number_mra_converts_units_before_scoring(said_cm, truth_cm):
    """Saying it in metres, centimetres or millimetres, against a truth in either unit, scores alike."""
    ways = [f"{said_cm / 100:.2f} m", f"{said_cm} cm", f"{said_cm * 10} mm"]
    truths_ = [f"{truth_cm} cm", f"{truth_cm / 100:.2f} m"]
    scores = {score(f"<answer>{w}</answer>", t, "number_mra").score for w in ways for t in truths_}
    assert scores == {mean_relative_accuracy(said_cm, truth_cm)}


@settings(max_examples=300, deadline=None)
@given(p=st.floats(allow_nan=True, allow_infinity=True), t=st.floats(allow_nan=True, allow_infinity=True))
def test_mra_scalar_path_matches_the_array_path(p, t):
    """Two floats take a plain-Python path (the reward's, per completion); arrays take numpy's."""
    assert mean_relative_accuracy(p, t) == mean_relative_accuracy(np.array([p]), np.array([t]))[0]


def test_mra_vectorises_and_fails_non_numbers():
    got = mean_relative_accuracy([24.0, 30.0, math.nan, 0.0, 1.0], [24.0, 24.0, 24.0, 0.0, 0.0])
    assert got.tolist() == [1.0, 0.5, 0.0, 1.0, 0.0]


# --------------------------------------------------------------------------------------------
# constant-answer baseline
# --------------------------------------------------------------------------------------------


def test_a_constant_answer_scores_well_below_half_on_a_spread_of_truths():
    rng = np.random.default_rng(0)
    train, test = (np.exp(rng.uniform(np.log(10.0), np.log(50.0), n)) for n in (2000, 1000))
    b = constant_answer_baseline(train, test)
    assert b["n_test"] == 1000
    assert b["train_mra"] < 0.4 and b["test_mra"] < 0.4  # about 0.36: no shortcut
    assert 12.0 < b["constant"] < 25.0  # a sensible constant: in the dense low end, below the median
    # it is the best constant: no point of a fine grid does better on train
    grid = np.linspace(5.0, 60.0, 1101)
    assert b["train_mra"] >= mean_relative_accuracy(grid[:, None], train[None, :]).mean(axis=1).max() - 1e-12
    # the old style of tolerance (here +-10 deg) let the same kind of constant score half the questions
    assert np.mean(np.abs(train - 25.0) <= 10.0) > 0.5


def test_constant_baseline_on_a_concentrated_attribute_and_edge_cases():
    b = constant_answer_baseline([20.0, 20.2, 19.9, 20.1, 80.0], [20.0, 20.5, 40.0])
    assert 19.9 <= b["constant"] <= 20.2 and b["train_mra"] == pytest.approx(0.8)
    assert b["test_mra"] == pytest.approx((1.0 + 1.0 + 0.1) / 3)  # 40 is 49.7% off 20.1: passes 0.50 only
    assert constant_answer_baseline([-5.0, -5.1, 3.0], [-5.0])["constant"] == -5.0  # the median breaks ties
    assert constant_answer_baseline([0.0, 0.0, 1.0], [0.0])["constant"] == 0.0
    empty = constant_answer_baseline([5.0, math.nan], [])
    assert empty["n_test"] == 0 and math.isnan(empty["test_mra"]) and empty["constant"] == 5.0
    with pytest.raises(ValueError, match="finite train"):
        constant_answer_baseline([math.nan], [1.0])


@settings(max_examples=100, deadline=None)
@given(train=st.lists(st.floats(0.5, 200.0), min_size=1, max_size=40), seed=st.integers(0, 2**16))
@example(train=[1.5, 1.15625], seed=0)  # the 64 leaders nearest the median once all missed the optimum
def test_constant_baseline_is_optimal_and_deterministic(train, seed):
    b = constant_answer_baseline(train, train)
    shuffled = list(np.random.default_rng(seed).permutation(train))
    assert constant_answer_baseline(shuffled, train) == b  # order does not matter
    assert b["test_mra"] == pytest.approx(b["train_mra"]) and b["n_test"] == len(train)
    t = np.asarray(train)
    grid = np.concatenate([t, np.geomspace(0.25, 400.0, 2000)])
    best_on_grid = mean_relative_accuracy(grid[:, None], t[None, :]).mean(axis=1).max()
    assert b["train_mra"] >= best_on_grid - 1e-12
    assert b["train_mra"] == pytest.approx(float(np.mean(mean_relative_accuracy(b["constant"], t))))


# The question generator's form: pair A is m12, pair B m34 ("in which pair was it larger / smaller?").
REL = [{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"},
       {"if_answer": "B", "left": "m34", "op": ">", "right": "m12"}]
REL_LESS = [{"if_answer": "A", "left": "m12", "op": "<", "right": "m34"},
            {"if_answer": "B", "left": "m34", "op": "<", "right": "m12"}]
TURNED_LEFT = [{"if_answer": "true", "left": "m12", "op": "is", "right": "left"},
               {"if_answer": "false", "left": "m12", "op": "is", "right": "right"}]
TURNED_RIGHT = [{**r, "right": {"left": "right", "right": "left"}[r["right"]]} for r in TURNED_LEFT]


@pytest.mark.parametrize("larger, smaller, ok", [("A", "B", True), ("B", "A", True), ("A", "A", False),
                                                  ("B", "B", False), (None, "A", None)])
def test_consistency_of_a_larger_smaller_group(larger, smaller, ok):
    rows = [dict(consistency_group_id="g", relations=REL, parsed=larger),
            dict(consistency_group_id="g", relations=REL_LESS, parsed=smaller)]
    m = consistency_rate(rows)
    assert (m is None) if ok is None else m["value"] == float(ok)  # an unanswered group is not counted


def test_relations_over_three_quantities():
    assert consistent([("m12", "<", "m13"), ("m13", "<", "m14"), ("m12", "<", "m14")])
    assert not consistent([("m12", "<", "m13"), ("m13", "<", "m14"), ("m14", "<", "m12")])
    assert not consistent([("m12", "=", "m13"), ("m13", ">", "m12")])
    with pytest.raises(ValueError, match="unknown relation operator"):
        consistent([("a", "<<", "b")])


def test_direction_relations_allow_one_value_per_motion():
    assert consistent([("m12", "is", "left"), ("m34", "is", "right"), ("m12", "<", "m34")])
    assert not consistent([("m12", "is", "left"), ("m12", "is", "right")])
    assert not consistent([("m12", "is_not", "opening"), ("m12", "is", "opening")])
    assert consistent([("m12", "is_not", "opening"), ("m12", "is", "closing"), ("m12", "is_not", "holding")])
    # a motion's direction and its size are two quantities
    assert consistent([("m12", "is", "left"), ("m12", ">", "m34"), ("m34", "is", "left")])


def test_numbers_are_ordered_constants():
    assert not consistent([("m12", "=", "8"), ("m34", "=", "24"), ("m12", ">", "m34")])
    assert consistent([("m12", "=", "8"), ("m34", "=", "24"), ("m12", "<", "m34")])
    assert not consistent([("m12", "=", "0.8"), ("m34", "=", "0.80"), ("m12", "<", "m34")])  # one number
    assert not consistent([("m12", "=", "24"), ("m12", "=", "20")])
    assert consistent([("20", "<", "m12"), ("m12", "<", "30"), ("m12", "=", "24")])


def test_entailment():
    assert entails([("m12", ">", "m34"), ("m34", ">", "m13")], ("m13", "<", "m12"))
    assert not entails([("m12", ">", "m34")], ("m12", ">", "m13"))
    assert entails([("m12", "=", "24"), ("m34", "=", "8")], ("m12", ">", "m34"))
    assert entails([("m12", "is", "left")], ("m12", "is_not", "right"))
    assert not entails([("m12", "is_not", "opening")], ("m12", "is", "closing"))
    assert entails([], ("m12", "=", "m12"))  # a tautology follows from anything


@pytest.mark.parametrize("first, second, ok", [("true", "false", True), ("false", "true", True),
                                               ("true", "true", False), ("false", "false", False)])
def test_consistency_of_a_group_of_direction_questions(first, second, ok):
    """Two true/false questions about one motion, one asking "left", the other "right"."""
    rows = [dict(consistency_group_id="g", relations=TURNED_LEFT, parsed=first),
            dict(consistency_group_id="g", relations=TURNED_RIGHT, parsed=second)]
    assert consistency_rate(rows)["value"] == float(ok)
    assert asserted_relations(first.upper(), TURNED_LEFT) == asserted_relations(first, TURNED_LEFT)


def test_questions_outside_a_group_do_not_count_towards_consistency():
    rows = [dict(consistency_group_id=None, relations=TURNED_LEFT, parsed="true"),
            dict(consistency_group_id=None, relations=TURNED_RIGHT, parsed="true")]
    assert consistency_rate(rows) is None


def test_summarize_breaks_down_and_reports_consistency_only_with_groups():
    rows = [dict(triplet_id="t", correct=True, format_ok=True, domain="d", attribute="yaw", question_type="mc"),
            dict(triplet_id="t", correct=True, format_ok=True, domain="d", attribute="yaw", question_type="tf")]
    m = summarize(rows)
    assert "logical_consistency" not in m and m["overall"]["value"] == 1.0
    assert set(m["by"]["question_type"]) == {"mc", "tf"}
    assert "numeric_mra" not in m and m["exact"]["value"] == m["partial"]["value"] == 1.0


def test_summarize_averages_the_graded_score():
    rows = [dict(triplet_id="t1", correct=True, score=1.0, format_ok=True, attribute="yaw", question_type="tf",
                 parse_rule="true_false"),
            dict(triplet_id="t1", correct=False, score=0.6, format_ok=True, attribute="yaw", question_type="fill",
                 parse_rule="number_mra"),
            dict(triplet_id="t2", correct=True, score=1.0, format_ok=True, attribute="roll", question_type="fill",
                 parse_rule="number_mra"),
            dict(triplet_id="t2", correct=False, score=0.0, format_ok=False, attribute="roll", question_type="fill",
                 parse_rule="number_mra"),
            dict(triplet_id="t3", correct=True, format_ok=True, attribute="roll", question_type="tf")]  # no score: 1/0
    m = summarize(rows, by=("attribute", "question_type"))
    assert m["partial"]["value"] == pytest.approx(3.6 / 5) and m["partial"]["count"] == pytest.approx(3.6)
    assert m["exact"]["value"] == pytest.approx(3 / 5) and m["exact"]["count"] == 3
    assert m["overall"]["value"] == pytest.approx((0.6 + 0.0 + 1.0) / 3)  # each triplet's lowest score
    assert m["numeric_mra"]["value"] == pytest.approx(1.6 / 3) and m["numeric_mra"]["n"] == 3
    lo, hi = m["partial"]["ci95"]
    assert 0.0 <= lo < m["partial"]["value"] < hi <= 1.0
    by_attr = m["by"]["attribute"]
    assert by_attr["yaw"]["partial"]["value"] == pytest.approx(0.8) and by_attr["yaw"]["numeric_mra"]["value"] == 0.6
    assert by_attr["roll"]["numeric_mra"]["value"] == 0.5 and "numeric_mra" not in m["by"]["question_type"]["tf"]
    assert m["by"]["question_type"]["fill"]["partial"]["value"] == pytest.approx(1.6 / 3)
