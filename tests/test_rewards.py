"""GRPO reward functions: table-driven checks of each reward, and the call trl 1.16 makes."""

from __future__ import annotations

import importlib.util
import json
import math
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from remot_train import rewards
from remot_train.rewards import (
    DEFAULT_WEIGHTS,
    default_reward_funcs,
    extract_claims,
    format_reward,
    length_reward,
    logic_reward,
    make_length_reward,
    task_reward,
)
from remot_train.rewards.logic import canonical_name, check

PAIR = ["Pair A", "Pair B"]
IMAGE = ["Image 2", "Image 3"]
TF = ["true", "false"]
# "Answering A asserts mA > mB; answering B asserts mA < mB."
ORDER = json.dumps([{"if_answer": "A", "left": "mA", "op": ">", "right": "mB"},
                    {"if_answer": "B", "left": "mA", "op": "<", "right": "mB"}])
# A true/false direction question can assert a direction fact too.
TURNED_LEFT = json.dumps([{"if_answer": "true", "left": "dir:m12:yaw", "op": "=", "right": "yaw:left"},
                          {"if_answer": "false", "left": "dir:m12:yaw", "op": "=", "right": "yaw:right"}])


def msg(content: str, **extra) -> list[dict]:
    return [{"role": "assistant", "content": content, **extra}]


# --------------------------------------------------------------------------------------------
# format_reward
# --------------------------------------------------------------------------------------------

FORMAT_CASES = [
    # (completion, expected, why)
    ("The view shifts right.\n</think>\n\n<answer>A</answer>", 1.0, "thinking model: starts inside <think>"),
    ("<think>\nleft\n</think>\n<answer>B</answer>\n", 1.0, "explicit <think>, trailing newline"),
    ("  <think>x</think><answer>true</answer>", 1.0, "whitespace before <think>"),
    ("x</THINK><ANSWER>A</ANSWER>", 1.0, "tags are case-insensitive"),
    ("left</think> So the answer is: <answer>A</answer>", 1.0, "text between </think> and <answer>"),
    (msg("left</think><answer>A</answer>"), 1.0, "conversational"),
    (msg("<answer>A</answer>", reasoning_content="it turned left"), 1.0, "trl-parsed reasoning_content"),
    ("<answer>A</answer>", 0.0, "think block never closed"),
    ("I think it is A", 0.0, "no tags at all"),
    ("left</think>", 0.0, "no answer"),
    ("left</think><answer>A</answer><answer>B</answer>", 0.0, "two answers"),
    ("x<answer>A</answer></think><answer>A</answer>", 0.0, "answer quoted inside the reasoning"),
    ("left</think><answer>A</answer> I am sure.", 0.0, "text after </answer>"),
    ("<think>a<think>b</think><answer>A</answer>", 0.0, "nested <think>"),
    ("Let me think. <think>a</think><answer>A</answer>", 0.0, "text before an explicit <think>"),
    ("a</think>b</think><answer>A</answer>", 0.0, "two </think>"),
    ("a</think><answer>  \n</answer>", 0.0, "empty answer"),
    ("a</think><answer>A", 0.0, "unclosed answer"),
    ("a</think></answer>A<answer>", 0.0, "answer tags in the wrong order"),
]


@pytest.mark.parametrize("completion, expected, why", FORMAT_CASES, ids=[c[2] for c in FORMAT_CASES])
def test_format_reward(completion, expected, why):
    assert format_reward(prompts=["q"], completions=[completion]) == [expected]


# --------------------------------------------------------------------------------------------
# task_reward
# --------------------------------------------------------------------------------------------

