"""A labelled corpus of thinking-model completions for measuring the logic reward.

    python bench/logic_corpus.py [--out bench/results/logic_corpus.jsonl]   # writes the corpus

Written by hand-authored templates, independently of the reward's code (this module imports
nothing from ``remot_train``): each completion is built from a *world* (what the writer of the
completion believes each motion did) and a *label* that says how the text treats it, and the
label is fixed by the template before any text is written.

Completions imitate Qwen3-VL-Thinking: they start inside the think block, think at length
("Let me look at the first pair..."), describe what moves in the image before concluding what the
camera did (the picture slides left, so the camera turned right), hedge, correct themselves
("Wait,", "Hmm, looking more carefully,", "No, that's backwards"), and write the scaffold's
notation (``[m12 > m34]``, ``[m12 = 24]``, ``[m12: left]``) with the spacing and case variations a
model produces.

Labels:

* ``sound``: every statement agrees with the writer's world, and the answer follows from it.
  The world is the truth, or in one case in five a wrong perception reasoned through
  consistently (consistent reasoning is not punished for being wrong: accuracy is the task
  reward's).
* ``self_correcting``: a statement from a wrong reading first, then a marked correction that
  restates it, and an answer that follows the correction.
* ``hedged``: uncertainty in the prose ("I think", "hard to tell", "probably"), statements (if
  any) that agree with the answer.
* ``contradictory``: the completion contradicts itself in the notation: its last statements
  against its answer, sizes against an order, or a cycle. A few (``notation: false``) contradict
  themselves only in prose; the reward reads only the notation, by design, and the bench reports
  them apart.
* ``gaming``: no reasoning beyond the answer: filler and statements that only restate the answer
  (its comparison, or its own direction), whatever the images show.
* ``no_claims``: reasoning in prose only, no notation (what the old grammar misread).

Each record: ``id``, ``label``, ``notation`` (does the text state its claims in the notation),
``question_type``, ``parse_rule``, ``options``, ``relations`` (what each answer asserts, written
here by hand in the questions contract's form), ``answer`` (the truth), ``completion``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("sound", "self_correcting", "hedged", "contradictory", "gaming", "no_claims")

OPENINGS = [
    "Okay, let me look at the images carefully.",
    "Let me start by understanding what the question is asking.",
    "Alright, I need to figure out how the camera moved between these views.",
    "First, I'll compare the images to see what changed.",
    "Hmm, let me think about this step by step.",
    "Let me carefully examine each image.",
]
SCENE = [
    "In image 1 there is a wooden shelf on the left and a window near the top right corner.",
    "The first image shows a kitchen counter with a white mug and a dark cabinet behind it.",
    "I can see a desk with a laptop, a lamp beside it, and a poster on the wall.",
    "There's a sofa in the background and a small plant near the bottom of the frame.",
    "The table with the red cube is in the middle of the frame, with the robot arm coming in from the top.",
    "The floor texture and the edge of the rug give a good sense of depth here.",
]
MUSINGS = [
    "I need to be careful about the frame of reference here: the question is about the camera, not about how "
    "things move in the picture.",
    "Let me compare the positions of fixed landmarks across the two images, since those only move because the "
    "camera does.",
    "The lighting is slightly different between the frames, but that shouldn't matter for the motion.",
    "One way to check is to look at the edges of the frame: what enters and what leaves the view.",
    "Objects near the camera shift more than distant ones, so I'll rely on the background for the rotation.",
    "I'll go through each pair separately and then put the observations together.",
]
HEDGES = ["I think", "It seems that", "Probably", "If I'm reading this right,", "It's a little hard to tell, but",
          "I'm not completely sure, but"]
CORRECTIONS = ["Wait, let me re-check that.", "Hmm, looking more carefully, that's not right.",
               "No, that's backwards.", "Let me re-evaluate.", "Actually, I misread the direction.",
               "On second thought, I had the frame of reference flipped."]
CLOSINGS = ["So my answer is {a}.", "Therefore the answer is {a}.", "That gives {a}.", "I'll go with {a}.",
            "So the answer should be {a}."]
FILLER = ["Let me give the final answer.", "I have considered the images.", "The answer is clear.",
          "Based on the images, I can answer.", "Okay."]

#: (value, how an image-space cue reads as that camera value, how prose names the value).
CUES = {
    "left": ("the scene slides toward the right edge of the frame", "the camera turned to its left"),
    "right": ("the shelf shifts toward the left side of the image", "the camera turned to its right"),
    "up": ("the horizon sinks toward the bottom of the frame", "the camera tilted upwards"),
    "down": ("the ceiling lamp disappears off the top while more floor comes into view", "the camera tilted downwards"),
    "opening": ("the gap between the fingers grows", "the gripper opened"),
    "closing": ("the fingers move toward each other", "the gripper closed"),
    "holding": ("the fingers stay around the cube with the same gap", "the gripper kept holding the cube"),
    "image_left": ("the red object is nearer the left border in the second image", "the object moved left in the image"),
    "image_right": ("the red object ends up nearer the right border", "the object moved right in the image"),
}


UNITS = {"degrees": "deg", "metres": "m"}
#: A statement about another axis than the question's, as a model adds in passing.
ASIDE = {"left": ("The camera also seems to have moved forward a little", "forward"),
         "up": ("There is a slight sideways drift to the left as well", "left"),
         "opening": ("The arm itself rises a bit too", "up")}


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass
class Scenario:
    """One question: its motions, what each answer asserts, and how a world answers it."""

    name: str
    question_type: str
    parse_rule: str
    options: list[str]
    relations: list[dict]
    truth: dict  # motion -> value (directions) or size (comparisons)
    answer_of: Callable[[dict], str]
    values: list[str] = field(default_factory=list)  # the attribute's values (directions)
    unit: str = ""
    cue: Callable[[str], str] = lambda v: v  # value -> CUES key

    @property
    def motions(self) -> list[str]:
        return list(self.truth)

    @property
    def sizes(self) -> bool:
        return not self.values


def _rel(answer: str, left: str, op: str, right: str) -> dict:
    return {"if_answer": answer, "left": left, "op": op, "right": right}


def _larger(a: str, b: str, more: bool) -> Callable[[dict], str]:
    return lambda w: "A" if (w[a] > w[b]) == more else "B"


def scenarios() -> list[Scenario]:
    """The questions of the corpus, one per question type and attribute family."""
    out = [
        Scenario("compare-yaw-larger", "comparative", "choice_letter", ["Pair A", "Pair B"],
                 [_rel("A", "m12", ">", "m34"), _rel("B", "m34", ">", "m12")], {"m12": 24.0, "m34": 8.0},
                 _larger("m12", "m34", True), unit="degrees"),
        Scenario("compare-translation-smaller", "comparative", "choice_letter", ["Pair A", "Pair B"],
                 [_rel("A", "m12", "<", "m13"), _rel("B", "m13", "<", "m12")], {"m12": 0.35, "m13": 0.9},
                 _larger("m12", "m13", False), unit="metres"),
        Scenario("tf-yaw-left", "true_false", "true_false", ["true", "false"],
                 [_rel("true", "m12", "is", "left"), _rel("false", "m12", "is", "right")], {"m12": "left"},
                 lambda w: "true" if w["m12"] == "left" else "false", values=["left", "right"]),
        Scenario("tf-pitch-up-false", "true_false", "true_false", ["true", "false"],
                 [_rel("true", "m12", "is", "up"), _rel("false", "m12", "is", "down")], {"m12": "down"},
                 lambda w: "true" if w["m12"] == "up" else "false", values=["up", "down"]),
        Scenario("tf-gripper-opening", "true_false", "true_false", ["true", "false"],
                 [_rel("true", "m12", "is", "opening"), _rel("false", "m12", "is_not", "opening")],
                 {"m12": "closing"}, lambda w: "true" if w["m12"] == "opening" else "false",
                 values=["opening", "closing", "holding"]),
        Scenario("mc-image-yaw-right", "multiple_choice", "choice_letter", ["Image 2", "Image 3"],
                 [_rel("A", "m12", "is", "right"), _rel("A", "m13", "is", "left"),
                  _rel("B", "m13", "is", "right"), _rel("B", "m12", "is", "left")], {"m12": "left", "m13": "right"},
                 lambda w: "A" if w["m12"] == "right" else "B", values=["left", "right"]),
        Scenario("mc-pair-object-left", "multiple_choice", "choice_letter", ["Pair A", "Pair B"],
                 [_rel("A", "m12", "is", "left"), _rel("A", "m34", "is", "right"),
                  _rel("B", "m34", "is", "left"), _rel("B", "m12", "is", "right")], {"m12": "left", "m34": "right"},
                 lambda w: "A" if w["m12"] == "left" else "B", values=["left", "right"],
                 cue=lambda v: f"image_{v}"),
        Scenario("mc-pair-gripper-opening", "multiple_choice", "choice_letter", ["Pair A", "Pair B"],
                 [_rel("A", "m12", "is", "opening"), _rel("A", "m34", "is_not", "opening"),
                  _rel("B", "m34", "is", "opening"), _rel("B", "m12", "is_not", "opening")],
                 {"m12": "holding", "m34": "opening"}, lambda w: "A" if w["m12"] == "opening" else "B",
                 values=["opening", "closing", "holding"]),
        Scenario("fill-pitch", "fill_blank", "categorical", ["down", "up"],
                 [_rel("down", "m12", "is", "down"), _rel("up", "m12", "is", "up")], {"m12": "up"},
                 lambda w: w["m12"], values=["up", "down"]),
    ]
    return out


def _wrong_world(s: Scenario, world: dict, rng: random.Random) -> dict:
    """A wrong but possible reading that changes the answer: sizes or the two options' values
    swapped (exactly one option still shows the asked motion), or the one motion read as
    another value."""
    if s.sizes or len(s.motions) == 2:
        a, b = s.motions
        return {a: world[b], b: world[a]}
    motion = s.motions[0]
    others = [v for v in s.values if v != world[motion] and s.answer_of({motion: v}) != s.answer_of(world)]
    return {motion: rng.choice(others)}


def _pair_name(motion: str, s: Scenario | None = None) -> str:
    if s is not None and "m13" in s.motions:
        return {"m12": "image 2", "m13": "image 3"}[motion]
    return {"m12": "pair A", "m34": "pair B", "m13": "image 3"}.get(motion, motion)


def _sp(text: str, rng: random.Random) -> str:
    """The notation with a model's spacing and case variations."""
    r = rng.random()
    if r < 0.15:
        return text.replace(" ", "")
    if r < 0.25:
        return text.replace("[", "[ ").replace("]", " ]")
    if r < 0.32:
        return text.replace("m", "M", 1)
    return text


