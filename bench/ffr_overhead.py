"""FFR's reward overhead against its training step, on the tiny model, in one process.

    python bench/ffr_overhead.py [--recipe cpu-demo/ffr] [--warmup 1] [--steps 4] [--tokens 1500]
                                 [--json bench/results/ffr_overhead.json]

What it measures (issue 15's acceptance: "the reward overhead stays negligible against a step"):

1. **A real FFR run.** The recipe's model (``model: tiny``: the real Qwen3-VL vocabulary, random
   weights), rewards (the RIR in ``task_reward``'s place, :func:`remot_train.trainers.ffr.recipe_rewards`),
   teacher and trainer arguments, on toy rows, ``--warmup + --steps`` steps. The untrained model
   never answers correctly, so every group is patched and repaired: FFR's worst case, where the
   rewards run on the ``B`` rollouts (trl) and again on ``G + K`` candidates per group (FFR's
   choice), and every candidate is judged right or wrong (``score``, as evaluation does). Per step
   a ``TrainerCallback`` takes the step's wall time, and the reward functions (each wrapped in a
   timer that keeps its name and tells trl's calls from FFR's), FFR's candidate scoring (its
   reward calls and the weighting), the judge, the teacher and the repair generation charge their
   time to the step in progress. The table: per step, the step time and each part, and **reward
   overhead = (trl's reward calls + FFR's candidate scoring + judge) / step time**; the warm-up
   steps are left out.
2. **Thinking-length text.** The tiny model writes 32 tokens; a thinking model writes thousands.
   The same reward functions and judge are timed on a step's worth of synthetic thinking-model
   completions of ``--tokens`` words (``bench/bench_rewards.py``'s generator: reasoning with
   claims and scene descriptions, then ``</think>`` and an answer), in the shape of the
   ``qwen3-vl-4b-thinking/ffr`` recipe when every group fails: 16 rollouts scored by trl, then 4
   groups x (4 + 2) candidates scored by FFR, 40 judgements. This is an absolute time per step:
   no GPU step was timed next to it here.

The thinking-length part reports CPU time next to wall time, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _charge(clock, name: str, t0: float) -> None:
    clock.add_reward(name, time.perf_counter() - t0)


class TimedReward:
    """A reward function that charges its wall time to the clock's current step, as ``trl:<name>``
    when trl calls it (the batch's rewards) or ``ffr:<name>`` inside FFR's candidate scoring; it
    keeps the function's ``__name__`` (trl logs ``rewards/<__name__>/mean``)."""

    def __init__(self, func, clock):
        self.func, self.clock = func, clock
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            where = "ffr" if getattr(self.clock, "in_ffr_scoring", False) else "trl"
            self.clock.add_reward(f"{where}:{self.__name__}", time.perf_counter() - t0)
            if kwargs.get("completions"):
                from remot_train.rewards import completion_text

                self.clock.chars.append(statistics.fmean(len(completion_text(c)) for c in kwargs["completions"]))


def timed_trainer(clock):
    """``FFRTrainer`` that charges its judge, candidate scoring, teacher and repair generation
    to the clock's current step (the reward functions charge themselves, :class:`TimedReward`)."""
    from remot_train.trainers.ffr import FFRTrainer

    class Timed(FFRTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            review = self.teacher.review

            def timed_review(*a, **k):
                t0 = time.perf_counter()
                try:
                    return review(*a, **k)
                finally:
                    _charge(clock, "teacher", t0)

            self.teacher.review = timed_review

        def _is_correct(self, row, completion):
            t0 = time.perf_counter()
            try:
                return super()._is_correct(row, completion)
            finally:
                _charge(clock, "judge", t0)

        def _scores(self, *args, **kwargs):
            t0 = time.perf_counter()
            clock.in_ffr_scoring = True
            try:
                return super()._scores(*args, **kwargs)
            finally:
                clock.in_ffr_scoring = False
                _charge(clock, "ffr candidate scoring", t0)

        def _repair(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return super()._repair(*args, **kwargs)
            finally:
                _charge(clock, "repair generation", t0)

    return Timed


def run_training(opts, grpo_bench) -> dict:
    from remot_train.recipes import load_recipe, model_for, resolve_rewards
    from remot_train.trainers.ffr import ffr, make_teacher, recipe_rewards
    from remot_train.trainers.toy import toy_rows

    recipe = load_recipe(opts.recipe)
    section = recipe["ffr"]
    funcs, weights = recipe_rewards(recipe, *resolve_rewards(recipe))
    clock = grpo_bench.StepClock()
    timed = [TimedReward(f, clock) for f in funcs]
    args = {**recipe["grpo"], "max_steps": opts.warmup + opts.steps, "save_strategy": "no", "logging_steps": 1,
            "seed": 0}
    args.pop("save_steps", None), args.pop("save_total_limit", None)
    size = int((recipe.get("tiny") or {}).get("image_size", 64))
    rows = toy_rows(args["per_device_train_batch_size"] * 2, seed=0, size=size, with_completion=False)
    with tempfile.TemporaryDirectory() as tmp:
        model = model_for(recipe, Path(tmp))
        t0 = time.perf_counter()
        result = ffr(str(model), rows, Path(tmp) / "ffr", reward_funcs=timed, reward_weights=weights,
                     teacher=make_teacher(section.get("teacher", "metadata"), **(section.get("teacher_options") or {})),
                     kappa=float(section.get("kappa", 0.3)), repairs=int(section.get("repairs", 2)),
                     threshold=section.get("threshold"), alignment_weight=float(section.get("alignment_weight", 0.0)),
                     args=args, trainer_cls=timed_trainer(clock), callbacks=[clock.callback()], resume=False)
        wall = time.perf_counter() - t0
    names = [f.__name__ for f in timed]
    steps = []
    for s in clock.steps[opts.warmup:]:
        r = s["rewards"]
        trl_rewards = sum(r.get(f"trl:{n}", 0.0) for n in names)
        ffr_scoring, judge = r.get("ffr candidate scoring", 0.0), r.get("judge", 0.0)
        steps.append({"step": s["step"], "step_s": s["seconds"], "trl_rewards_s": trl_rewards,
                      "ffr_candidate_scoring_s": ffr_scoring, "judge_s": judge,
                      "teacher_s": r.get("teacher", 0.0), "repair_generation_s": r.get("repair generation", 0.0),
                      "per_function_s": {k: v for k, v in r.items() if k.startswith(("trl:", "ffr:"))},
                      "overhead": (trl_rewards + ffr_scoring + judge) / s["seconds"]})
    history = [e for e in result.log_history if "loss" in e][opts.warmup:]
    return {"recipe": opts.recipe, "reward_funcs": names, "reward_weights": list(weights),
            "batch": args["per_device_train_batch_size"], "num_generations": args["num_generations"],
            "repairs": int(section.get("repairs", 2)), "max_completion_length": args["max_completion_length"],
            "steps": steps, "wall_s": wall,
            "intervention_rate": [e.get("ffr/intervention_rate") for e in history],
            "swaps": [e.get("ffr/swaps") for e in history],
            "mean_completion_chars": statistics.fmean(clock.chars) if clock.chars else None}


def run_thinking_length(opts, rewards_bench) -> dict:
    """The reward functions and the judge on one worst-case step of thinking-length text (module doc)."""
    from remot_train.recipes import load_recipe, resolve_rewards
    from remot_train.rewards import completion_text
    from remot_train.rewards.task import score_row
    from remot_train.trainers.ffr import recipe_rewards

    recipe = load_recipe("qwen3-vl-4b-thinking/ffr")
    funcs, _ = recipe_rewards(recipe, *resolve_rewards(recipe))
    B, G, K = 16, int(recipe["grpo"]["num_generations"]), int(recipe["ffr"]["repairs"])
    calls = [B] + [G + K] * (B // G)  # trl's call, then one call per failed group
    prompts, completions, columns = rewards_bench.workload(sum(calls), opts.tokens, seed=0)
    columns = {**columns, "patch": [None] * len(completions), "assisted": [False] * len(completions)}
    times = []
    for _ in range(opts.repeats):
        t0, c0, start = time.perf_counter(), time.process_time(), 0
        for n in calls:
            part = slice(start, start + n)
            cols = {k: v[part] for k, v in columns.items()}
            for f in funcs:
                f(prompts=prompts[part], completions=completions[part], completion_ids=None, **cols)
            start += n
        for j, c in enumerate(completions):  # 16 judgements in the trigger check, 24 in the choice
            score_row(completion_text(c), columns["answer"][j], columns["parse_rule"][j], columns["options"][j])
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    words = statistics.fmean(len(completion_text(c).split()) for c in completions)
    return {"completions_scored": sum(calls), "judgements": len(completions), "mean_words": words,
            "reward_funcs": [f.__name__ for f in funcs],
            "step_reward_s_min": min(t for t, _ in times), "step_reward_s_median": statistics.median(t for t, _ in times),
            "step_reward_cpu_s_min": min(c for _, c in times)}


def markdown(train: dict, thinking: dict) -> str:
    lines = [f"FFR reward overhead, recipe `{train['recipe']}` (tiny model, CPU), batch {train['batch']}, "
             f"G={train['num_generations']}, K={train['repairs']}, max_completion_length "
             f"{train['max_completion_length']}; rewards {', '.join(train['reward_funcs'])}; intervention rate "
             f"{train['intervention_rate']}, swaps {train['swaps']}.", "",
             "| step | step (s) | trl's reward calls (ms) | FFR candidate scoring (ms) | judge (ms) | "
             "teacher (ms) | repair generation (s) | reward overhead |",
             "|---|---|---|---|---|---|---|---|"]
    for s in train["steps"]:
        lines.append(f"| {s['step']} | {s['step_s']:.2f} | {1e3 * s['trl_rewards_s']:.2f} | "
                     f"{1e3 * s['ffr_candidate_scoring_s']:.2f} | {1e3 * s['judge_s']:.2f} | {1e3 * s['teacher_s']:.1f} | "
                     f"{s['repair_generation_s']:.2f} | {100 * s['overhead']:.4f}% |")
    total = sum(s["trl_rewards_s"] + s["ffr_candidate_scoring_s"] + s["judge_s"] for s in train["steps"])
    step_total = sum(s["step_s"] for s in train["steps"])
    lines += ["", f"All measured steps: rewards (trl's calls, FFR's candidate scoring, the judge) {1e3 * total:.1f} ms "
                  f"of {step_total:.2f} s = "
                  f"**{100 * total / step_total:.4f}%** of the step time.", "",
              f"Thinking-length text ({thinking['mean_words']:.0f} words per completion, "
              f"{thinking['completions_scored']} completions scored by {len(thinking['reward_funcs'])} functions + "
              f"{thinking['judgements']} judgements, one worst-case step of the 4B FFR recipe): "
              f"{1e3 * thinking['step_reward_s_min']:.1f} ms (median {1e3 * thinking['step_reward_s_median']:.1f} ms, "
              f"CPU {1e3 * thinking['step_reward_cpu_s_min']:.1f} ms) per step."]
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default="cpu-demo/ffr")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--tokens", type=int, default=1500, help="words per synthetic thinking completion")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    grpo_bench, rewards_bench = _bench_module("bench_grpo_step"), _bench_module("bench_rewards")
    train = run_training(opts, grpo_bench)
    thinking = run_thinking_length(opts, rewards_bench)
    print(markdown(train, thinking))
    result = {"training": train, "thinking_length": thinking}
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