TASK_CASES = [
    # (completion, answer, parse_rule, options, expected)
    ("x</think><answer>A</answer>", "A", "choice_letter", PAIR, 1.0),
    ("x</think><answer>(b)</answer>", "B", "choice_letter", PAIR, 1.0),
    ("x</think><answer>Pair B</answer>", "B", "choice_letter", PAIR, 1.0),
    ("x</think><answer>Image 2</answer>", "A", "choice_letter", IMAGE, 1.0),
    ("x</think><answer>B</answer>", "A", "choice_letter", PAIR, 0.0),
    ("x</think><answer>A or B</answer>", "A", "choice_letter", PAIR, 0.0),
    ("x</think><answer>Yes</answer>", "true", "true_false", TF, 1.0),
    ("x</think><answer>false</answer>", "true", "true_false", TF, 0.0),
    ("x</think><answer>maybe</answer>", "true", "true_false", TF, 0.0),
    ("no answer block", "true", "true_false", TF, 0.0),
    (msg("x</think><answer>A</answer>"), "A", "choice_letter", PAIR, 1.0),
    ("x</think><answer>A</answer>", None, "choice_letter", PAIR, None),  # no label: skipped, not wrong
]


@pytest.mark.parametrize("completion, answer, parse_rule, options, expected", TASK_CASES)
def test_task_reward(completion, answer, parse_rule, options, expected):
    got = task_reward(prompts=["q"], completions=[completion], answer=[answer], parse_rule=[parse_rule],
                      options=[options])
    assert got == [expected]


def test_task_reward_passes_tolerance_on_only_when_set(monkeypatch):
    calls = []

    def fake_score(completion, answer, parse_rule, options=None, tolerance=None):
        calls.append(tolerance)
        return SimpleNamespace(correct=True, parsed="1.0", format_ok=True, score=1.0)

    monkeypatch.setattr(rewards.task.scoring, "score", fake_score)
    task_reward(completions=["<answer>1</answer>"] * 2, answer=["1", "1"], parse_rule=["number"] * 2,
                tolerance=[0.5, None])
    assert calls == [0.5, None]


def test_task_reward_with_scoring_tolerance():
    """With the shared scoring's ``number`` rule (where it exists): the tolerance reaches it."""
    completions = ["x</think><answer>about 30 degrees</answer>"] * 2
    try:
        got = task_reward(completions=completions, answer=["24 deg"] * 2, parse_rule=["number"] * 2,
                          tolerance=[10.0, 1.0])
    except ValueError:
        pytest.skip("this scoring has no number parse rule")
    assert got == [1.0, 0.0]


NUMBER_MRA_CASES = [
    # (answer in the completion, truth, expected reward: the MRA over thresholds 0.50 .. 0.95)
    ("24 deg", "24 deg", 1.0),
    ("about 25 degrees", "24 deg", 1.0),  # 4% off
    ("30°", "24 deg", 0.5),  # 25% off
    ("0.4189 rad", "24 deg", 1.0),  # 24.0 deg in radians
    ("36", "24 deg", 0.0),  # 50% off
    ("1.2 m", "1.4 m", 0.8),  # 14% off: passes 0.50 .. 0.85
    ("140 cm", "1.4 m", 1.0),
    ("2 metres", "24 deg", 0.0),  # a length for an angle: a format failure
    ("a lot", "12 cm", 0.0),
]


@pytest.mark.parametrize("said, truth, expected", NUMBER_MRA_CASES)
def test_task_reward_grades_number_mra(said, truth, expected):
    got = task_reward(prompts=["q"], completions=[msg(f"x</think><answer>{said}</answer>")], answer=[truth],
                      parse_rule=["number_mra"], options=[[]], tolerance=[None])
    assert got == [pytest.approx(expected)]


def test_task_reward_mra_is_graded_and_ignores_a_tolerance():
    """Closer answers earn more; a stray tolerance does not change number_mra's score."""
    said = [24, 25.5, 27, 29, 31, 33, 35, 40]
    got = task_reward(completions=[f"x</think><answer>{v} deg</answer>" for v in said], answer=["24 deg"] * len(said),
                      parse_rule=["number_mra"] * len(said), tolerance=[100.0] * len(said))
    assert got == sorted(got, reverse=True) and got[0] == 1.0 and got[-1] == 0.0
    assert len(set(got)) >= 5  # a graded signal, not 1/0