def _statements(s: Scenario, world: dict, rng: random.Random, with_order: bool = True) -> list[str]:
    """Notation for a world: sizes (and their order), or each motion's direction."""
    if s.sizes:
        a, b = s.motions
        unit = rng.choice(["", "", f" {UNITS[s.unit]}"])  # a model may write the unit
        out = [_sp(f"[{a} = {_fmt(world[a])}{unit}]", rng), _sp(f"[{b} = {_fmt(world[b])}{unit}]", rng)]
        if with_order:
            out.append(_sp(f"[{a} {'>' if world[a] > world[b] else '<'} {b}]", rng))
        return out
    return [_sp(f"[{m}: {world[m]}]", rng) for m in s.motions]


def _prose(s: Scenario, world: dict, motion: str, rng: random.Random) -> str:
    """What the model sees and concludes about one motion, in prose."""
    name = _pair_name(motion, s) if len(s.motions) > 1 else "the move from image 1 to image 2"
    if s.sizes:
        return rng.choice([
            f"In {name} the view changes by roughly {_fmt(world[motion])} {s.unit}, judging by how far the "
            f"door frame travels across the image.",
            f"For {name}, the landmarks shift noticeably; I estimate about {_fmt(world[motion])} {s.unit}.",
            f"Looking at {name}: the motion looks like about {_fmt(world[motion])} {s.unit}.",
        ])
    seen, concluded = CUES[s.cue(world[motion])]
    return rng.choice([
        f"In {name}, {seen}, so {concluded}.",
        f"Looking at {name}: {seen}. Since the picture moves the opposite way to the camera, {concluded}.",
        f"For {name}, {seen}; that means {concluded}.",
    ])


