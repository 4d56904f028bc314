"""The learning demo: does the tiny Qwen3-VL learn navigation yaw from our data in 10 CPU minutes?

    .venv/bin/python bench/learning_demo.py

This is one command from a fresh clone, after ``make install``. It takes about 15-20 minutes: up
to 10 of them training, and about 5 building the data the first time. It

1. builds (or reuses) three releases under ``--data-root`` (default ``data/learning_demo``).
   Each is the ``build_release`` job over every domain partition, for a larger synthetic world
   (38 episodes x 120 frames per domain) with world seeds 0, 1 and 2. Seed 0 sits at the root
   and seeds k sit under ``seed-<k>/``. Each build takes 1-2 minutes on an idle machine.
2. builds the tiny model with ``remot_train.model.build_tiny_model``: text 64 x 2 layers, vision
   64 wide, about 450k parameters.
3. evaluates the untrained model greedily on the held-out questions: every navigation yaw
   true/false question in world 0's test split (357). The split is by episode and scene, and
   world 0's test rooms are not in any training data.
4. trains with SFT (trl's ``SFTTrainer`` through ``remot_train.trainers.sft``) on the yaw
   true/false questions of world 0's train split and of every split of worlds 1 and 2, in
   their training forms. The training loop stops at ``--minutes`` of wall time (default 10).
5. evaluates again and writes ``bench/results/learning_demo.{json,md,png}``, then prints the
   Markdown. The report has accuracy before and after with 95% Wilson intervals, and the
   chance, majority-class and text-only baselines. It also gives the share of "true" answers,
   format failures, steps, wall time, model and image size and learning rate, plus the loss
   curve and the accuracy bars.

The task. A yaw true/false question shows two frames of a camera turning inside a textured room
and states a direction ("... the camera turned to the left. True or false?"). The stated
direction is drawn per question, so the answer is the XOR of what the images show and what the
text says: neither gives it alone. The target completion (``--completion restate``) names the
turn and repeats the asked direction in the think block, then answers:
``<think>\nfrom image 1 to image 2 the camera turned to the right; the question says left.\n</think>\n<answer>false</answer>``.
Loss is on the whole completion after the opening ``<think>``. The report scores each part:

* the format;
* whether the answer follows the model's own think block, which is the text-side comparison;
* whether the think block names the turn correctly, which is the visual part.

Training forms. Each question is used four ways:

* as is;
* mirrored: both images flipped left-right and "left"/"right" swapped in the text, so the answer
  is unchanged;
* reversed: images 1 and 2 swapped, so the turn reverses and the answer flips;
* both mirrored and reversed.

A pure turn reversed is the opposite turn, so these labels are exact. The reversed form shows
the same two images with the opposite answer, so text or image appearance alone cannot score.

Baselines. The untrained model scores 0% because it cannot produce the format. Beating that
shows only that the format was learned. The report therefore also gives:

* chance (0.5);
* the held-out majority-class rate;
* the best text-only rule (per stated direction, the answer most often right in train).

It then says whether the trained model's 95% interval lies above all three.

Defaults, and why. These settings gave the most informative run within the budget (see "What
we tried" in the report and ``bench/results/learning_demo.notes.md``):

* 32 px images (one image token each), which the model at least memorises; at 64 px it did not
  within 1,500 steps;
* lr 2e-3, cosine schedule, batch 32, weight decay 0.1, 3,000 steps at most. At lr 1e-3 the
  comparison stays on its XOR plateau for about 2,300 steps; at lr 2e-3 it is learned by about
  step 800;
* two extra worlds, for more rooms;
* one torch thread: two threads on two shared cores made a step about 25 times slower.

Other knobs, used for the attempts:

* model and data: ``--image-size``, ``--hidden-size``, ``--layers``, ``--vision-hidden``,
  ``--tokenizer {small,qwen}`` (default small: the 1,024-token vocabulary the recorded results
  used, for speed only; the tests and the CPU demo use the real Qwen vocabulary),
  ``--extra-worlds``, ``--no-augment``;
* training: ``--lr``, ``--max-steps``, ``--batch-size``, ``--weight-decay``,
  ``--completion {think,restate,answer}``, ``--seed``, ``--threads``.

Clips (issue 17). ``--views clips`` shows each question's pair as one 2-frame clip, its frames
packed into one temporal patch of the vision tower (:mod:`remot_train.clips`); the training forms
are the same (a mirrored clip is mirrored frame by frame, a reversed clip plays backwards).
``--clip-frames K`` (K > 2) builds the demo's releases with ``clip_frames: K`` (the frames between
each pair's two, decoded from the source video; default data root ``data/learning_demo_k<K>``) and
shows K-frame clips (``ceil(K / 2)`` temporal patches).
``--eval-every N`` scores the held-out questions every N steps (the accuracy-over-steps curve),
``--contact-sheet`` draws held-out questions with the model's think block and answer,
``--pixel-mlp`` trains the pixel-MLP control on the same rows, ``--out-name`` names the outputs,
and ``--compare FRAMES_JSON CLIPS_JSON`` writes the side-by-side report
``bench/results/learning_clips.{md,png}``. The reports give the training CPU time beside the wall
time: on a shared machine the runs are budgeted by steps.

A second attribute. ``--attribute manipulation/ee_lateral`` (default ``navigation/yaw``) trains and
scores the end-effector's sideways motion in the image instead ("Is it true that the robot's
gripper moved toward the left of the image?"), with the same training forms (a mirrored pair
swaps left and right in the image, a reversed one reverses the motion, so the labels stay exact)
and the same report. Its held-out episodes are manipulation scenes: other room and table textures
around the same robot and fixed camera, not new rooms.

GRPO after SFT. ``--grpo-minutes N`` continues from the SFT checkpoint with GRPO (trl's
``GRPOTrainer`` through :func:`remot_train.trainers.grpo`, ReMoT's four rewards and weights, KL to
the SFT model) on the train questions for N wall minutes, then scores the same held-out questions
again (``--grpo-lr``, ``--grpo-beta``, ``--grpo-batch-size``, ``--grpo-generations``,
``--grpo-temperature``, ``--grpo-max-steps``, ``--grpo-eval-every``). The report gains a "GRPO
from the SFT model" section and ``<out-name>_grpo.png``.

``--attempt NOTE`` writes that run's outputs under ``--attempt-dir`` instead of
``bench/results``, and appends its summary to ``bench/results/learning_demo.attempts.jsonl``.
The default run's report lists those attempts, then the notes file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results"
ATTEMPTS = RESULTS / "learning_demo.attempts.jsonl"
NOTES = RESULTS / "learning_demo.notes.md"  # hand-written: diagnostic runs and controls, appended to the report

#: Each world the demo builds: more episodes (rooms) than the default 8 x 240, shorter ones. More
#: rooms come from more worlds (seeds) rather than one huge world. Worlds above ~4,600 frames per
#: domain used to fail in the negatives stage (polars and chunked all-null lists; fixed in f737766).
WORLD = {"episodes_per_domain": 38, "frames_per_episode": 120}
MAX_TRIPLETS = 5000  # train triplets per domain: no cap in practice
BENCH_TRIPLETS = 1000  # test triplets per domain: every one the world gives
ALL_DOMAINS = '{"dagster/asset_partition_range_start": "navigation", "dagster/asset_partition_range_end": "simulation"}'

OTHER = {"left": "right", "right": "left"}

#: The left/right true/false attributes the demo can train on (``--attribute DOMAIN/ATTRIBUTE``):
#: the pattern that finds the stated direction in a question's text (group 1), the think block's
#: sentence for a direction, and what the report calls the motion. Mirroring the frames swaps
#: left and right and reversing them reverses the motion for both, so the training forms' labels
#: stay exact.
ATTRIBUTES = {
    "navigation/yaw": {
        "pattern": r"turned to (?:the|its) (left|right)",
        "think": "the camera turned to the {direction}",
        "motion": "the camera's turn",
        "short": "turned {direction}",
        "noun": "turn",            # what the think block names
        "visual": "turn",          # "Visual turn: ..."
        "places": "rooms",         # what the held-out episodes are
        "places_long": "rooms",
        "question": "which way did the camera turn?",
    },
    "manipulation/ee_lateral": {
        "pattern": r"moved toward the (left|right) of the image",
        "think": "the robot's gripper moved toward the {direction} of the image",
        "motion": "the gripper's sideways motion in the image",
        "short": "gripper moved {direction}",
        "noun": "direction",
        "visual": "motion",
        "places": "scenes",
        "places_long": "scenes: other room and table textures around the same robot and camera",
        "question": "the gripper's sideways motion in the image",
    },
}


def use_attribute(name: str) -> None:
    """Point the module at ``name`` (a key of :data:`ATTRIBUTES`): sets DOMAIN, ATTRIBUTE,
    DIRECTION (the compiled pattern) and SPEC."""
    global DOMAIN, ATTRIBUTE, DIRECTION, SPEC
    if name not in ATTRIBUTES:
        raise SystemExit(f"--attribute must be one of {sorted(ATTRIBUTES)}, not {name!r}")
    SPEC = ATTRIBUTES[name]
    DOMAIN, ATTRIBUTE = name.split("/")
    DIRECTION = re.compile(SPEC["pattern"])


use_attribute("navigation/yaw")


# --------------------------------------------------------------------------- data ---

def release_config(seed: int = 0, clip_frames: int = 2) -> dict:
    # The shortcut audit is off: it gates published releases (the default world); on this demo
    # world (38 x 120 per domain) its blocking check failed and the release was not published
    # (seen 2026-12-07). The report computes its own blind baselines (majority class, text-only
    # rule) on the questions it uses. ``clip_frames`` > 2: the release stores the frames between
    # each pair's two (the same triplets and questions otherwise).
    out = {"synthetic": {**WORLD, "seed": seed}, "max_triplets_per_domain": MAX_TRIPLETS,
           "bench_triplets_per_domain": BENCH_TRIPLETS, "audit": {"enabled": False}}
    return {**out, "clip_frames": clip_frames} if clip_frames != 2 else out


def world_root(data_root: Path, seed: int) -> Path:
    """Where the world with this seed lives: ``data_root`` for seed 0, ``data_root/seed-<k>`` else."""
    return data_root if seed == 0 else data_root / f"seed-{seed}"


def ensure_release(data_root: Path, seed: int = 0, clip_frames: int = 2) -> Path:
    """The release under ``data_root`` built with :func:`release_config`; built first if missing."""
    from remot_train.data import ReleaseNotFound, resolve_release

    want = release_config(seed, clip_frames)
    try:
        path = resolve_release(data_root)
        got = json.loads((path / "manifest.json").read_text())["config"]
        if all(_matches(got.get(k), v) for k, v in want.items()):
            print(f"reusing release {path}", flush=True)
            return path
        print(f"{path} was built with another config; building the demo's release", flush=True)
    except ReleaseNotFound:
        print(f"no release under {data_root}; building one (1-2 min on an idle machine)", flush=True)
    data_root.mkdir(parents=True, exist_ok=True)
    config = data_root / "learning_demo_config.yaml"
    config.write_text(json.dumps({"resources": {"config": {"config": want}}}, indent=1))  # JSON is YAML
    env = {**os.environ, "REMOT_DATA_ROOT": str(data_root), "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("DAGSTER_HOME", None)  # an ephemeral instance: the demo's runs stay out of the project's history
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "job", "execute", "-m", "remot_pipeline.definitions", "-j", "build_release",
           "--tags", ALL_DOMAINS, "-c", str(config)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    (data_root / "learning_demo_build.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise SystemExit(f"building the release failed (log: {data_root / 'learning_demo_build.log'}):\n{tail}")
    print(f"release built in {time.perf_counter() - t0:.0f} s", flush=True)
    return resolve_release(data_root)


def _matches(got, want) -> bool:
    """``got`` agrees with ``want`` on every key ``want`` names (recursively)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(_matches(got.get(k), v) for k, v in want.items())
    return got == want