def test_logic_reward_parses_number_mra_answers_as_scoring_does():
    from remot_train.rewards.logic import parsed_answer

    assert parsed_answer("x</think><answer>140 cm</answer>", "1.4 m", "number_mra") == "1.4"
    assert parsed_answer("x</think><answer>2 metres</answer>", "24 deg", "number_mra") is None
    got = logic_reward(completions=["It turned left by about 20 degrees.</think><answer>20 deg</answer>"],
                       answer=["24 deg"], parse_rule=["number_mra"], options=[[]], tolerance=[None],
                       attribute=["yaw"], relations=["[]"])
    assert got[0] in (-1.0, 0.0, 1.0)


def test_task_reward_unknown_parse_rule_raises():
    with pytest.raises(ValueError, match="parse_rule"):
        task_reward(completions=["<answer>A</answer>"], answer=["A"], parse_rule=["essay"])


# --------------------------------------------------------------------------------------------
# length_reward
# --------------------------------------------------------------------------------------------

def words(n: int) -> str:
    return " ".join(["w"] * n)


LENGTH_CASES = [
    # (completion, target, normaliser, expected)
    (words(10) + "</think><answer>A</answer>", 10, None, 0.0),
    (words(15) + "</think><answer>A</answer>", 10, None, -0.5),
    (words(20) + "</think><answer>A</answer>", 10, None, -1.0),
    (words(500) + "</think><answer>A</answer>", 10, None, -1.0),  # clipped
    (words(15) + "</think><answer>A</answer>", 10, 20, -0.25),
    ("<think>" + words(12) + "</think><answer>" + words(50) + "</answer>", 10, 4, -0.5),  # answer not counted
    (words(14) + " <answer>A</answer>", 10, 4, -1.0),  # no </think>: up to <answer>
    (words(14), 10, 8, -0.5),  # think never closed (truncated): all of it
    ("</think><answer>A</answer>", 0, None, 0.0),
    (msg("<answer>A</answer>", reasoning_content=words(13)), 10, 6, -0.5),
]


@pytest.mark.parametrize("completion, target, normaliser, expected", LENGTH_CASES)
def test_length_reward(completion, target, normaliser, expected):
    reward = make_length_reward(target_tokens=target, normaliser=normaliser)
    assert reward(prompts=["q"], completions=[completion]) == [pytest.approx(expected)]


def test_length_reward_with_a_tokenizer_name_and_pickle():
    class FakeHFTokenizer:  # counts characters; records that special tokens were switched off
        def __init__(self):
            self.kwargs = []

        def encode(self, text, add_special_tokens=True):
            self.kwargs.append(add_special_tokens)
            return list(text.strip()) + ([0] if add_special_tokens else [])

    tok = FakeHFTokenizer()
    reward = make_length_reward(target_tokens=4, tokenizer=tok, normaliser=4)
    assert reward(completions=["abcdef</think><answer>A</answer>"]) == [-0.5]
    assert tok.kwargs == [False]
    assert make_length_reward(2, tokenizer=lambda s: s.split("-"))(completions=["a-b-c-d</think>"]) == [-1.0]
    assert reward.__name__ == length_reward.__name__ == "length_reward"
    clone = pickle.loads(pickle.dumps(make_length_reward(3)))
    assert clone(completions=[words(6) + "</think>"]) == [-1.0] and clone.__name__ == "length_reward"
    with pytest.raises(ValueError):
        make_length_reward(-1)
    with pytest.raises(ValueError):
        make_length_reward(10, normaliser=0)


# --------------------------------------------------------------------------------------------
# logic_reward: hand-written rationales
# --------------------------------------------------------------------------------------------