def _think(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p)


def _complete(think: str, answer: str, rng: random.Random) -> str:
    tail = rng.choice(["", "\n"])
    return f"{think}\n</think>\n\n<answer>{answer}</answer>{tail}"


def _sound(s: Scenario, world: dict, rng: random.Random) -> str:
    stated = _statements(s, world, rng, with_order=rng.random() < 0.6)
    parts = [rng.choice(OPENINGS), *rng.sample(SCENE, 2), *rng.sample(MUSINGS, 2)]
    for motion, st in zip(s.motions, stated):
        if rng.random() < 0.25:  # a hypothesis in the notation, rejected and restated
            other = _wrong_world(s, world, rng)
            parts.append(f"Suppose {_statements(s, other, rng)[s.motions.index(motion)]}; then the view would "
                         f"change the other way. That is not what I see.")
        parts.append(_prose(s, world, motion, rng) + " " + st)
    if len(stated) > len(s.motions):
        parts.append(f"Comparing the two: {stated[-1]}.")
    if not s.sizes and rng.random() < 0.3:
        aside, value = ASIDE[next(k for k in ASIDE if k in s.values)]
        parts.append(f"{aside} {_sp(f'[{s.motions[0]}: {value}]', rng)}, but that is not what is asked.")
    if rng.random() < 0.4:
        parts.append("A general rule: when the camera turns one way, the scene appears to move the other way.")
    answer = s.answer_of(world)
    parts.append(rng.choice(CLOSINGS).format(a=answer))
    return _complete(_think(parts), answer, rng)