def directions(row: dict) -> tuple[str, str]:
    """``(stated, actual)`` for a yaw true/false row: the direction its text states and the one
    the camera turned (the stated one when the answer is true)."""
    text = "".join(p.get("text") or "" for p in row["prompt"][0]["content"])
    stated = DIRECTION.search(text).group(1)
    actual = stated if row["answer"] == "true" else OTHER[stated]
    return stated, actual


def swap_directions(text: str) -> str:
    """``text`` with the direction of every match of DIRECTION swapped (yaw: every "turned to
    the/its left" and "turned to the/its right")."""
    def swap(m):
        a, b = m.start(1) - m.start(0), m.end(1) - m.start(0)
        return m.group(0)[:a] + OTHER[m.group(1)] + m.group(0)[b:]

    return DIRECTION.sub(swap, text)


def completion(stated: str, actual: str, answer: str, mode: str, views: str = "frames") -> list[dict]:
    """The target. ``think``: the think block says which way the camera turned; ``restate``: it
    also repeats the direction the question states, so the answer compares two nearby words;
    ``answer``: an empty think block. ``views="clips"``: "over the clip" for "from image 1 to image 2"."""
    span = "over the clip" if views == "clips" else "from image 1 to image 2"
    motion = SPEC["think"].format(direction=actual)
    think = {
        "think": f"{span} {motion}.",
        "restate": f"{span} {motion}; the question says {stated}.",
        "answer": "",
    }[mode]
    return [{"role": "assistant", "content": f"<think>\n{think}\n</think>\n<answer>{answer}</answer>"}]


def variant(row: dict, mirror: bool, reverse: bool, mode: str, views: str = "frames") -> dict:
    """One training form of a true/false row: ``mirror`` flips every image left-right and swaps
    left/right in the text (answer unchanged); ``reverse`` plays the pair backwards (images 1 and
    2 swapped; a clip row's frames in reverse order): the turn reverses, the answer flips.
    ``views="clips"``: ``row`` is a clip row (:func:`remot_train.clips.clip_row`), one clip of
    ``row["clip_frames"]`` frames; mirroring the clip image mirrors each frame."""
    from PIL import ImageOps

    stated, actual = directions(row)
    images = list(row["images"])
    prompt = json.loads(json.dumps(row["prompt"]))
    if mirror:
        images = [ImageOps.mirror(im) for im in images]
        for part in prompt[0]["content"]:
            if part.get("text"):
                part["text"] = swap_directions(part["text"])
        stated, actual = OTHER[stated], OTHER[actual]
    if reverse:
        if views == "clips":
            from remot_train.clips import clip_image, frames_of

            images = [clip_image(frames_of(im, row["clip_frames"])[::-1]) for im in images]
        else:
            images = images[::-1]
        actual = OTHER[actual]
    answer = "true" if stated == actual else "false"
    tag = ("m" if mirror else "") + ("r" if reverse else "")
    return {**row, "prompt": prompt, "images": images, "answer": answer,
            "question_id": row["question_id"] + (f"-{tag}" if tag else ""),
            "completion": completion(stated, actual, answer, mode, views)}


def load_rows(release: Path, image_size: int, mode: str, augment: bool,
              extra: list[Path] = (), views: str = "frames", clip_frames: int | None = None
              ) -> tuple[list[dict], list[dict], list[dict]]:
    """``(train examples, train questions, held_out)``: yaw true/false rows. The train questions
    are ``release``'s train split plus every split of the ``extra`` releases (other worlds: other
    rooms); the examples are those in their training forms. Held out: ``release``'s test split.
    ``views="clips"``: all of them clip rows of ``clip_frames`` frames (default: as the release
    stores them)."""
    from remot_train.data import question_rows

    kw = dict(domains=[DOMAIN], attributes=[ATTRIBUTE], question_types=["true_false"], image_max_side=image_size,
              views=views, **({"clip_frames": clip_frames} if views == "clips" else {}))
    train = question_rows(release, split="train", with_completion=False, **kw)
    for other in extra:
        train += question_rows(other, split=None, with_completion=False, **kw)
    test = question_rows(release, split="test", with_completion=False, **kw)
    forms = [(m, r) for m in (False, True) for r in (False, True)] if augment else [(False, False)]
    examples = [variant(row, m, r, mode, views) for row in train for m, r in forms]
    return examples, train, test


def text_only_rule(train: list[dict]) -> dict[str, str]:
    """For each stated direction, the answer most often right in ``train`` (the best rule that
    reads the text and ignores the images)."""
    from collections import Counter

    counts = {"left": Counter(), "right": Counter()}
    for row in train:
        counts[directions(row)[0]][row["answer"]] += 1
    return {d: (c.most_common(1)[0][0] if c else "true") for d, c in counts.items()}


# ------------------------------------------------------------------------- metrics ---