LOGIC_CASES = [
    # (id, completion, answer, options, attribute, relations, expected)
    ("pair-order-agrees-with-answer",
     "In pair A the rotation from image 1 to image 2 is about 20 degrees, while pair B barely turns. "
     "So pair A rotated more than pair B.</think><answer>A</answer>", "A", PAIR, "yaw", ORDER, 1.0),
    ("pair-order-contradicts-answer",
     "In pair A the rotation is about 20 degrees, while pair B barely turns. "
     "So pair A rotated more than pair B.</think><answer>B</answer>", "A", PAIR, "yaw", ORDER, -1.0),
    ("direct-contradiction",
     "Numerically m12 > m34. Looking at the numbers, m34 > m12.</think><answer>A</answer>", "A", PAIR, "yaw",
     ORDER, -1.0),
    ("intransitive-cycle",
     "The rotation 1→2 is larger than 1→3, and 1->3 is larger than image 1 to image 4, "
     "but m14 is larger than m12.</think><answer>A</answer>", "A", None, None, "[]", -1.0),
    ("transitive-chain",
     "m12 < m13 < m14, so m12 < m14. L1 < L2 as well.</think><answer>A</answer>", "A", None, None, "[]", 1.0),
    ("same-vs-answer-that-picks-one",
     "Both pairs show about the same amount of rotation.</think><answer>A</answer>", "A", PAIR, "yaw", ORDER,
     -1.0),
    ("scene-shift-and-camera-turn-are-different-actors",
     "The scene content shifts to the right, so the camera turned to the left. Overall the camera turned "
     "slightly left.</think><answer>true</answer>", "true", TF, "yaw", TURNED_LEFT, 1.0),
    ("direction-contradiction",
     "The camera turned left at first glance. Looking at the window, the camera turned right."
     "</think><answer>true</answer>", "true", TF, "yaw", "[]", -1.0),
    ("direction-contradicts-true-false-answer",
     "The shelf moves to the left of the frame, so the camera turned right.</think><answer>true</answer>",
     "true", TF, "yaw", TURNED_LEFT, -1.0),
    ("direction-supports-false",
     "The shelf moves to the left of the frame, so the camera turned right.</think><answer>false</answer>",
     "true", TF, "yaw", TURNED_LEFT, 1.0),
    ("self-correction-is-not-a-contradiction",
     "The camera turned left. Wait, actually, looking at the door again, the camera turned right."
     "</think><answer>false</answer>", "false", TF, "yaw", TURNED_LEFT, 1.0),
    ("hypotheticals-assert-nothing",
     "If the camera had turned left, the door would move right. The door moved left, so the camera turned "
     "right.</think><answer>false</answer>", "false", TF, "yaw", TURNED_LEFT, 1.0),
    ("negated-claims-assert-nothing",
     "The camera did not turn left; it turned right.</think><answer>false</answer>", "false", TF, "yaw",
     TURNED_LEFT, 1.0),
    ("camera-and-object-move-oppositely",
     "The camera moved left while the red cube moved right.</think><answer>true</answer>", "true", TF,
     "translation_lateral", "[]", 1.0),
    ("stationary-then-moving",
     "The camera stayed still in pair A. In pair A the camera moved forward.</think><answer>A</answer>", "A",
     PAIR, "camera_motion", "[]", -1.0),
    ("gripper-open-and-closed",
     "In pair A the gripper opened. In pair A the gripper closed.</think><answer>A</answer>", "A", PAIR,
     "gripper", "[]", -1.0),
    ("other-measure-is-another-quantity",
     "The translation in pair A is larger, but the rotation is larger in pair B.</think><answer>B</answer>",
     "B", PAIR, "yaw", ORDER, 1.0),
    ("canonical-names-agree",
     "Rotation 1->2 exceeds rotation 3→4, since A turned by 30 degrees.</think><answer>A</answer>", "A", PAIR,
     "yaw", ORDER, 1.0),
    ("image-question-larger-turn-in-image-3",
     "Image 3 shows a larger turn than image 2.</think><answer>A</answer>", "A", IMAGE, "yaw", ORDER, -1.0),
    ("comparative-without-than-uses-the-other-option",
     "The rotation in pair B is smaller.</think><answer>A</answer>", "A", PAIR, "yaw", ORDER, 1.0),
    ("letters-and-pairs-are-one-subject",
     "A moved left. Later on, pair A moved right.</think><answer>A</answer>", "A", PAIR,
     "translation_lateral", "[]", -1.0),
    ("letters-with-different-directions",
     "A moved left. B moved right.</think><answer>A</answer>", "A", PAIR, "translation_lateral", "[]", 1.0),
    ("appearance-is-not-motion",
     "The cube looks bigger in image 3.</think><answer>B</answer>", "B", IMAGE, "object_depth", ORDER, 0.0),
    ("no-relations",
     "I cannot tell much from these images.</think><answer>A</answer>", "A", PAIR, "yaw", ORDER, 0.0),
    ("the-answer-alone-earns-nothing",
     "</think><answer>A</answer>", "A", PAIR, "yaw", ORDER, 0.0),
    ("question-restated-is-no-claim",
     "The question asks in which pair the camera turned to the left. Which pair turned left?"
     "</think><answer>A</answer>", "A", PAIR, "yaw", "[]", 0.0),
]


