"""GRPO reward functions on a rollout-sized batch: our four rewards next to trl's own format reward.

    python bench/bench_rewards.py [--n 4096] [--tokens 300] [--repeats 5] [--seed 0]
                                  [--workload realistic|dense|both]

Target: each reward well under 50 ms per 1,000 completions of ~300 tokens (they run on every
GRPO step, on every rollout).

Workload (synthetic, generated here, seeded): ``--n`` conversational completions
(``[{"role": "assistant", "content": ...}]``, the form trl passes for chat prompts) of about
``--tokens`` whitespace tokens. Each is a thinking-model completion: reasoning that starts
inside the think block, then ``</think>`` and an answer block; 7% are malformed (no
``</think>``, two answers, trailing text). Each rollout has a hidden "world" (each pair's turn
and shift direction, which pair moved more) and its claims are drawn from it: directions with
actors, comparisons with ``than``, hypotheticals, revisions, most of them followed by the
scaffold's notation (``[m12: left]``, ``[m12 > m34]``), which is all the logic reward reads.
Three rollouts in ten contradict themselves at most once.

* ``realistic``: 30% of the sentences are such claims, the rest scene descriptions (objects,
  positions, "left side of the table", appearance), as a thinking model writes them.
* ``dense``: every sentence is a claim, a stress test of the logic reward's parser.

Rows cycle through pair questions, image questions, true/false questions and numeric
(``number_mra``, graded by mean relative accuracy) questions, with the matching ``answer``,
``parse_rule``, ``options``, ``attribute`` and ``relations`` columns.

Each reward is called exactly as trl 1.16's ``GRPOTrainer._calculate_rewards`` calls it
(``prompts=, completions=, completion_ids=`` plus every dataset column and ``trainer_state``,
``log_extra``, ``log_metric``), ``--repeats`` times, interleaved with
``trl.rewards.think_format_reward`` (trl 1.16's only format reward, called with ``completions``
as its signature asks) in the same process. The table shows, for the whole batch, the minimum
and median wall time and the minimum CPU time, the wall time per 1,000 completions, and the
ratio to trl's reward. trl's reward returns 0 throughout: it wants the completion to *open*
with ``<think>``, which a thinking model's completion does not (the prompt opens the block).
The machine may be shared, hence minimum and CPU time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from trl.rewards import think_format_reward

from remot_train.rewards import default_reward_funcs

PAIR = ["Pair A", "Pair B"]
IMAGE = ["Image 2", "Image 3"]
TF = ["true", "false"]
RELATIONS = json.dumps([{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"},
                        {"if_answer": "B", "left": "m12", "op": "<", "right": "m34"}])
MOTION = {"pair A": "m12", "pair B": "m34"}

NOUNS = ["table", "chair", "window", "door", "laptop", "shelf", "lamp", "plant", "box", "mug", "poster", "cabinet",
         "bowl", "towel", "counter", "sofa", "rug", "bottle", "drawer", "curtain"]
ADJS = ["wooden", "white", "dark", "small", "large", "metal", "striped", "blue", "round", "tall"]
SUBJECTS = ["pair A", "pair B", "image 2", "image 3", "1→2", "1->3", "m12", "m34", "A", "B", "the first pair",
            "image 1 to image 2"]
DIR_WORDS = {"yaw": ("turned", "panned", "rotated"), "lateral": ("moved", "shifted", "slid")}
DIR_VALUES = ("left", "right")
MEASURES = ["rotation", "motion", "turn", "movement"]


def descriptive(rng: random.Random) -> str:
    """A scene description: positions, appearance, no motion claim (most of a real rationale)."""
    n1, n2, n3 = rng.sample(NOUNS, 3)
    k = rng.randint(1, 4)
    forms = [
        f"In image {k}, there is a {rng.choice(ADJS)} {n1} on the {rng.choice(DIR_VALUES)} side of the {n2}, "
        f"and a {rng.choice(ADJS)} {n3} near the top of the frame",
        f"The {n1} in the background looks {rng.choice(ADJS)}, and the {n2} is partially hidden behind the {n3}",
        f"I can see the {n1} more clearly in image {k}, which may be due to the lighting",
        f"Let me compare the positions of the {n1} and the {n2} across the two images carefully",
        f"The {n1} takes up roughly a third of the frame, with the {rng.choice(ADJS)} {n2} just to its "
        f"{rng.choice(DIR_VALUES)} and the {n3} further back",
        f"Looking at the edges of the frame, the {n1} and the {n2} are the most useful landmarks here",
        f"The floor texture and the {n1} give a good sense of depth in image {k}",
    ]
    return rng.choice(forms) + "."


def claim(rng: random.Random, world: dict, lie: bool) -> str:
    """A motion claim about the rollout's world (a direction or an order), false when ``lie``."""
    s, t = rng.sample(["pair A", "pair B"], 2)
    kind = rng.random()
    if kind < 0.45:
        axis = rng.choice(sorted(DIR_WORDS))
        value = world[(s, axis)]
        if lie:
            value = "left" if value == "right" else "right"
        actor = rng.choice(["the camera", "the view", "it", "the camera view"])
        note = f" [{MOTION[s]}: {value}]" if rng.random() < 0.6 else ""  # the scaffold's notation, usually
        return f"So in {s}, {actor} {rng.choice(DIR_WORDS[axis])} {rng.choice(['', 'slightly ', 'to the '])}{value}.{note}"
    bigger = world["bigger"]
    word, small = ("larger", "smaller") if rng.random() < 0.5 else ("more", "less")
    if kind < 0.75:
        first = s
        comp = word if (s == bigger) != lie else small
        verb = "is" if word == "larger" else "shows"
        op = ">" if comp in ("larger", "more") else "<"
        note = f" [{MOTION[first]} {op} {MOTION[t]}]" if rng.random() < 0.6 else ""
        return (f"The {rng.choice(MEASURES)} in {first} {verb} {comp} than in {t}, about {rng.randint(3, 30)} "
                f"degrees.{note}")
    if kind < 0.85:
        a, b = ("m12", "m34") if bigger == "pair A" else ("m34", "m12")
        if lie:
            a, b = b, a
        return f"Numerically, [{a} > {b}]."
    if kind < 0.93:
        return (f"If the camera in {s} had turned {rng.choice(DIR_VALUES)}, the {rng.choice(NOUNS)} would shift "
                "the other way.")
    verb, axis = rng.choice([("turned", "yaw"), ("moved", "lateral")])
    return f"Wait, actually the camera in {s} {verb} {world[(s, axis)]}. [{MOTION[s]}: {world[(s, axis)]}]"