def summary(records: list[dict], rows: list[dict], mode: str) -> dict:
    """Accuracy with its 95% Wilson interval, format failures, the share of "true" among parsed
    answers and, for think completions, how often the stated turn in the think block is right."""
    from remot_train.scoring import wilson_interval

    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    parsed = [r["parsed"] for r in records if r["parsed"] is not None]
    said = [(DIRECTION.search(r["completion"].split("</think>")[0]), directions(row)[1])
            for r, row in zip(records, rows, strict=True)]
    think_ok = sum(m is not None and m.group(1) == actual for m, actual in said)
    # the answer its own think implies: true when the turn it names is the one the question states
    implied = [None if m is None else ("true" if m.group(1) == directions(row)[0] else "false")
               for (m, _), row in zip(said, rows, strict=True)]
    follows = sum(i is not None and r["parsed"] == i for i, r in zip(implied, records, strict=True))
    out = {
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "ci95": list(wilson_interval(correct, n)),
        "format_failure_rate": 1 - len(parsed) / n if n else 0.0,
        "true_share": (sum(p == "true" for p in parsed) / len(parsed)) if parsed else None,
        "n_parsed": len(parsed),
    }
    if mode != "answer":
        out["think_direction_accuracy"] = think_ok / n if n else 0.0
        out["think_direction_ci95"] = list(wilson_interval(think_ok, n))
        out["answer_follows_think"] = follows / n if n else 0.0
    return out


def evaluate_rows(model, processor, rows, mode: str, batch_size: int = 32, views: str = "frames") -> tuple[dict, list[dict]]:
    from remot_train.clips import clip_frames_of, processor_for
    from remot_train.evaluate import evaluate

    processor = processor_for(processor, views, clip_frames_of(rows) if views == "clips" else 2)
    t0 = time.perf_counter()
    result = evaluate(model, processor, rows, batch_size=batch_size, max_new_tokens=16 if mode == "answer" else 48)
    s = summary(result.records, rows, mode)
    s["eval_s"] = round(time.perf_counter() - t0, 1)
    return s, result.records


# ------------------------------------------------------------------------ training ---

def time_guard(seconds: float):
    """A trainer callback that stops training once ``seconds`` of wall time have passed."""
    from transformers import TrainerCallback

    class TimeGuard(TrainerCallback):
        def __init__(self):
            self.start = None
            self.stopped_early = False

        def on_train_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if time.perf_counter() - self.start > seconds:
                control.should_training_stop = True
                self.stopped_early = state.global_step < state.max_steps
            return control

    return TimeGuard()


def eval_curve(processor, rows: list[dict], args, every: int | None = None):
    """A trainer callback that scores the held-out ``rows`` every ``every`` (default
    ``args.eval_every``) steps (greedy), keeping ``(step, accuracy, think-direction accuracy)``
    and the CPU seconds it spent."""
    from transformers import TrainerCallback

    every = args.eval_every if every is None else every

    class Curve(TrainerCallback):
        def __init__(self):
            self.points: list[dict] = []
            self.cpu_s = 0.0
            self.wall_s = 0.0

        def on_step_end(self, a, state, control, model=None, **kw):
            if not every or state.global_step % every:
                return
            c0, w0 = time.process_time(), time.perf_counter()
            s, _ = evaluate_rows(model, processor, rows, args.completion, views=args.views)
            self.cpu_s += time.process_time() - c0
            self.wall_s += time.perf_counter() - w0
            self.points.append({"step": state.global_step, "accuracy": s["accuracy"], "ci95": s["ci95"],
                                "think_direction_accuracy": s.get("think_direction_accuracy"),
                                "true_share": s["true_share"]})
            print(f"step {state.global_step}: held-out {s['accuracy']:.3f} think-dir "
                  f"{s.get('think_direction_accuracy', 0):.3f}", flush=True)

    return Curve()