@pytest.mark.parametrize("cid, completion, answer, options, attribute, relations, expected", LOGIC_CASES,
                         ids=[c[0] for c in LOGIC_CASES])
def test_logic_reward_rationales(cid, completion, answer, options, attribute, relations, expected):
    parse_rule = "true_false" if options == TF else "choice_letter"
    got = logic_reward(prompts=["q"], completions=[completion], answer=[answer], parse_rule=[parse_rule],
                       options=[options], attribute=[attribute], relations=[relations])
    assert got == [expected]


def test_logic_reward_table_is_balanced():
    values = [c[-1] for c in LOGIC_CASES]
    assert values.count(1.0) >= 6 and values.count(-1.0) >= 6 and values.count(0.0) >= 2


def test_logic_reward_accepts_parsed_relations_and_conversations():
    items = json.loads(ORDER)
    completion = msg("<answer>B</answer>", reasoning_content="Pair A rotated more than pair B.")
    got = logic_reward(completions=[completion], answer=["A"], parse_rule=["choice_letter"], options=[PAIR],
                       relations=[items])
    assert got == [-1.0]
    # Without a relations column the text is checked against itself only.
    assert logic_reward(completions=[completion], options=[PAIR]) == [1.0]


CANONICAL = [
    # (name, options, canonical)
    ("1→2", PAIR, "m12"), ("1->2", PAIR, "m12"), ("2->1", PAIR, "m12"), ("1-2", PAIR, "m12"),
    ("image 1 to image 2", PAIR, "m12"), ("images 1 and 2", PAIR, "m12"), ("m12", PAIR, "m12"),
    ("m_12", PAIR, "m12"), ("M_{12}", PAIR, "m12"), ("from 1 to 2", PAIR, "m12"),
    ("between images 1 and 2", IMAGE, "m12"),
    ("pair A", PAIR, "m12"), ("Pair B", PAIR, "m34"), ("A", PAIR, "m12"), ("B", PAIR, "m34"), ("mA", PAIR, "m12"),
    ("pairB", PAIR, "m34"), ("option B", PAIR, "m34"), ("(b)", PAIR, "m34"),
    ("A", IMAGE, "m12"), ("B", IMAGE, "m13"), ("mB", IMAGE, "m13"), ("image 3", IMAGE, "m13"),
    ("image 4", PAIR, "m34"), ("L1", None, "l1"),
    ("dir:pair A:yaw", PAIR, "dir:m12:camera:yaw"), ("yaw:leftward", None, "yaw:left"),
]


@pytest.mark.parametrize("name, options, expected", CANONICAL)
def test_canonical_names(name, options, expected):
    assert canonical_name(name, options) == expected