def completion(rng: random.Random, tokens: int, answer: str, dense: bool) -> str:
    world = {(p, a): rng.choice(DIR_VALUES) for p in ("pair A", "pair B") for a in DIR_WORDS}
    world["bigger"] = rng.choice(["pair A", "pair B"])
    liar = rng.random() < 0.3  # a rollout that contradicts itself once
    parts, n, lied = [], 0, False
    while n < tokens:
        if dense or rng.random() < 0.3:
            lie = liar and not lied and rng.random() < 0.3
            lied |= lie
            text = claim(rng, world, lie)
        else:
            text = descriptive(rng)
        parts.append(text)
        n += len(text.split())
    think = " ".join(parts)
    r = rng.random()
    if r < 0.03:
        return think + f"\n<answer>{answer}</answer>"  # never closed the think block
    if r < 0.05:
        return think + f"</think>\n<answer>{answer}</answer><answer>{answer}</answer>"
    if r < 0.07:
        return think + f"</think>\n<answer>{answer}</answer> That is my answer."
    return think + f"\n</think>\n\n<answer>{answer}</answer>"


def workload(n: int, tokens: int, seed: int, dense: bool = False) -> tuple[list, list, dict]:
    rng = random.Random(seed)
    prompts, completions = [], []
    columns: dict[str, list] = {k: [] for k in ("answer", "parse_rule", "options", "tolerance", "question_type",
                                                "attribute", "relations", "domain")}
    for i in range(n):
        kind = i % 4
        options = (PAIR, IMAGE, TF, [])[kind]

        def draw(kind=kind):
            if kind == 3:
                return f"{rng.randint(5, 60)} deg"
            return rng.choice(["A", "B"]) if kind < 2 else rng.choice(TF)

        prompts.append([{"role": "user", "content": "Which pair shows the larger rotation?"}])
        completions.append([{"role": "assistant", "content": completion(rng, tokens, draw(), dense)}])
        columns["answer"].append(draw())
        columns["parse_rule"].append(("choice_letter", "choice_letter", "true_false", "number_mra")[kind])
        columns["options"].append(options)
        columns["tolerance"].append(None)
        columns["question_type"].append(("multiple_choice", "multiple_choice", "true_false", "fill_blank")[kind])
        columns["attribute"].append(rng.choice(["yaw", "translation_lateral", "ee_lateral", "camera_motion"]))
        columns["relations"].append(RELATIONS if kind < 2 else "[]")
        columns["domain"].append(rng.choice(["navigation", "manipulation", "simulation"]))
    return prompts, completions, columns