def _self_correcting(s: Scenario, world: dict, rng: random.Random) -> str:
    motion = rng.choice(s.motions)
    wrong = _wrong_world(s, world, rng)
    parts = [rng.choice(OPENINGS), *rng.sample(SCENE, 2), *rng.sample(MUSINGS, 2)]
    parts.append(_prose(s, wrong, motion, rng) + " " + " ".join(_statements(s, wrong, rng)))
    parts.append(rng.choice(CORRECTIONS))
    parts.append(_prose(s, world, motion, rng) + " " + " ".join(_statements(s, world, rng)))
    if rng.random() < 0.5:
        parts.append("Let me double-check the other one too. Yes, that part was fine.")
    answer = s.answer_of(world)
    parts.append(rng.choice(CLOSINGS).format(a=answer))
    return _complete(_think(parts), answer, rng)


def _hedged(s: Scenario, world: dict, rng: random.Random) -> str:
    parts = [rng.choice(OPENINGS), *rng.sample(SCENE, 2), *rng.sample(MUSINGS, 2),
             "The images are a bit blurry and the motion is small, so this is not easy."]
    with_notation = rng.random() < 0.7
    # one in four two-option direction questions: a hedge written in the notation, about the
    # first option, which the completion then never states again
    unresolved = len(s.motions) == 2 and not s.sizes and rng.random() < 0.25
    for i, (motion, st) in enumerate(zip(s.motions, _statements(s, world, rng))):
        if unresolved and i == 0:
            other = _wrong_world(s, world, rng)
            parts.append(f"For {_pair_name(motion, s)}, maybe {_sp(f'[{motion}: {other[motion]}]', rng)}? Hard to say "
                         f"from this view; let me look at the other one.")
            continue
        said = _prose(s, world, motion, rng)
        line = f"{rng.choice(HEDGES)} {said[0].lower()}{said[1:]}"
        parts.append(line + (f" Tentatively {st}." if with_notation or unresolved else ""))
    parts.append(rng.choice(["I can't be fully certain, but I'll commit to this.",
                             "It could go either way, but the evidence leans one direction.",
                             "I might be overthinking it."]))
    answer = s.answer_of(world)
    parts.append(rng.choice(CLOSINGS).format(a=answer))
    return _complete(_think(parts), answer, rng)