EXTRACT = [
    # (text, options, attribute, expected relations)
    ("Pair A moved more than pair B.", PAIR, "yaw", [("m12", ">", "m34")]),
    ("The rotation in pair B is smaller.", PAIR, "yaw", [("m34", "<", "m12")]),
    ("Pairs A and B show about the same rotation.", PAIR, "yaw", [("m12", "=", "m34")]),
    ("A's rotation is larger than B's.", PAIR, "yaw", [("m12", ">", "m34")]),
    ("A larger rotation appears in pair B.", PAIR, "yaw", [("m34", ">", "m12")]),
    ("The largest rotation is in pair B.", PAIR, "yaw", [("m34", ">", "m12")]),
    ("The rotation 1→2 is about 10 degrees, more than 5 degrees.", IMAGE, "yaw", []),
    ("The cube is smaller in image 3.", IMAGE, "object_depth", []),
    ("Image 2 is to the left.", IMAGE, "translation_lateral",
     [("dir:m12:camera:lateral", "=", "lateral:left"), ("dir:m12:camera:motion", "=", "motion:moving")]),
    ("The camera turned approximately 15.5 degrees to the left.", TF, "yaw",
     [("dir:m12:camera:yaw", "=", "yaw:left"), ("dir:m12:camera:motion", "=", "motion:moving")]),
    ("The object moved away from the camera.", TF, "object_depth",
     [("dir:m12:object:approach", "=", "approach:away"), ("dir:m12:object:motion", "=", "motion:moving")]),
    ("The camera didn't move at all.", TF, "camera_motion", [("dir:m12:camera:motion", "=", "motion:still")]),
    ("The door moved to the left, so the camera turned right.", TF, "yaw",
     [("dir:m12:thing:door:lateral", "=", "lateral:left"), ("dir:m12:thing:door:motion", "=", "motion:moving"),
      ("dir:m12:camera:yaw", "=", "yaw:right"), ("dir:m12:camera:motion", "=", "motion:moving")]),
    ("Is the camera turning left or right? Maybe left.", TF, "yaw", []),
    ("Between images 1 and 3 the camera rotated more than between images 1 and 2.", IMAGE, "yaw",
     [("m13", ">", "m12")]),
]


@pytest.mark.parametrize("text, options, attribute, expected", EXTRACT, ids=[e[0][:40] for e in EXTRACT])
def test_extract_claims(text, options, attribute, expected):
    assert extract_claims(text, options, attribute) == expected


@pytest.mark.parametrize("reasoning, answer, expected", [
    ("Pair B turned by about 40 degrees, pair A by 10, so pair A rotated less than pair B.", "A", 1.0),
    ("Pair B turned by about 40 degrees, pair A by 10, so pair A rotated less than pair B.", "B", -1.0),
    ("The rotation in pair B is larger.", "A", 1.0),
])
def test_logic_reward_with_the_question_generators_relations(reasoning, answer, expected):
    """The questions contract's form: a list of structs over the names A and B ("which pair's
    rotation is smaller?": answering A asserts A < B)."""
    relations = [{"if_answer": "A", "left": "A", "op": "<", "right": "B"},
                 {"if_answer": "B", "left": "B", "op": "<", "right": "A"}]
    got = logic_reward(completions=[f"{reasoning}</think><answer>{answer}</answer>"], answer=["A"],
                       parse_rule=["choice_letter"], options=[PAIR], attribute=["yaw"], relations=[relations])
    assert got == [expected]


def test_logic_reward_rejects_malformed_relations():
    for bad in ("{not json", '[{"if_answer": "A"}]', "[1, 2]"):
        with pytest.raises(ValueError, match="relations"):
            logic_reward(completions=["Pair A moved more than pair B.</think><answer>A</answer>"], options=[PAIR],
                         answer=["A"], parse_rule=["choice_letter"], relations=[bad])


def test_check_direction_and_order():
    assert check([("dir:m12:camera:yaw", "=", "yaw:left"), ("dir:m34:camera:yaw", "=", "yaw:right")])
    assert not check([("dir:m12:camera:yaw", "=", "yaw:left"), ("dir:m12:camera:yaw", "=", "yaw:right")])
    assert not check([("a", "=", "b"), ("b", "<", "c"), ("c", "<", "a")])


# --------------------------------------------------------------------------------------------
# Weights, and the call trl 1.16 makes
# --------------------------------------------------------------------------------------------

def test_default_weights_and_funcs():
    assert DEFAULT_WEIGHTS == (3.5, 3.5, 1.3, 1.7)
    funcs, weights = default_reward_funcs(target_tokens=123)
    assert [f.__name__ for f in funcs] == ["format_reward", "task_reward", "length_reward", "logic_reward"]
    assert weights == [3.5, 3.5, 1.3, 1.7]
    assert funcs[2].target_tokens == 123


