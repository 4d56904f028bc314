"""The shared scoring module, table-driven: parsing, tolerance, metrics, consistency."""

import pytest

from remot_train.relations import consistent
from remot_train.scoring import consistency_rate, score, summarize

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


def test_unknown_parse_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown parse_rule 'essay'"):
        score("<answer>x</answer>", "x", "essay")


REL = [{"if_answer": "A", "left": "A", "op": ">", "right": "B"}, {"if_answer": "B", "left": "B", "op": ">", "right": "A"}]
REL_LESS = [{"if_answer": "A", "left": "A", "op": "<", "right": "B"}, {"if_answer": "B", "left": "B", "op": "<", "right": "A"}]


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


def test_summarize_breaks_down_and_reports_consistency_only_with_groups():
    rows = [dict(triplet_id="t", correct=True, format_ok=True, domain="d", attribute="yaw", question_type="mc"),
            dict(triplet_id="t", correct=True, format_ok=True, domain="d", attribute="yaw", question_type="tf")]
    m = summarize(rows)
    assert "logical_consistency" not in m and m["overall"]["value"] == 1.0
    assert set(m["by"]["question_type"]) == {"mc", "tf"}