def run(label: str, n: int, tokens: int, repeats: int, seed: int, dense: bool) -> None:
    prompts, completions, columns = workload(n, tokens, seed, dense)
    mean_tokens = statistics.mean(len(c[0]["content"].split()) for c in completions)
    funcs, weights = default_reward_funcs(target_tokens=tokens)
    # Exactly the keyword arguments trl 1.16's _calculate_rewards passes to a sync reward function.
    trl_kwargs = dict(prompts=prompts, completions=completions, completion_ids=[[0] * 8] * n, **columns,
                      trainer_state=None, log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None)
    names = ["trl.think_format_reward"] + [f.__name__ for f in funcs]
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    outputs: dict[str, list] = {}
    calls = [("trl.think_format_reward", lambda: think_format_reward(completions))]
    calls += [(f.__name__, lambda f=f: f(**trl_kwargs)) for f in funcs]
    for _ in range(repeats):
        for name, call in calls:  # interleaved, so that load on the machine hits every reward alike
            t, c = time.perf_counter(), time.process_time()
            outputs[name] = call()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)

    base = min(wall["trl.think_format_reward"])
    print(f"\n[{label}] {n} completions, mean {mean_tokens:.0f} whitespace tokens, {repeats} repeats")
    print(f"{'reward':26s} {'min ms':>8s} {'median ms':>10s} {'cpu ms':>8s} {'ms/1000':>8s} {'x trl fmt':>9s}"
          "  mean value")
    for fname in names:
        best = min(wall[fname])
        values = [v for v in outputs[fname] if v is not None]
        print(f"{fname:26s} {best * 1e3:8.1f} {statistics.median(wall[fname]) * 1e3:10.1f} "
              f"{min(cpu[fname]) * 1e3:8.1f} {best * 1e3 * 1000 / n:8.1f} {best / base:9.1f}  "
              f"{statistics.mean(values):+.3f}")
    logic = outputs["logic_reward"]
    print("logic reward: " + ", ".join(f"{v:+.0f}: {logic.count(v)}" for v in (-1.0, 0.0, 1.0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workload", choices=("realistic", "dense", "both"), default="both")
    args = ap.parse_args()
    _, weights = default_reward_funcs(target_tokens=args.tokens)
    print(f"weights (format, accuracy, conciseness, logic): {weights}")
    for name in ("realistic", "dense"):
        if args.workload in (name, "both"):
            run(name, args.n, args.tokens, args.repeats, args.seed, dense=name == "dense")


if __name__ == "__main__":
    main()