def _batch():
    """A batch as trl's inputs: one dict per rollout, with the dataset's columns."""
    prompts = [msg("Which pair shows the larger rotation?")] * 4
    completions = [
        msg("Pair A rotated more than pair B.</think><answer>A</answer>"),
        msg("Pair A rotated more than pair B.</think><answer>B</answer>"),
        msg("Hmm.</think><answer>true</answer>"),
        msg("no format at all"),
    ]
    rows = [dict(answer="A", parse_rule="choice_letter", options=PAIR, relations=ORDER),
            dict(answer="A", parse_rule="choice_letter", options=PAIR, relations=ORDER),
            dict(answer="true", parse_rule="true_false", options=TF, relations="[]"),
            dict(answer="false", parse_rule="true_false", options=TF, relations="[]")]
    inputs = [dict(prompt=p, completion=c, completion_ids=[1, 2, 3], tolerance=None, question_type="x",
                   attribute="yaw", domain="navigation", triplet_id=f"t{i}", **row)
              for i, (p, c, row) in enumerate(zip(prompts, completions, rows, strict=True))]
    return inputs, prompts, completions, [[1, 2, 3]] * 4


EXPECTED = [[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, -1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_rewards_take_exactly_the_kwargs_trl_passes():
    """The keyword arguments of trl 1.16's GRPOTrainer._calculate_rewards, rebuilt by hand."""
    inputs, prompts, completions, ids = _batch()
    keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
    reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = SimpleNamespace(global_step=0)
    reward_kwargs["log_extra"] = lambda *a, **k: None
    reward_kwargs["log_metric"] = lambda *a, **k: None
    funcs, _ = default_reward_funcs(target_tokens=8)
    got = [f(prompts=prompts, completions=completions, completion_ids=ids, **reward_kwargs) for f in funcs]
    assert [list(row) for row in zip(*got, strict=True)] == EXPECTED


def test_trl_still_calls_rewards_that_way():
    """Guard against trl drift: the installed _calculate_rewards passes what the test above does."""
    spec = importlib.util.find_spec("trl.trainer.grpo_trainer")
    if spec is None or spec.origin is None:
        pytest.skip("trl is not installed")
    source = Path(spec.origin).read_text()
    body = source[source.index("def _calculate_rewards("):]
    body = body[: body.index("\n    def ", 10)]
    assert "reward_func(\n                        prompts=prompts, completions=completions, " \
           "completion_ids=completion_ids_list, **reward_kwargs" in body
    assert 'key not in ["prompt", "completion", "completion_ids"]' in body
    for extra in ('reward_kwargs["trainer_state"]', 'reward_kwargs["log_extra"]', 'reward_kwargs["log_metric"]'):
        assert extra in body


def test_trl_calculate_rewards_end_to_end():
    """Run trl 1.16's own GRPOTrainer._calculate_rewards on our rewards (no model: a stand-in trainer)."""
    pytest.importorskip("trl")
    from trl.trainer.grpo_trainer import GRPOTrainer

    funcs, weights = default_reward_funcs(target_tokens=8)
    trainer = SimpleNamespace(
        accelerator=SimpleNamespace(device="cpu", is_main_process=True),
        reward_funcs=funcs, reward_processing_classes=[None] * len(funcs),
        reward_func_names=[f.__name__ for f in funcs], state=SimpleNamespace(global_step=0),
        args=SimpleNamespace(report_to=[]), environments=None,
        _log_completion_extra=lambda *a, **k: None, _log_metric=lambda *a, **k: None,
    )
    inputs, prompts, completions, ids = _batch()
    per_func = GRPOTrainer._calculate_rewards(trainer, inputs, prompts, completions, ids)
    assert per_func.shape == (4, 4)
    assert [[0.0 if math.isnan(v) else v for v in row] for row in per_func.tolist()] == EXPECTED
    assert len(weights) == per_func.shape[1]