def _contradictory(s: Scenario, world: dict, rng: random.Random, kind: str) -> tuple[str, bool]:
    """(completion, written in the notation). ``kind``: answer | order | cycle | prose."""
    parts = [rng.choice(OPENINGS), *rng.sample(SCENE, 2), *rng.sample(MUSINGS, 2)]
    if kind == "answer":  # the statements read one world, the answer another
        for motion, st in zip(s.motions, _statements(s, world, rng)):
            parts.append(_prose(s, world, motion, rng) + " " + st)
        answer = rng.choice([a for a in _answers(s) if a != s.answer_of(world)])
    elif kind == "order":  # sizes against the stated order (sizes questions only)
        a, b = s.motions
        parts.append(_prose(s, world, a, rng) + " " + _sp(f"[{a} = {_fmt(world[a])}]", rng))
        parts.append(_prose(s, world, b, rng) + " " + _sp(f"[{b} = {_fmt(world[b])}]", rng))
        op = "<" if world[a] > world[b] else ">"
        parts.append(f"So the motion in {_pair_name(a, s)} is the {'smaller' if op == '<' else 'larger'} one: "
                     + _sp(f"[{a} {op} {b}]", rng))
        answer = rng.choice(_answers(s))
    elif kind == "cycle":  # three motions in a cycle
        parts.append("Let me also relate the extra views: " + _sp("[m12 > m13]", rng) + ", and "
                     + _sp("[m13 > m14]", rng) + ". But the last one is the largest of all: " + _sp("[m14 > m12]", rng))
        answer = s.answer_of(world)
    else:  # prose only: the reward does not read it
        motion = s.motions[0]
        parts.append(_prose(s, world, motion, rng))
        parts.append("That settles the first part.")
        answer = rng.choice([a for a in _answers(s) if a != s.answer_of(world)])
    parts.append(rng.choice(CLOSINGS).format(a=answer))
    return _complete(_think(parts), answer, rng), kind != "prose"


def _restatement(s: Scenario, answer: str) -> list[str]:
    """Statements that only restate what ``answer`` asserts (from the hand-written relations)."""
    return [f"[{r['left']} {r['op']} {r['right']}]" if r["op"] in "<>=" else f"[{r['left']}: {r['right']}]"
            for r in s.relations if r["if_answer"] == answer and r["op"] != "is_not"]


def _answers(s: Scenario) -> list[str]:
    return sorted({r["if_answer"] for r in s.relations})


def _gaming(s: Scenario, rng: random.Random) -> str:
    answer = rng.choice([a for a in _answers(s) if _restatement(s, a)])
    stated = _restatement(s, answer)
    stated = stated if rng.random() < 0.5 else stated[:1]
    parts = [rng.choice(FILLER)] + ([rng.choice(FILLER)] if rng.random() < 0.5 else [])
    parts.append(rng.choice(["Claim: ", "Stating my reasoning: ", "", "Relation: "])
                 + " ".join(_sp(x, rng) for x in stated))
    return _complete(_think(parts), answer, rng)


def _no_claims(s: Scenario, world: dict, rng: random.Random) -> str:
    parts = [rng.choice(OPENINGS), *rng.sample(SCENE, 2), *rng.sample(MUSINGS, 2)]
    for motion in s.motions:
        parts.append(_prose(s, world, motion, rng))
    if rng.random() < 0.5:
        parts.append(rng.choice(CORRECTIONS) + " " + _prose(s, world, s.motions[0], rng))
    answer = s.answer_of(world)
    parts.append(rng.choice(CLOSINGS).format(a=answer))
    return _complete(_think(parts), answer, rng)


def build(per_label: int = 6, seed: int = 0) -> list[dict]:
    """The corpus: ``per_label`` completions per label per scenario (contradictions: each kind
    that applies), seeded."""
    rng = random.Random(seed)
    records = []
    for s in scenarios():
        truth_answer = s.answer_of(s.truth)
        base = dict(question_type=s.question_type, parse_rule=s.parse_rule, options=s.options,
                    relations=s.relations, answer=truth_answer)

        def add(label: str, completion: str, notation: bool = True) -> None:
            records.append(dict(id=f"{s.name}/{label}/{len(records)}", label=label, notation=notation,
                                completion=completion, **base))

        for i in range(per_label):
            # one in five sound completions reasons consistently from a wrong perception
            world = s.truth if i % 5 else _wrong_world(s, s.truth, rng)
            add("sound", _sound(s, world, rng))
            add("self_correcting", _self_correcting(s, s.truth, rng))
            add("hedged", _hedged(s, s.truth, rng))
            add("gaming", _gaming(s, rng))
            add("no_claims", _no_claims(s, s.truth, rng), notation=False)
        kinds = ["answer"] * per_label + (["order"] * (per_label // 2) if s.sizes else []) + ["cycle", "prose"]
        for kind in kinds:
            completion, notation = _contradictory(s, s.truth, rng, kind)
            add("contradictory", completion, notation)
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/logic_corpus.jsonl")
    ap.add_argument("--per-label", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    records = build(args.per_label, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in records))
    counts = {label: sum(r["label"] == label for r in records) for label in LABELS}
    print(f"{len(records)} completions -> {args.out}: {counts}")


if __name__ == "__main__":
    main()
