"""GRPO reward functions: table-driven checks of each reward, and the call trl 1.16 makes."""

from __future__ import annotations

import collections
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
    VALUES,
    default_reward_funcs,
    format_reward,
    length_reward,
    logic_reward,
    make_length_reward,
    statements,
    task_reward,
)

PAIR = ["Pair A", "Pair B"]
IMAGE = ["Image 2", "Image 3"]
TF = ["true", "false"]
# The question generator's forms (remot_pipeline.core.questions): "in which pair was the rotation
# larger?" (pair A is m12, pair B m34), and "true or false: the camera turned to its left".
ORDER = json.dumps([{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"},
                    {"if_answer": "B", "left": "m34", "op": ">", "right": "m12"}])
TURNED_LEFT = json.dumps([{"if_answer": "true", "left": "m12", "op": "is", "right": "left"},
                          {"if_answer": "false", "left": "m12", "op": "is", "right": "right"}])
# "Which pair shows the gripper opening?" (three values: opening, closing, holding).
OPENING = json.dumps([{"if_answer": "A", "left": "m12", "op": "is", "right": "opening"},
                      {"if_answer": "A", "left": "m34", "op": "is_not", "right": "opening"},
                      {"if_answer": "B", "left": "m34", "op": "is", "right": "opening"},
                      {"if_answer": "B", "left": "m12", "op": "is_not", "right": "opening"}])


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
    """With the shared scoring's ``number`` rule (old releases): the tolerance reaches it."""
    completions = ["x</think><answer>about 30 degrees</answer>"] * 2
    got = task_reward(completions=completions, answer=["24 deg"] * 2, parse_rule=["number"] * 2,
                      tolerance=[10.0, 1.0])
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
# logic_reward: the notation (the thresholds on model-style text: tests/test_logic_corpus.py)
# --------------------------------------------------------------------------------------------

LOGIC_CASES = [
    # (id, completion, answer given, options, relations, expected)
    ("sizes-decide-the-comparison",
     "Pair A turns about 24 degrees [m12 = 24], pair B about 8 [m34 = 8], so [m12 > m34].</think>"
     "<answer>A</answer>", "A", PAIR, ORDER, 1.0),
    ("sizes-against-the-answer",
     "[m12 = 24] [m34 = 8]</think><answer>B</answer>", "B", PAIR, ORDER, -1.0),
    ("order-against-the-answer",
     "Pair A turned more. [m12 > m34]</think><answer>B</answer>", "B", PAIR, ORDER, -1.0),
    ("restating-the-answer-earns-nothing",
     "Pair A turned more. [m12 > m34]</think><answer>A</answer>", "A", PAIR, ORDER, 0.0),
    ("a-cycle",
     "[m12 > m13] [m13 > m14] [m14 > m12]</think><answer>A</answer>", "A", PAIR, "[]", -1.0),
    ("a-chain-without-relations-decides-nothing",
     "[m12 < m13 < m14]</think><answer>A</answer>", "A", PAIR, "[]", 0.0),
    ("equal-sizes-against-an-answer-that-picks-one",
     "Both pairs turn by about the same angle: [m12 = m34].</think><answer>A</answer>", "A", PAIR, ORDER, -1.0),
    ("self-correction-last-statement-wins",
     "At first glance [m12: left]. Wait, the shelf moved left in the image, so the camera turned right: "
     "[m12: right].</think><answer>false</answer>", "false", TF, TURNED_LEFT, 0.0),
    ("direction-against-the-answer",
     "The shelf slides left in the frame, so [m12: right].</think><answer>true</answer>", "true", TF,
     TURNED_LEFT, -1.0),
    ("prose-is-never-read",
     "The picture moved left, so the camera turned right. No, actually it turned left.</think>"
     "<answer>true</answer>", "true", TF, TURNED_LEFT, 0.0),
    ("a-value-beyond-the-answer-decides-it",
     "Pair A: the fingers close [m12: closing]; pair B: they open [m34: opening].</think><answer>B</answer>", "B",
     PAIR, OPENING, 1.0),
    ("only-the-restated-value",
     "[m34: opening]</think><answer>B</answer>", "B", PAIR, OPENING, 0.0),
    ("a-value-against-the-answer",
     "[m12: opening] [m34: closing]</think><answer>B</answer>", "B", PAIR, OPENING, -1.0),
    ("placeholders-and-reversed-names-are-not-statements",
     "The format is [mIJ > mKL]; note [m21 > m12] and [3 > 4].</think><answer>B</answer>", "B", PAIR, ORDER, 0.0),
    ("statements-inside-the-answer-are-not-read",
     "</think><answer>[m12 = 24] A</answer>", "A", PAIR, ORDER, 0.0),
    ("no-answer-asserts-nothing",
     "[m12 = 24] [m34 = 8]</think><answer>maybe</answer>", "A", PAIR, ORDER, 0.0),
    ("the-answer-alone-earns-nothing", "</think><answer>A</answer>", "A", PAIR, ORDER, 0.0),
]


@pytest.mark.parametrize("cid, completion, answer, options, relations, expected", LOGIC_CASES,
                         ids=[c[0] for c in LOGIC_CASES])
def test_logic_reward_cases(cid, completion, answer, options, relations, expected):
    parse_rule = "true_false" if options == TF else "choice_letter"
    got = logic_reward(prompts=["q"], completions=[completion], answer=[answer], parse_rule=[parse_rule],
                       options=[options], relations=[relations])
    assert got == [expected]


def test_logic_reward_table_is_balanced():
    values = [c[-1] for c in LOGIC_CASES]
    assert values.count(1.0) >= 2 and values.count(-1.0) >= 5 and values.count(0.0) >= 5


def test_logic_reward_accepts_parsed_relations_and_conversations():
    items = json.loads(ORDER)
    completion = msg("<answer>B</answer>", reasoning_content="Pair A rotated more. [m12 > m34]")
    got = logic_reward(completions=[completion], answer=["A"], parse_rule=["choice_letter"], options=[PAIR],
                       relations=[items])
    assert got == [-1.0]
    # Without a relations column the statements are checked against each other only.
    assert logic_reward(completions=[completion], options=[PAIR]) == [0.0]
    assert logic_reward(completions=[msg("[m12 > m34] [m34 > m13] [m13 > m12]</think><answer>A</answer>")]) \
        == [-1.0]


def test_statements():
    text = ("Let me define mIJ. [m12 > m34] hmm [M34 >m12 ] [m12 = 0.5] [m34: Left] [m34: sideways] [m34 : right] "
            "[m12 < m13 = m14] <answer>[m12: up]</answer>")
    assert statements(text) == [("m34", ">", "m12"), ("m12", "=", "0.5"), ("m34", "is", "right"),
                                ("m12", "<", "m13"), ("m13", "=", "m14")]
    # a value the question's relations name is a direction word even outside VALUES
    assert statements("[m12: sideways]", VALUES | {"sideways"}) == [("m12", "is", "sideways")]


def test_logic_reward_with_the_question_generators_relations():
    """Every question the generator writes: its own rationale never scores -1 against its answer;
    the comparatives' sizes earn +1; a rationale scored against another answer scores -1."""
    from remot_pipeline.core.questions import triplet_questions

    base = dict(episode_id="e", domain="simulation", split="train", object_color="red", positive_pair_id="e:1-5",
                negative_pair_id="e:1-9", anchor_frame_index=1, negative_anchor_frame_index=3,
                negative_transform="none", positive_motion={}, negative_motion={})
    triplets = [dict(base, attribute="yaw", positive_value="left", negative_value="right", positive_magnitude=-24.0,
                     negative_magnitude=8.0),
                dict(base, attribute="gripper", object_color=None, positive_value="opening",
                     negative_value="holding", positive_magnitude=0.03, negative_magnitude=0.002),
                dict(base, attribute="object_lateral", positive_value="right", negative_value="left",
                     positive_magnitude=0.4, negative_magnitude=-0.4, negative_anchor_frame_index=1)]
    seen = collections.Counter()
    for t in triplets:
        for i in range(12):
            for q in triplet_questions(dict(t, triplet_id=f"{t['attribute']}{i}"), seed=0):
                completion = f"<think>{q['rationale']}</think><answer>{q['answer']}</answer>"
                row = dict(answer=[q["answer"]], parse_rule=[q["parse_rule"]], options=[q["options"]],
                           relations=[json.dumps(q["relations"])])
                got = logic_reward(completions=[completion], **row)[0]
                seen[(q["question_type"], got)] += 1
                assert got >= 0.0, q["rationale"]
                assert (q["relations"] == []) == (q["parse_rule"] == "number_mra")
                others = {r["if_answer"] for r in q["relations"]} - {q["answer"]}
                for other in others:
                    wrong = completion.replace(f"<answer>{q['answer']}</answer>", f"<answer>{other}</answer>")
                    assert logic_reward(completions=[wrong], **row) == [-1.0], (q["rationale"], other)
    assert seen[("comparative", 1.0)] > 0 and seen[("comparative", 0.0)] == 0
    assert {qt for qt, _ in seen} == {"multiple_choice", "true_false", "fill_blank", "comparative"}


def test_logic_reward_rejects_malformed_relations():
    for bad in ("{not json", '[{"if_answer": "A"}]', "[1, 2]", '{"if_answer": "A"}'):
        with pytest.raises(ValueError, match="relations"):
            logic_reward(completions=["[m12 > m34]</think><answer>A</answer>"], options=[PAIR],
                         answer=["A"], parse_rule=["choice_letter"], relations=[bad])
    with pytest.raises(ValueError, match="unknown relation operator"):
        logic_reward(completions=["[m12 > m34]</think><answer>A</answer>"], options=[PAIR], answer=["A"],
                     parse_rule=["choice_letter"],
                     relations=['[{"if_answer": "A", "left": "m12", "op": "~", "right": "m34"}]'])


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
        msg("[m12 = 30] [m34 = 10]</think><answer>A</answer>"),
        msg("[m12 = 30] [m34 = 10]</think><answer>B</answer>"),
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



def test_quoting_the_scaffold_states_nothing():
    """The scaffold's examples are placeholders: a completion that copies them earns what one
    without claims earns, on every answer."""
    from remot_pipeline.core.questions import SCAFFOLD

    relations = json.dumps([{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"},
                            {"if_answer": "B", "left": "m34", "op": ">", "right": "m12"}])
    for answer in ("A", "B"):
        done = SCAFFOLD + f"</think><answer>{answer}</answer>"
        assert logic_reward(prompts=["q"], completions=[done], answer=["A"], parse_rule=["choice_letter"],
                            options=[["Pair A", "Pair B"]], relations=[relations], attribute=["yaw"]) == [0.0]