def train(model_dir: Path, rows: list[dict], out: Path, args, curve=None) -> tuple[object, dict]:
    from remot_train.trainers import sft

    guard = time_guard(args.minutes * 60)
    trainer_args = {
        "max_steps": args.max_steps,
        "per_device_train_batch_size": args.batch_size,
        "learning_rate": args.lr,
        "lr_scheduler_type": "cosine",
        "warmup_steps": max(1, args.max_steps // 20),
        "weight_decay": args.weight_decay,
        "logging_steps": 10,
        "save_strategy": "no",
        "seed": args.seed,
        "data_seed": args.seed,
    }
    t0, c0 = time.perf_counter(), time.process_time()
    result = sft(str(model_dir), rows, out, args=trainer_args, include_think=True, resume=False,
                 callbacks=[guard] + ([curve] if curve else []), views=args.views)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = max((e["step"] for e in result.log_history if "loss" in e), default=0)
    losses = [{"step": e["step"], "loss": e["loss"]} for e in result.log_history if "loss" in e]
    loop = next((e["train_runtime"] for e in result.log_history if "train_runtime" in e), wall)
    eval_cpu = curve.cpu_s if curve else 0.0
    return result, {"steps": steps, "train_wall_s": round(loop, 1), "sft_call_s": round(wall, 1),
                    "train_cpu_s": round(cpu - eval_cpu, 1), "curve_eval_cpu_s": round(eval_cpu, 1),
                    "curve_eval_wall_s": round(curve.wall_s if curve else 0.0, 1),
                    "heldout_curve": curve.points if curve else [],
                    "stopped_by_time_budget": guard.stopped_early,
                    "loss_curve": losses, "trainer_args": trainer_args}


def grpo_stage(checkpoint: Path, rows: list[dict], out: Path, args, curve=None) -> tuple[object, dict]:
    """GRPO from the SFT ``checkpoint`` (trl's ``GRPOTrainer`` through ``remot_train.trainers.grpo``)
    on the train questions ``rows`` as released (no training forms: their ``relations`` column
    would not match a mirrored or reversed form), with ReMoT's four rewards and weights
    (format 3.5, task 3.5, length 1.3, logic 1.7), KL-anchored to the SFT model (``beta``). It stops
    after ``args.grpo_minutes`` of wall time or ``args.grpo_max_steps`` steps."""
    from remot_train.rewards import default_reward_funcs
    from remot_train.trainers import grpo

    funcs, weights = default_reward_funcs()
    guard = time_guard(args.grpo_minutes * 60)
    grpo_args = {
        "max_steps": args.grpo_max_steps,
        "per_device_train_batch_size": args.grpo_batch_size,
        "num_generations": args.grpo_generations,
        "max_completion_length": 48,
        "beta": args.grpo_beta,
        "learning_rate": args.grpo_lr,
        "temperature": args.grpo_temperature,
        "lr_scheduler_type": "constant",
        "logging_steps": 5,
        "save_strategy": "no",
        "seed": args.seed,
    }
    prompts = [{k: v for k, v in r.items() if k != "completion"} for r in rows]
    t0, c0 = time.perf_counter(), time.process_time()
    result = grpo(str(checkpoint), prompts, out, reward_funcs=funcs, reward_weights=weights, args=grpo_args,
                  views=args.views, callbacks=[guard] + ([curve] if curve else []), resume=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    logs = [e for e in result.log_history if "loss" in e]
    keep = ("step", "loss", "reward", "reward_std", "rewards/format_reward/mean", "rewards/task_reward/mean",
            "rewards/length_reward/mean", "rewards/logic_reward/mean", "kl", "completions/mean_length")
    eval_cpu = curve.cpu_s if curve else 0.0
    return result, {"steps": max((e["step"] for e in logs), default=0), "grpo_call_s": round(wall, 1),
                    "grpo_cpu_s": round(cpu - eval_cpu, 1), "curve_eval_cpu_s": round(eval_cpu, 1),
                    "heldout_curve": curve.points if curve else [],
                    "stopped_by_time_budget": guard.stopped_early, "trainer_args": grpo_args,
                    "reward_weights": weights, "reward_funcs": [f.__name__ for f in funcs],
                    "log": [{k: e[k] for k in keep if k in e} for e in logs]}


def grpo_markdown(res: dict) -> list[str]:
    """The GRPO section of a run's report: held-out accuracy after SFT and after GRPO."""
    g = res.get("grpo")
    if not g:
        return []
    sft_a, a = res["after"], g["after"]
    log = g["log"]
    first, last = (log[0], log[-1]) if log else ({}, {})

    def rw(e, k):
        v = e.get(k)
        return "n/a" if v is None else f"{v:.3f}"

    ta = g["trainer_args"]
    rows = [
        ("held-out accuracy [95% CI]", fmt_ci(sft_a), fmt_ci(a)),
        ("think block names the motion, held-out [95% CI]", _fmt_dir(sft_a) if "think_direction_ci95" in sft_a else "",
         _fmt_dir(a) if "think_direction_ci95" in a else ""),
        ("answers that follow the think block", f"{sft_a.get('answer_follows_think', 0):.3f}",
         f"{a.get('answer_follows_think', 0):.3f}"),
        ('share of "true"', f"{sft_a['true_share']:.2f}" if sft_a["true_share"] is not None else "n/a",
         f"{a['true_share']:.2f}" if a["true_share"] is not None else "n/a"),
        ("format-failure rate", f"{sft_a['format_failure_rate']:.3f}", f"{a['format_failure_rate']:.3f}"),
        ("accuracy on train questions", f"{res['after_on_train']['accuracy']:.3f}", f"{g['after_on_train']['accuracy']:.3f}"),
    ]
    return [
        "", "## GRPO from the SFT model", "",
        f"GRPO (trl's `GRPOTrainer` via `remot_train.trainers.grpo`, views `{res['settings'].get('views', 'frames')}`) "
        f"from the SFT checkpoint above, on the {g['prompts']} train questions as released, with ReMoT's rewards "
        f"({', '.join(f'{n} {w:g}' for n, w in zip(g['reward_funcs'], g['reward_weights']))}); "
        f"lr {ta['learning_rate']:g} constant, beta {ta['beta']:g}, {ta['num_generations']} generations per prompt, "
        f"batch {ta['per_device_train_batch_size']} completions, temperature {ta['temperature']:g}. "
        f"{g['steps']} steps{' (stopped by the time budget)' if g['stopped_by_time_budget'] else ''}, "
        f"{g['grpo_cpu_s']:.0f} CPU s ({g['grpo_call_s']:.0f} s wall). Same held-out questions, greedy.",
        "", "| | after SFT | after SFT + GRPO |", "|---|---|---|",
        *[f"| {k} | {x} | {y} |" for k, x, y in rows],
        "",
        f"Sampled rewards (first -> last log): total {rw(first, 'reward')} -> {rw(last, 'reward')}; "
        f"task {rw(first, 'rewards/task_reward/mean')} -> {rw(last, 'rewards/task_reward/mean')}; "
        f"format {rw(first, 'rewards/format_reward/mean')} -> {rw(last, 'rewards/format_reward/mean')}; "
        f"KL {rw(first, 'kl')} -> {rw(last, 'kl')}.",
        "",
        f"![SFT then GRPO]({res['settings'].get('out_name', 'learning_demo')}_grpo.png)",
    ]


# ------------------------------------------------------------------------- report ---

def learned(before: dict, after: dict, on_train: dict | None) -> str:
    """What the numbers say was learned, part by part (format, comparison, visual turn)."""
    parts = [f"Format: format failures {before['format_failure_rate']:.2f} untrained -> "
             f"{after['format_failure_rate']:.2f} trained."]
    if "answer_follows_think" in after:
        parts.append(f"Comparison: {after['answer_follows_think']:.0%} of held-out answers are the ones the model's own "
                     f"think block implies (the {SPEC['noun']} it names against the direction the question states); "
                     "near 100% means the text-side reasoning was learned.")
        lo, hi = after["think_direction_ci95"]
        seen = f"; on train questions {on_train['think_direction_accuracy']:.3f}" if on_train else ""
        parts.append(f"Visual {SPEC['visual']}: the think block names {SPEC['motion']} correctly for "
                     f"{after['think_direction_accuracy']:.3f} [{lo:.3f}, {hi:.3f}] of held-out questions{seen}"
                     + (f" (memorised training views, chance on new {SPEC['places']})." if lo <= 0.5 and on_train
                        and on_train["think_direction_accuracy"] > 0.7 else "."))
    return " ".join(parts)


def verdict(before: dict, after: dict, baselines: dict) -> str:
    lo, hi = after["ci95"]
    best_name, best = max(baselines.items(), key=lambda kv: kv[1])
    share = after["true_share"]
    if after["n_parsed"] == 0:
        return "It did not learn: the trained model still produces no parsable answer."
    if share is not None and (share < 0.05 or share > 0.95):
        return (f"It did not learn the task: it learned the answer format but gives one answer "
                f"(share of \"true\" {share:.2f}), so its accuracy is a class rate, not evidence.")
    if lo > best:
        return (f"It learned: held-out accuracy {after['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}) lies above "
                f"chance (0.5), the majority-class rate and the best text-only rule (the strongest baseline, "
                f"{best_name} = {best:.3f}); untrained it scored {before['accuracy']:.3f}.")
    if lo > 0.5:
        return (f"Partly: held-out accuracy {after['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}) is above chance "
                f"but its interval does not clear the strongest baseline ({best_name} = {best:.3f}).")
    return (f"It did not learn the task: held-out accuracy {after['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}) "
            f"is not above chance (0.5); beating the untrained {before['accuracy']:.3f} only shows that the "
            "answer format was learned.")


def _fmt_dir(s: dict) -> str:
    lo, hi = s["think_direction_ci95"]
    return f"{s['think_direction_accuracy']:.3f} [{lo:.3f}, {hi:.3f}]"


def fmt_ci(s: dict) -> str:
    return f"{s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"


def _extra(s: dict) -> str:
    return f" +{s['extra_worlds']} worlds" if s.get("extra_worlds") else ""


def _wd(s: dict) -> str:
    return f", wd {s['weight_decay']:g}" if s.get("weight_decay") else ""


def attempts_table(rows: list[dict]) -> list[str]:
    lines = ["| # | note | image px | lr | steps | batch | completion | aug | model params | train s | "
             "held-out acc [95% CI] | think-dir acc | true share | train-question acc |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, a in enumerate(rows, 1):
        s = a["settings"]
        after = a["after"]
        td = after.get("think_direction_accuracy")
        share = after.get("true_share")
        seen = a.get("after_on_train")
        lines.append(
            f"| {i} | {a.get('note', '')} | {s['image_size']} | {s['lr']:g} | {a['steps']} | {s['batch_size']} | "
            f"{s['completion']} | {'yes' if s['augment'] else 'no'}{_extra(s)} | {a['model_parameters']:,} "
            f"({s['hidden_size']}x{s['layers']}/v{s.get('vision_hidden', 32)}{_wd(s)}) | "
            f"{a['train_wall_s']:.0f} | {fmt_ci(after)} | {'' if td is None else f'{td:.3f}'} | "
            f"{'' if share is None else f'{share:.2f}'} | {'' if seen is None else format(seen['accuracy'], '.3f')} |")
    return lines


def markdown(res: dict, attempts: list[dict]) -> str:
    b, a, base, s = res["before"], res["after"], res["baselines"], res["settings"]
    rows = [
        ("accuracy [95% Wilson CI]", fmt_ci(b), fmt_ci(a)),
        ("correct / n held-out", f"{b['correct']} / {b['n']}", f"{a['correct']} / {a['n']}"),
        ("format-failure rate", f"{b['format_failure_rate']:.3f}", f"{a['format_failure_rate']:.3f}"),
        ('share of "true" among parsed answers',
         "n/a (none parsed)" if b["true_share"] is None else f"{b['true_share']:.2f}",
         "n/a (none parsed)" if a["true_share"] is None else f"{a['true_share']:.2f}"),
    ]
    t = res["after_on_train"]
    rows.append((f"accuracy on {t['n']} train questions (seen in training) [95% CI]", "", fmt_ci(t)))
    if "answer_follows_think" in a:
        rows.append(("answers that follow the model's own think block", f"{b['answer_follows_think']:.3f}",
                     f"{a['answer_follows_think']:.3f}"))
    if "think_direction_accuracy" in a:
        rows.append((f"think-direction accuracy ({SPEC['noun']} named in the think block) [95% CI]",
                     _fmt_dir(b), _fmt_dir(a)))
    out = [
        f"# Learning demo: tiny Qwen3-VL, {DOMAIN} {ATTRIBUTE} true/false, CPU"
        + (" (views: clips)" if s.get("views") == "clips" else ""),
        "",
        f"**Verdict.** {res['verdict']}",
        "",
        f"**What was learned.** {res['learned']}",
        "",
        f"Held-out: the release's test split, {a['n']} {DOMAIN} {ATTRIBUTE} true/false questions from "
        f"{res['data']['test_episodes']} episodes ({SPEC['places_long']}) that training never sees; train: "
        f"{res['data']['train_questions']} questions from {res['data']['train_episodes']} episodes, "
        f"{res['data']['train_examples']} training examples with augmentation. Greedy decoding.",
        "",
        "| | untrained | trained |",
        "|---|---|---|",
        *[f"| {k} | {x} | {y} |" for k, x, y in rows],
        "",
        "Baselines on the same held-out questions (what \"learned\" must beat, beyond the untrained 0%):",
        "",
        "| baseline | accuracy |",
        "|---|---|",
        "| chance | 0.500 |",
        f"| majority class of the held-out answers (\"{res['majority_answer']}\") | {base['majority_class']:.3f} |",
        f"| best text-only rule (per stated direction, from train: {res['text_rule']}) | "
        f"{base['text_only_rule']:.3f} |",
        "",
        "| setting | value |",
        "|---|---|",
        f"| model | tiny Qwen3-VL, {res['model_parameters']:,} parameters (text {s['hidden_size']} x {s['layers']} layers, "
        f"vision {s['vision_hidden']} x 2, patch 16, merge 2) |",
        f"| image size | at most {s['image_size']} px per side ({res['image_tokens']} image "
        f"token{'s' if res['image_tokens'] != 1 else ''} per image) |",
        f"| training | SFT, completion `{s['completion']}` (loss on the whole completion after `<think>`), "
        f"lr {s['lr']:g} cosine, batch {s['batch_size']}, max steps {s['max_steps']} |",
        f"| steps run | {res['steps']}{' (stopped by the time budget)' if res['stopped_by_time_budget'] else ''} |",
        f"| training wall time | {res['train_wall_s']:.0f} s in the training loop (budget {s['minutes']:g} min); "
        f"{res.get('sft_call_s', res['train_wall_s']):.0f} s for the whole `sft()` call, with building the dataset |",
        f"| evaluation wall time | before {b['eval_s']:.0f} s, after {a['eval_s']:.0f} s |",
        f"| total wall time | {res['total_wall_s']:.0f} s (release {res['release_s']:.0f} s) |",
        f"| final training loss (mean of the last 5 logs) | {res['final_loss']:.4f} |",
        f"| CPU threads | {res['threads']} |",
        "",
        "What it shows. See the verdict: the claim is about held-out accuracy against chance, the "
        "majority class and the text-only rule, not against the untrained 0% (which only reflects "
        "the answer format). The think-direction accuracy says whether the model names the "
        f"{SPEC['motion'].removeprefix('the ')} correctly from the two images, which is the visual part of the task.",
        "",
        "Caveat: the 95% intervals treat questions as independent; questions from the same episode "
        "(room) and triplet are correlated, so the effective sample is smaller than n.",
        "",
        f"![loss and accuracy]({s.get('out_name', 'learning_demo')}.png)",
    ]
    if attempts:
        out += ["", "## What we tried", "",
                "Each row is one run of this script with the settings shown (held-out = the same "
                f"{a['n']} questions). The attempts ran two at a time on a CPU shared with other jobs "
                "(#4-#7 with a 14-minute guard), so their step times are not comparable; only the run "
                "above is held to the 10-minute budget. The final numbers above come from one clean "
                "run with the defaults.", "", *attempts_table(attempts)]
        notes = [x for x in attempts if x.get("comment")]
        if notes:
            out += ["", *[f"- **#{attempts.index(x) + 1}**: {x['comment']}" for x in notes]]
    out += grpo_markdown(res)
    if NOTES.is_file() and s.get("out_name", "learning_demo") == "learning_demo":
        out += ["", NOTES.read_text().strip()]
    return "\n".join(out) + "\n"


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    curve = res["loss_curve"]
    ax1.plot([c["step"] for c in curve], [c["loss"] for c in curve], color="tab:blue")
    ax1.set_yscale("log")
    ax1.set_xlabel("optimizer step")
    ax1.set_ylabel("training loss (log)")
    ax1.set_title(f"SFT loss, lr {res['settings']['lr']:g}, batch {res['settings']['batch_size']}")
    ax1.grid(alpha=0.3)
    bars = [("untrained", res["before"]), ("trained", res["after"])]
    labels, vals, errs = [], [], [[], []]
    for name, s in bars:
        labels.append(name)
        vals.append(s["accuracy"])
        errs[0].append(max(0.0, s["accuracy"] - s["ci95"][0]))  # Wilson's bound can sit 1e-18 above 0
        errs[1].append(max(0.0, s["ci95"][1] - s["accuracy"]))
    ax2.bar(labels, vals, yerr=errs, capsize=8, color=["tab:gray", "tab:green"])
    ax2.axhline(0.5, color="k", ls="--", lw=1, label="chance 0.5")
    ax2.axhline(res["baselines"]["majority_class"], color="tab:orange", ls=":", lw=1.5,
                label=f"majority class {res['baselines']['majority_class']:.2f}")
    ax2.axhline(res["baselines"]["text_only_rule"], color="tab:red", ls="-.", lw=1,
                label=f"text-only rule {res['baselines']['text_only_rule']:.2f}")
    for i, v in enumerate(vals):
        ax2.text(i, v + errs[1][i] + 0.02, f"{v:.3f}", ha="center")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel(f"held-out accuracy (n={res['after']['n']}), 95% Wilson CI")
    ax2.set_title(f"{DOMAIN} {ATTRIBUTE} true/false, held-out")
    ax2.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------- controls and sheets ---

def _pair_frames(row: dict, views: str, every: bool = False) -> list:
    """A yaw row's two frames, in time order (a clip row's first and last frames; ``every``: all
    of the clip's)."""
    if views == "clips":
        from remot_train.clips import frames_of

        frames = frames_of(row["images"][0], row.get("clip_frames", 2))
        return frames if every else [frames[0], frames[-1]]
    return list(row["images"])


def pixel_mlp_control(train: list[dict], test: list[dict], args, epochs: int = 30, hidden: int = 256) -> dict:
    """The pixel-MLP control: a 2-layer MLP on the raw pixels of both frames (concatenated) predicts
    the turn, trained on the same train questions with the same mirror/reverse forms; scored on the
    held-out questions' turn (what the VLM's think block must name). Seeded; a few CPU seconds."""
    import numpy as np
    import torch

    from remot_train.scoring import wilson_interval

    def tensors(rows, augment):
        xs, ys = [], []
        for r in rows:
            a, b = (np.asarray(f.convert("RGB"), dtype=np.float32) / 255.0 for f in _pair_frames(r, args.views))
            turn = directions(r)[1] == "left"
            forms = [(False, False), (True, False), (False, True), (True, True)] if augment else [(False, False)]
            for mirror, reverse in forms:
                x, y = (a[:, ::-1], b[:, ::-1]) if mirror else (a, b)
                x, y = (y, x) if reverse else (x, y)
                xs.append(np.concatenate([x.ravel(), y.ravel()]))
                ys.append(float(turn ^ mirror ^ reverse))
        return torch.tensor(np.stack(xs)), torch.tensor(ys)

    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(args.seed)
    x, y = tensors(train, True)
    xt, yt = tensors(test, False)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(x[idx]).squeeze(-1), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        correct = int(((net(xt).squeeze(-1) > 0).float() == yt).sum())
    return {"turn_accuracy": correct / len(yt), "ci95": list(wilson_interval(correct, len(yt))), "n": len(yt),
            "epochs": epochs, "hidden": hidden, "parameters": sum(p.numel() for p in net.parameters()),
            "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1)}


def contact_sheet(rows: list[dict], records: list[dict], path: Path, views: str, n: int = 12) -> None:
    """Held-out questions, half answered right and half wrong (as many as there are): the two
    frames, the claim, the model's think block and answer."""
    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    import matplotlib.pyplot as plt
    import numpy as np

    right = [i for i, r in enumerate(records) if r["correct"]]
    wrong = [i for i, r in enumerate(records) if not r["correct"]]
    pick = right[: n // 2] + wrong[: n - min(n // 2, len(right))]
    pick = (pick + right[n // 2:])[:n]
    cols = 3
    fig, axes = plt.subplots((len(pick) + cols - 1) // cols, cols, figsize=(cols * 4.2, 3.4 * ((len(pick) + cols - 1) // cols)))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), pick):
        row, rec = rows[i], records[i]
        shown = _pair_frames(row, views, every=True)
        side = 96 if len(shown) <= 2 else 192 // len(shown)
        frames = [np.asarray(f.convert("RGB").resize((side, side))) for f in shown]
        gap = np.full((side, 6, 3), 255, np.uint8)
        ax.imshow(np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1))
        stated, actual = directions(row)
        think = rec["completion"].split("</think>")[0].replace("<think>", "").strip()
        ax.set_title(f"{'RIGHT' if rec['correct'] else 'WRONG'}: claim \"{SPEC['short'].format(direction=stated)}\" (truth: {actual}, "
                     f"answer {row['answer']})", fontsize=7.5, color="tab:green" if rec["correct"] else "tab:red")
        k = len(shown)
        ax.text(0.5, -0.03, (("clip: frame 1 | frame 2 (one temporal patch)" if k == 2 else
                              f"clip: frames 1..{k} ({-(-k // 2)} temporal patches)") if views == "clips"
                             else "image 1 | image 2 (encoded separately)"), transform=ax.transAxes, fontsize=6.5,
                ha="center", va="top")
        # below the frames, never over them (a box over the frames hid part of the motion)
        ax.text(0, -0.16, "\n".join(textwrap.wrap(f"think: {think}", 60)) + f"\nanswer: {rec['parsed']}",
                transform=ax.transAxes, fontsize=6.5, va="top", ha="left", family="monospace", clip_on=False)
    fig.suptitle(f"Held-out {DOMAIN} {ATTRIBUTE} true/false, views: {views} (greedy)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def held_out_records(records: list[dict]) -> list[dict]:
    """What a contact sheet needs of each held-out answer (kept in the report's JSON)."""
    return [{k: r[k] for k in ("question_id", "completion", "parsed", "correct")} for r in records]


def rerender_contact_sheets(res: dict, args) -> None:
    """``--render-only --contact-sheet``: the contact sheets again, from the JSON's held-out
    records and the release's held-out questions (no training)."""
    views, k, s = res.get("views", "frames"), res["settings"].get("clip_frames", 2), res["settings"]
    sheets = [(res.get("heldout_records"), ""), ((res.get("grpo") or {}).get("heldout_records"), "_grpo")]
    if not any(records for records, _ in sheets):
        raise SystemExit("this report keeps no held-out records (written before they were kept): rerun it")
    _, _, test = load_rows(Path(res["data"]["release"]), s["image_size"], s["completion"], False, views=views,
                           clip_frames=k if views == "clips" else None)
    by_id = {r["question_id"]: r for r in test}
    for records, stem in sheets:
        if records:
            contact_sheet([by_id[r["question_id"]] for r in records], records,
                          args.out_dir / f"{args.out_name}{stem}_contact.png", views)


def compare(frames_json: Path, clips_json: Path, out_dir: Path = RESULTS, stem: str = "learning_clips") -> str:
    """The frames-vs-clips report: ``<name>.md`` and ``<name>.png`` (default ``learning_clips``: held-out
    accuracy over steps for both, with the baselines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {"frames": json.loads(Path(frames_json).read_text()), "clips": json.loads(Path(clips_json).read_text())}
    from remot_train.scoring import wilson_interval

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.4))
    n = runs["clips"]["after"]["n"]
    for (name, res), color in zip(runs.items(), ("tab:blue", "tab:green")):
        pts = res.get("heldout_curve") or []
        if pts:
            steps = [0] + [p["step"] for p in pts]
            acc = [res["before"]["accuracy"]] + [p["accuracy"] for p in pts]
            lo = [res["before"]["ci95"][0]] + [p["ci95"][0] for p in pts]
            hi = [res["before"]["ci95"][1]] + [p["ci95"][1] for p in pts]
            ax.plot(steps, acc, marker="o", ms=3, color=color, label=f"{name} (VLM, greedy)")
            ax.fill_between(steps, lo, hi, color=color, alpha=0.15)
            turn = [res["before"].get("think_direction_accuracy") or 0.0] + [p["think_direction_accuracy"] or 0.0
                                                                              for p in pts]
            ci = [wilson_interval(round(t * n), n) for t in turn]
            ax2.plot(steps, turn, marker="o", ms=3, color=color, label=f"{name}: turn named in the think block")
            ax2.fill_between(steps, [c[0] for c in ci], [c[1] for c in ci], color=color, alpha=0.15)
    ax2.axhline(0.5, color="k", ls="--", lw=1, label="chance 0.5")
    mlp_any = runs["clips"].get("pixel_mlp") or runs["frames"].get("pixel_mlp")
    if mlp_any:
        ax2.axhline(mlp_any["turn_accuracy"], color="tab:purple", lw=1, alpha=0.7,
                    label=f"pixel MLP (turn) {mlp_any['turn_accuracy']:.2f}")
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("SFT optimizer step")
    ax2.set_ylabel("held-out: think block names the turn, 95% CI")
    ax2.set_title(f"the visual part: {SPEC['question']}")
    ax2.legend(fontsize=7.5, loc="lower right")
    ax2.grid(alpha=0.3)
    base = runs["clips"]["baselines"]
    ax.axhline(0.5, color="k", ls="--", lw=1, label="chance 0.5")
    ax.axhline(base["majority_class"], color="tab:orange", ls=":", lw=1.5, label=f"majority {base['majority_class']:.2f}")
    ax.axhline(base["text_only_rule"], color="tab:red", ls="-.", lw=1, label=f"text-only {base['text_only_rule']:.2f}")
    mlp = runs["clips"].get("pixel_mlp") or runs["frames"].get("pixel_mlp")
    if mlp:
        ax.axhline(mlp["turn_accuracy"], color="tab:purple", ls="-", lw=1, alpha=0.7,
                   label=f"pixel MLP (turn) {mlp['turn_accuracy']:.2f}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("SFT optimizer step")
    ax.set_ylabel(f"held-out accuracy (n={runs['clips']['after']['n']}), 95% CI")
    ax.set_title(f"answer accuracy, {DOMAIN} {ATTRIBUTE} true/false, held-out {SPEC['places']}")
    ax.legend(fontsize=7.5, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / f"{stem}.png", dpi=110)
    plt.close(fig)

    def row(name, res):
        a = res["after"]
        td = a.get("think_direction_accuracy")
        tdc = a.get("think_direction_ci95") or [0, 0]
        return (f"| {name} | {fmt_ci(a)} | {'' if td is None else f'{td:.3f} [{tdc[0]:.3f}, {tdc[1]:.3f}]'} | "
                f"{res['after_on_train']['accuracy']:.3f} | "
                f"{'n/a' if a['true_share'] is None else format(a['true_share'], '.2f')} | {res['steps']} | "
                f"{res['train_wall_s']:.0f} | {res.get('train_cpu_s', float('nan')):.0f} | "
                f"{res['image_tokens'] * (1 if res.get('views') == 'clips' else 2)} |")

    f, c = runs["frames"], runs["clips"]
    lines = [
        "# Frames vs clips: does packing a pair into one temporal patch teach the tiny VLM motion?",
        "",
        "`bench/learning_demo.py --views frames|clips` (the same script, data, model and budget; only how the "
        "pair reaches the vision tower differs). Held-out: "
        f"{c['after']['n']} {DOMAIN} {ATTRIBUTE} true/false questions from {c['data']['test_episodes']} {SPEC['places']} that "
        f"training never sees; train: {c['data']['train_questions']} questions from {c['data']['train_episodes']} "
        f"episodes ({SPEC['places']}), {c['data']['train_examples']} examples with mirror/reverse forms. Tiny Qwen3-VL from "
        f"scratch ({c['model_parameters']:,} parameters), SFT, greedy decoding.",
        "",
        f"| views | held-out accuracy [95% CI] | think names the {SPEC['noun']} [95% CI] | train-question acc | share \"true\" | "
        "steps | train wall s | train CPU s | vision tokens per pair |",
        "|---|---|---|---|---|---|---|---|---|",
        row("frames (each image alone)", f),
        row("clips (2 frames, one temporal patch)", c),
        "",
        "| baseline (same held-out questions) | accuracy |",
        "|---|---|",
        "| chance | 0.500 |",
        f"| majority class (\"{c['majority_answer']}\") | {c['baselines']['majority_class']:.3f} |",
        f"| best text-only rule ({c['text_rule']}) | {c['baselines']['text_only_rule']:.3f} |",
    ]
    for name, res in (("frames", f), ("clips", c)):
        m = res.get("pixel_mlp")
        if m:
            lines.append(f"| pixel-MLP control on the {name} rows' pixels (turn accuracy, {m['parameters']:,} "
                         f"parameters, {m['cpu_s']:.0f} CPU s) | {m['turn_accuracy']:.3f} [{m['ci95'][0]:.3f}, "
                         f"{m['ci95'][1]:.3f}] |")
    lines += [
        "",
        f"Verdicts. Frames: {f['verdict']} Clips: {c['verdict']}",
        "",
        f"What was learned, clips: {c['learned']}",
        "",
        f"![held-out accuracy over steps]({stem}.png)",
        "",
        "Contact sheets (held-out questions, right and wrong, with the model's think block and answer): "
        f"[clips]({c['settings'].get('out_name', 'learning_demo_clips')}_contact.png), "
        f"[frames]({f['settings'].get('out_name', 'learning_demo_frames')}_contact.png).",
        "",
        "Budget: both runs were given the same step budget (the machine's 2 cores were shared with other jobs, "
        "so wall time is not a fair budget); train CPU s is the training process's CPU time minus the held-out "
        "scoring for the curve. The 95% intervals treat questions as independent (questions from one room are "
        "correlated).",
    ]
    notes = RESULTS / f"{stem}.notes.md"  # hand-written: earlier runs and what they showed
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    md = "\n".join(lines) + "\n"
    (out_dir / f"{stem}.md").write_text(md)
    return md


# --------------------------------------------------------------------------- main ---

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=None,
                   help="where the demo's releases live (default data/learning_demo; data/learning_demo_k<K> "
                        "with --clip-frames K > 2)")
    p.add_argument("--clip-frames", type=int, default=2,
                   help="with --views clips: frames per clip (K > 2 builds releases with remot_config clip_frames: K, "
                        "the frames between each pair's two decoded from the source video)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget for training")
    p.add_argument("--max-steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--completion", choices=["think", "restate", "answer"], default="restate")
    p.add_argument("--tokenizer", choices=["small", "qwen"], default="small",
                   help="the tiny model's vocabulary: small (1,024 tokens, what the recorded results used; a "
                        "152k-row LM head would take most of the 10-minute budget) or qwen (the real one)")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--extra-worlds", type=int, default=2,
                   help="also train on every question of this many more worlds (synthetic seeds 1..N: other rooms)")
    p.add_argument("--vision-hidden", type=int, default=64)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1: the tiny model gains nothing from more, and 2 threads on 2 busy "
                        "cores slow a step from ~0.15 s to ~4 s)")
    p.add_argument("--limit-test", type=int, default=None,
                   help="evaluate on the first N held-out questions (smoke tests)")
    p.add_argument("--limit-train", type=int, default=None, help="train on the first N train questions (smoke tests)")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="where learning_demo.{json,md,png} go")
    p.add_argument("--attempt", default=None, help="record this run as an attempt (note); outputs go to --attempt-dir")
    p.add_argument("--comment", default=None, help="a sentence on the attempt, for the report")
    p.add_argument("--render-only", action="store_true",
                   help="re-render <out-name>.md and .png from the existing <out-name>.json (no training); with "
                        "--contact-sheet, also the contact sheets, from the JSON's held-out records")
    p.add_argument("--attempt-dir", type=Path, default=Path(tempfile.gettempdir()) / "learning_demo_attempts")
    p.add_argument("--views", choices=["frames", "clips"], default="frames",
                   help="frames: each image alone (as released); clips: the pair's two frames packed into one "
                        "temporal patch of the vision tower (remot_train/clips.py)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="score the held-out questions every N steps (the accuracy-over-steps curve; 0: off)")
    p.add_argument("--out-name", default="learning_demo", help="the outputs' file stem under --out-dir")
    p.add_argument("--contact-sheet", action="store_true",
                   help="also draw held-out questions with the model's think block and answer (<out-name>_contact.png)")
    p.add_argument("--pixel-mlp", action="store_true",
                   help="also train the pixel-MLP control (both frames' raw pixels -> the turn) on the same rows")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("FRAMES_JSON", "CLIPS_JSON"),
                   help="render the frames-vs-clips report (<compare-name>.{md,png}) from two runs' JSON (no training)")
    p.add_argument("--compare-name", default="learning_clips", help="the --compare report's file stem")
    p.add_argument("--attribute", default="navigation/yaw", choices=sorted(ATTRIBUTES),
                   help="the left/right true/false attribute to train and score (DOMAIN/ATTRIBUTE)")
    p.add_argument("--grpo-minutes", type=float, default=0.0,
                   help="after SFT, run GRPO (remot_train.trainers.grpo, ReMoT's four rewards and weights) from the "
                        "SFT model for this many wall minutes on the train questions, then score held-out again (0: off)")
    p.add_argument("--grpo-max-steps", type=int, default=400)
    p.add_argument("--grpo-lr", type=float, default=1e-5)
    p.add_argument("--grpo-beta", type=float, default=0.01)
    p.add_argument("--grpo-batch-size", type=int, default=16)
    p.add_argument("--grpo-generations", type=int, default=4)
    p.add_argument("--grpo-temperature", type=float, default=1.0)
    p.add_argument("--grpo-eval-every", type=int, default=0,
                   help="score the held-out questions every N GRPO steps (0: off)")
    return p.parse_args(argv)


def load_attempts() -> list[dict]:
    if not ATTEMPTS.is_file():
        return []
    return [json.loads(line) for line in ATTEMPTS.read_text().splitlines() if line.strip()]


def grpo_plot(res: dict, path: Path) -> None:
    """Held-out accuracy over the SFT steps then the GRPO steps (greedy), and GRPO's sampled rewards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = res["grpo"]
    sft_steps = res["steps"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    pts = [(0, res["before"])] + [(p["step"], p) for p in res.get("heldout_curve") or []]
    pts = [p for p in pts if p[0] < sft_steps] + [(sft_steps, res["after"])]
    pts += [(sft_steps + p["step"], p) for p in g.get("heldout_curve") or []] + [(sft_steps + g["steps"], g["after"])]
    xs = [x for x, _ in pts]
    ax.plot(xs, [p["accuracy"] for _, p in pts], marker="o", ms=3, color="tab:green", label="held-out accuracy")
    ax.fill_between(xs, [p["ci95"][0] for _, p in pts], [p["ci95"][1] for _, p in pts], color="tab:green", alpha=0.15)
    ax.axvline(sft_steps, color="gray", lw=1, ls="--", label="SFT -> GRPO")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="chance 0.5")
    ax.axhline(max(res["baselines"]["majority_class"], res["baselines"]["text_only_rule"]), color="tab:orange", ls=":",
               lw=1.5, label="best blind baseline")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("optimizer step (SFT, then GRPO)")
    ax.set_ylabel(f"held-out accuracy (n={res['after']['n']}), 95% CI")
    ax.set_title(f"{DOMAIN} {ATTRIBUTE} true/false, views {res['settings'].get('views')}: SFT then GRPO")
    ax.legend(fontsize=7.5, loc="lower right")
    ax.grid(alpha=0.3)
    log = g["log"]
    for key, color in (("rewards/task_reward/mean", "tab:green"), ("rewards/format_reward/mean", "tab:gray"),
                       ("reward_std", "tab:red")):
        pts2 = [(e["step"], e[key] / (1 if key != "reward_std" else 7.0)) for e in log if key in e]
        if pts2:
            ax2.plot(*zip(*pts2), marker=".", color=color,
                     label="weighted reward's std / 7 (0: no learning signal)" if key == "reward_std" else key)
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_xlabel("GRPO step")
    ax2.set_ylabel("sampled reward (mean over completions)")
    ax2.set_title("GRPO rewards on the train questions (sampled, temperature "
                  f"{g['trainer_args']['temperature']:g})")
    ax2.legend(fontsize=7.5)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(res: dict, out_dir: Path, attempts: list[dict]) -> str:
    md = markdown(res, attempts)
    name = res["settings"].get("out_name", "learning_demo")
    (out_dir / f"{name}.md").write_text(md)
    plot(res, out_dir / f"{name}.png")
    if res.get("grpo"):
        grpo_plot(res, out_dir / f"{name}_grpo.png")
    return md


def main(argv=None) -> dict:
    args = parse_args(argv)
    use_attribute(args.attribute)
    if args.compare:
        print(compare(*args.compare, out_dir=args.out_dir, stem=args.compare_name))
        return {}
    if args.render_only:
        res = json.loads((args.out_dir / f"{args.out_name}.json").read_text())
        use_attribute(res.get("attribute", args.attribute))
        print(render(res, args.out_dir, load_attempts() if args.out_name == "learning_demo" else []))
        if args.contact_sheet:
            rerender_contact_sheets(res, args)
        return res
    t_start = time.perf_counter()
    import torch

    from remot_train.model import build_tiny_model, count_parameters, load

    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    k = args.clip_frames
    if k != 2 and args.views != "clips":
        raise SystemExit("--clip-frames needs --views clips")
    root = args.data_root = (args.data_root or (REPO / "data" / ("learning_demo" if k == 2 else f"learning_demo_k{k}"))).resolve()
    release = ensure_release(root, clip_frames=k)
    extra = [ensure_release(world_root(root, s), seed=s, clip_frames=k) for s in range(1, args.extra_worlds + 1)]
    release_s = time.perf_counter() - t0
    train_rows, base_train, test_rows = load_rows(release, args.image_size, args.completion, args.augment, extra,
                                                  views=args.views, clip_frames=k if args.views == "clips" else None)
    forms = 4 if args.augment else 1
    if args.limit_train:
        train_rows, base_train = train_rows[: args.limit_train * forms], base_train[: args.limit_train]
    if args.limit_test:
        test_rows = test_rows[: args.limit_test]
    rule = text_only_rule(base_train)
    answers = [r["answer"] for r in test_rows]
    majority = max(set(answers), key=answers.count)
    baselines = {
        "chance": 0.5,
        "majority_class": answers.count(majority) / len(answers),
        "text_only_rule": sum(rule[directions(r)[0]] == r["answer"] for r in test_rows) / len(test_rows),
    }
    data = {
        "release": str(release),
        "release_id": release.name,
        "extra_releases": [str(e) for e in extra],
        "train_questions": len(base_train),
        "train_examples": len(train_rows),
        "train_episodes": len(_episodes(release, "train")) + sum(len(_episodes(e, None)) for e in extra),
        "test_episodes": len(_episodes(release, "test")),
        "test_questions": len(test_rows),
    }
    print(f"{len(base_train)} train questions -> {len(train_rows)} examples; {len(test_rows)} held-out", flush=True)

    work = Path(tempfile.mkdtemp(prefix="learning_demo_"))
    try:
        model_dir = build_tiny_model(work / "tiny", seed=args.seed, image_size=args.image_size,
                                     tokenizer=args.tokenizer, hidden_size=args.hidden_size,
                                     num_hidden_layers=args.layers,
                                     intermediate_size=2 * args.hidden_size, vision_hidden_size=args.vision_hidden,
                                     vision_intermediate_size=2 * args.vision_hidden)
        model, processor = load(model_dir)
        n_params = count_parameters(model)
        from remot_train.clips import processor_for

        enc = processor_for(processor, args.views, k)(text=["x <|vision_start|><|image_pad|><|vision_end|>"],
                                                   images=[test_rows[0]["images"][0]], return_tensors="pt")
        image_tokens = int(enc["image_grid_thw"][0].prod()) // 4
        before, _ = evaluate_rows(model, processor, test_rows, args.completion, views=args.views)
        print(f"untrained: {json.dumps(before)}", flush=True)
        del model
        curve = eval_curve(processor, test_rows, args) if args.eval_every else None
        result, tr = train(model_dir, train_rows, work / "run", args, curve)
        model, processor = load(result.final_checkpoint)
        after, records = evaluate_rows(model, processor, test_rows, args.completion, views=args.views)
        print(f"trained: {json.dumps(after)}", flush=True)
        seen = base_train[:: max(1, len(base_train) // len(test_rows))][: len(test_rows)]
        on_train, _ = evaluate_rows(model, processor, seen, args.completion, views=args.views)
        mlp = pixel_mlp_control(base_train, test_rows, args) if args.pixel_mlp else None
        if args.contact_sheet:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            contact_sheet(test_rows, records, args.out_dir / f"{args.out_name}_contact.png", args.views)
        print(f"trained, on train questions: {json.dumps(on_train)}", flush=True)
        grpo_res = None
        if args.grpo_minutes:
            del model
            gcurve = eval_curve(processor, test_rows, args, every=args.grpo_eval_every) if args.grpo_eval_every else None
            gresult, g = grpo_stage(result.final_checkpoint, base_train, work / "grpo", args, gcurve)
            model, processor = load(gresult.final_checkpoint)
            g["after"], grecords = evaluate_rows(model, processor, test_rows, args.completion, views=args.views)
            g["after_on_train"], _ = evaluate_rows(model, processor, seen, args.completion, views=args.views)
            g["prompts"] = len(base_train)
            g["heldout_records"] = held_out_records(grecords)
            print(f"after GRPO: {json.dumps(g['after'])}", flush=True)
            if args.contact_sheet:
                contact_sheet(test_rows, grecords, args.out_dir / f"{args.out_name}_grpo_contact.png", args.views)
            grpo_res = g
    finally:
        shutil.rmtree(work, ignore_errors=True)

    curve = tr["loss_curve"]
    res = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "data": data,
        "model_parameters": n_params,
        "image_tokens": image_tokens,
        "before": before,
        "after": after,
        "after_on_train": on_train,
        "baselines": baselines,
        "majority_answer": majority,
        "text_rule": rule,
        "steps": tr["steps"],
        "train_wall_s": tr["train_wall_s"],
        "train_cpu_s": tr["train_cpu_s"],
        "curve_eval_cpu_s": tr["curve_eval_cpu_s"],
        "curve_eval_wall_s": tr["curve_eval_wall_s"],
        "heldout_curve": tr["heldout_curve"],
        "views": args.views,
        "heldout_records": held_out_records(records),
        "pixel_mlp": mlp,
        "attribute": f"{DOMAIN}/{ATTRIBUTE}",
        "grpo": grpo_res,
        "sft_call_s": tr["sft_call_s"],
        "stopped_by_time_budget": tr["stopped_by_time_budget"],
        "trainer_args": tr["trainer_args"],
        "final_loss": sum(c["loss"] for c in curve[-5:]) / max(1, len(curve[-5:])),
        "loss_curve": curve,
        "release_s": round(release_s, 1),
        "threads": torch.get_num_threads(),
        "examples": [{k: r[k] for k in ("question_id", "answer", "parsed", "correct", "completion")}
                     for r in records[:8]],
    }
    res["verdict"] = verdict(before, after, {k: v for k, v in baselines.items()})
    res["learned"] = learned(before, after, on_train)
    res["total_wall_s"] = round(time.perf_counter() - t_start, 1)

    out_dir = args.out_dir
    if args.attempt:
        out_dir = args.attempt_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    attempts = load_attempts() if args.out_name == "learning_demo" or args.attempt else []
    if args.attempt:
        record = {k: res[k] for k in ("settings", "model_parameters", "before", "after", "after_on_train", "baselines", "steps",
                                      "train_wall_s", "stopped_by_time_budget", "final_loss", "total_wall_s")}
        record.update(note=args.attempt, comment=args.comment)
        ATTEMPTS.parent.mkdir(parents=True, exist_ok=True)
        with ATTEMPTS.open("a") as f:
            f.write(json.dumps(record) + "\n")
        attempts.append(record)
    (out_dir / f"{args.out_name}.json").write_text(json.dumps(res, indent=1))
    print(render(res, out_dir, attempts))
    print(f"wrote {out_dir / (args.out_name + '.json')}, .md, .png", flush=True)
    return res


def _episodes(release: Path, split: str | None) -> list[dict]:
    """The episodes of ``split`` (None: all) that have true/false questions on DOMAIN/ATTRIBUTE."""
    import duckdb

    from remot_train.data import release_files

    sql = ("SELECT DISTINCT episode_id FROM read_parquet(?) "
           "WHERE domain = ? AND attribute = ? AND question_type = 'true_false' AND (? IS NULL OR split = ?)")
    params = [release_files(release, "questions"), DOMAIN, ATTRIBUTE, split, split]
    return [{"episode_id": e} for (e,) in duckdb.sql(sql, params=params).fetchall()]


if __name__ == "__main__":
    main()
