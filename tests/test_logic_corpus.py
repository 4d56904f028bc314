"""The logic reward on a labelled corpus of thinking-model completions, and its invariants.

The corpus (bench/logic_corpus.py) is written from hand-authored templates with a label per
completion, independently of the reward's code; bench/logic_reward.py reports the same numbers.
The property tests draw statements in the notation and check what the module doc promises:
permuting statements about different things changes nothing, a restatement of the answer never
raises a score, the last statement about a thing wins, consistent reasoning is never -1.
"""

from __future__ import annotations

import ast
import itertools
import json
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from remot_train.rewards import logic_reward

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from logic_corpus import LABELS, build  # noqa: E402
from logic_reward import TARGETS, measure  # noqa: E402


def test_the_corpus_is_large_labelled_and_independent_of_the_reward():
    records = build()
    assert len(records) >= 200 and {r["label"] for r in records} == set(LABELS)
    assert {r["question_type"] for r in records} == {"comparative", "true_false", "multiple_choice", "fill_blank"}
    assert len({r["completion"] for r in records}) >= 0.9 * len(records)  # varied, not copies
    imported = {node.module if isinstance(node, ast.ImportFrom) else alias.name
                for node in ast.walk(ast.parse((BENCH / "logic_corpus.py").read_text()))
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    assert not any(name and name.startswith("remot_train") for name in imported), imported


def test_thresholds_on_the_corpus():
    m = measure(build())
    assert m["sound_minus_one"] <= TARGETS["sound_minus_one_max"], m["by_label"]
    assert m["contradiction_minus_one"] >= TARGETS["contradiction_minus_one_min"], m["by_label"]
    assert m["gaming_mean"] <= m["no_claims_mean"], m["by_label"]
    assert m["n_sound"] >= 100 and m["n_contradiction"] >= 50
    # sound reasoning can earn the reward, gaming never does
    assert m["by_label"]["sound"]["plus_one"] > 0.2 and m["by_label"]["gaming"]["plus_one"] == 0.0


def test_the_corpus_on_another_seed():
    m = measure(build(per_label=4, seed=7))
    assert m["sound_minus_one"] <= TARGETS["sound_minus_one_max"]
    assert m["contradiction_minus_one"] >= TARGETS["contradiction_minus_one_min"]
    assert m["gaming_mean"] <= m["no_claims_mean"]


# --------------------------------------------------------------------------------------------
# Invariants
# --------------------------------------------------------------------------------------------

ORDER = [{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"},
         {"if_answer": "B", "left": "m34", "op": ">", "right": "m12"}]
PAIR_LEFT = [{"if_answer": "A", "left": "m12", "op": "is", "right": "left"},
             {"if_answer": "A", "left": "m34", "op": "is", "right": "right"},
             {"if_answer": "B", "left": "m34", "op": "is", "right": "left"},
             {"if_answer": "B", "left": "m12", "op": "is", "right": "right"}]
OPENING = [{"if_answer": "true", "left": "m12", "op": "is", "right": "opening"},
           {"if_answer": "false", "left": "m12", "op": "is_not", "right": "opening"}]
QUESTIONS = [(ORDER, "choice_letter", ["Pair A", "Pair B"]), (PAIR_LEFT, "choice_letter", ["Pair A", "Pair B"]),
             (OPENING, "true_false", ["true", "false"])]

MOTIONS = ["m12", "m13", "m34"]
VALUES = ["left", "right", "forward", "opening", "closing", "holding"]


def _score(statements: list[str], question: int, answer: str) -> float:
    relations, rule, options = QUESTIONS[question]
    text = "Let me think. " + " ".join(statements) + "\n</think>\n<answer>" + answer + "</answer>"
    return logic_reward(completions=[text], answer=[answer], parse_rule=[rule], options=[options],
                        relations=[json.dumps(relations)])[0]


def _key(statement: str) -> tuple:
    """What a drawn statement is about (as the module doc defines it), from its own parts."""
    body = statement.strip("[]")
    if ":" in body:
        motion, value = (x.strip() for x in body.split(":"))
        axis = {"left": "lr", "right": "lr", "forward": "depth"}.get(value, "gripper")
        return ("value", motion, axis)
    left, _, right = body.split()
    return ("order", frozenset("#" if x[0].isdigit() else x for x in (left, right)))


comparison = st.builds(lambda a, op, b: f"[{a} {op} {b}]", st.sampled_from(MOTIONS), st.sampled_from("<>="),
                       st.sampled_from(MOTIONS + ["8", "24", "0.5"]))
direction = st.builds(lambda m, v: f"[{m}: {v}]", st.sampled_from(MOTIONS), st.sampled_from(VALUES))
statement = st.one_of(comparison, direction)
question = st.integers(0, len(QUESTIONS) - 1)


def _answers(q: int) -> list[str]:
    return sorted({r["if_answer"] for r in QUESTIONS[q][0]})


def _restatements(q: int, answer: str) -> list[str]:
    return [f"[{r['left']} {r['op']} {r['right']}]" if r["op"] in "<>=" else f"[{r['left']}: {r['right']}]"
            for r in QUESTIONS[q][0] if r["if_answer"] == answer and r["op"] != "is_not"]


@settings(max_examples=300, deadline=None)
@given(st.lists(statement, max_size=6), question, st.data())
def test_score_is_one_of_three_values_and_permuting_different_things_changes_nothing(stmts, q, data):
    answer = data.draw(st.sampled_from(_answers(q)))
    latest = {_key(s): s for s in stmts}  # the last statement of each thing
    kept = list(latest.values())
    got = _score(stmts, q, answer)
    assert got in (-1.0, 0.0, 1.0)
    assert _score(kept, q, answer) == got  # last statement wins: earlier ones are replaced
    assert _score(data.draw(st.permutations(kept)), q, answer) == got


@settings(max_examples=300, deadline=None)
@given(st.lists(statement, max_size=5), question, st.data())
def test_a_restatement_of_the_answer_never_raises_the_score(stmts, q, data):
    answer = data.draw(st.sampled_from(_answers(q)))
    restated = _restatements(q, answer)
    if not restated:
        return
    extra = data.draw(st.sampled_from(restated))
    at = data.draw(st.integers(0, len(stmts)))
    before = _score(stmts, q, answer)
    after = _score(stmts[:at] + [extra] + stmts[at:], q, answer)
    same = [i for i, s in enumerate(stmts) if _key(s) == _key(extra)]
    if not same:
        assert after == before  # a new restatement changes nothing
    elif max(same) >= at:
        assert after == before  # a later statement about the same thing replaces it
    else:
        # the last word on its thing, it corrects the earlier statement: it earns no more than
        # dropping that statement would (hypothesis found a cycle m12 > m13 > m34 > m12 whose
        # last link a restated m12 > m34 replaced: +1, earned by the other two statements)
        without = [s for s in stmts if _key(s) != _key(extra)]
        assert after <= max(_score(without, q, answer), 0.0)


@settings(max_examples=200, deadline=None)
@given(question, st.data())
def test_only_restatements_earn_what_no_claims_earn(q, data):
    answer = data.draw(st.sampled_from(_answers(q)))
    restated = _restatements(q, answer)
    chosen = data.draw(st.lists(st.sampled_from(restated), min_size=1)) if restated else []
    assert _score(chosen, q, answer) == _score([], q, answer) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.permutations([3, 8, 24]), st.lists(st.sampled_from(["left", "right"]), min_size=3, max_size=3),
       st.lists(st.integers(0, 7), max_size=6), st.booleans())
def test_statements_true_of_one_world_never_contradict_the_answer_that_world_gives(sizes, dirs, picks, pair_left):
    """A world (sizes and directions of m12, m13, m34); statements drawn from it; the answer it
    gives to "which pair turned more" and "which pair turned left" (when exactly one did)."""
    size = dict(zip(MOTIONS, sizes))
    side = dict(zip(MOTIONS, dirs))
    facts = [f"[{m} = {size[m]}]" for m in MOTIONS] + [f"[{m}: {side[m]}]" for m in MOTIONS]
    facts += [f"[{a} {'<' if size[a] < size[b] else '>'} {b}]" for a, b in (("m12", "m13"), ("m13", "m34"))]
    stmts = [facts[i] for i in picks]
    assert _score(stmts, 0, "A" if size["m12"] > size["m34"] else "B") >= 0.0
    if side["m12"] != side["m34"]:
        assert _score(stmts, 1, "A" if side["m12"] == "left" else "B") >= 0.0
    # and the other answer is -1 exactly when the statements decide the question: when no
    # assignment of sizes (by brute force over a grid around the stated numbers) satisfies them
    # and the other answer
    wrong = "B" if size["m12"] > size["m34"] else "A"
    assert (_score(stmts, 0, wrong) == -1.0) == (not _satisfiable(stmts, wrong))


_GRID = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 26, 28, 30)
_OPS = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "=": lambda a, b: a == b}


def _satisfiable(stmts: list[str], answer: str) -> bool:
    """Whether some sizes of m12, m13, m34 satisfy the size statements and the answer (A: m12 >
    m34, B: m34 > m12), enumerated, without the reward's code."""
    order = [s.strip("[]").split() for s in stmts if ":" not in s]
    for values in itertools.product(_GRID, repeat=3):
        size = dict(zip(MOTIONS, values))
        value = lambda x: size[x] if x in size else float(x)  # noqa: E731
        if all(_OPS[op](value(a), value(b)) for a, op, b in order) and \
                (size["m12"] > size["m34"] if answer == "A" else size["m34"] > size["m12"]):
            return True
    return False
