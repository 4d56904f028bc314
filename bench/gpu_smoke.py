"""GPU smoke of every training schedule on a randomly initialised Qwen3-VL-4B, in one command.

    python bench/gpu_smoke.py --release data --out bench/results/gpu_smoke

What it checks and measures. Qwen3-VL-4B is built from its real config
(``remot_train.recipes.load_model_config("qwen3-vl-4b-thinking")``: 4.44B parameters, vocabulary
151,936) with random weights and the real tokenizer (``build_tokenizer()``, 151,669 tokens, built
offline) and remot's image-only processor, saved once to a temporary folder, and then each
schedule starts from that saved base model, with the 4B recipes' precision policy (``bf16-lora``:
frozen bf16 weights, fp32 LoRA adapters r 64 on every language projection, bf16 autocast), their
``lora:`` section, learning rates, KL beta 0.01, loss type and lengths, but tiny step counts:

==============  =================================================================================
schedule        what runs (``remot_train``)
==============  =================================================================================
``sft``         5 SFT steps (``trainers.sft``; 4 rows x 4 accumulation steps per step, the think
                block trained: ``include_think=True`` with metadata rationales, as the recipes)
``grpo``        5 GRPO steps (``trainers.grpo``): 16 completions per step = 4 prompts x 4 rollouts
``alternating`` 6 steps of ``trainers.alternating`` (k_sft 1, k_grpo 3: S G G G S G)
``ffr``         3 FFR steps (``trainers.ffr.ffr``, metadata teacher, the release's sample lookup)
``evaluate``    32 remot-bench test questions (``remot_train.evaluate.evaluate``, greedy)
==============  =================================================================================

Rows are the release's questions with 4 images (``question_rows``), resized to ``--image-size``
(default 256x192, the release's size: 48 image tokens per image); evaluation takes the first 32
test questions with 4 images (others fill up if there are not enough).

Per schedule it reports (stdout, ``<out>/gpu_smoke.json`` and a table in ``<out>/gpu_smoke.md``,
the JSON rewritten after each schedule so a killed run leaves what it finished): every step's
wall time (``torch.cuda.synchronize()`` at both ends; the mean leaves out the first step, which
pays for CUDA context, kernel autotuning and allocator growth), tokens per step and tokens/s
(GRPO steps: trl's ``state.num_input_tokens_seen`` increase, i.e. its ``num_tokens`` metric,
prompt + completion tokens; SFT steps, in ``sft`` and in ``alternating``: the non-padding tokens
of the SFT forwards, which is what trl's SFT ``num_tokens`` counts, cross-checked in the JSON),
peak GPU memory (``torch.cuda.max_memory_allocated``, reset before each schedule; on CPU the
process's peak RSS, which cannot be reset), the share of the trainable weights that changed
(``remot_train.precision.update_monitor``) and the losses. A schedule PASSes when it ran all its
steps, at least 90% of what it trains changed and every loss is finite; ``evaluate`` PASSes when
every question got a completion. Evaluation reports questions/s, new tokens generated (up to and
including the end-of-turn token), new tokens/s and the truncation rate. Also recorded: device,
torch / transformers / trl versions, parameter counts, the wall time of each part and in total.
Exit status 0 when every schedule PASSes, 1 otherwise.

Smoke-only choices (all in the JSON's ``notes``/``note``):

* **Sampling.** As in ``bench/bench_grpo_step.py``, GRPO/FFR generation suppresses
  (``generation_kwargs.suppress_tokens``, :func:`bench_grpo_step.suppressed_ids`) the ids the
  tokenizer cannot decode, the Qwen control tokens (image pads would break the vision forward)
  and EOS, so every completion is exactly ``--max-completion-length`` tokens (default 128).
  Hence ``mask_truncated_completions`` is off here (the recipes turn it on; with it every
  completion would be masked and the gradient would be zero).
* **Reward.** A random model earns the same (nothing) from remot's rewards on every completion,
  so the group advantages, and the GRPO gradient, would be zero. A smoke-only reward
  ``smoke_id_reward`` (the sum of the sampled ids modulo 1000, over 1000; weight 1) is added to
  the recipe's four rewards (and to FFR's RIR): it varies within every group.
* **Schedule.** ``lr_scheduler_type: constant`` and no warm-up (the recipes warm up over 10
  steps or 3%, which would leave the first steps at learning rate 0), no checkpoints; the
  learning rates are the recipes' (SFT 1e-4, GRPO 1e-5). KL beta stays 0.01: with LoRA, trl's
  reference model is the same weights with the adapters off, so there is no reference reload.
* **Saving.** Each trainer builder saves its final (merged) model, ~9 GB at 4B, into the
  temporary folder; it is timed apart from the steps and deleted after each schedule. On a
  machine with a slow disk, ``--tmpdir /dev/shm`` keeps the base model and these saves in memory
  (at most ~18 GB at once).

Time budget: under 8 minutes on one H100 80GB (about 1 min to build and save the random model,
~10-20 s per model load and per final save, 5 + 5 + 6 + 3 steps of a few to ~15 s each, 32
questions in 2 batches); ``total_wall_s`` and ``within_budget`` in the JSON say how it went.
Memory: bf16 base 8.9 GB, adapters and AdamW 2.1 GB, activations with checkpointing: well under
80 GB. Set up a GPU machine as ``bench/bench_grpo_step.py``'s docstring says (the ``train``
extra: transformers 5.23, trl 1.16, peft, datasets; no model weights, no network).

CPU smoke (what the test suite runs, ~1 minute): ``--model tiny-ish --device cpu`` (the
scaled-down config of ``bench_grpo_step``: same model class, real vocabulary) with small step
counts and sizes, e.g. ``--sft-steps 2 --grpo-steps 2 --alternating-steps 2 --ffr-steps 2
--eval-questions 4 --image-size 64x48 --max-completion-length 8 ...``. The precision policy is
still the recipes' ``bf16-lora`` (bf16 autocast works on CPU for a model this small);
``--precision`` changes it. Such a run is flagged ``"smoke": true`` (as is any non-4B or CPU run).

Nothing is written outside ``--out`` except the temporary folder (``--tmpdir``, default the
system's), which is removed at the end.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _load_bench():
    """``bench/bench_grpo_step.py`` as a module (its model, sampling and timing helpers)."""
    name = "bench_grpo_step"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / "bench_grpo_step.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()

RECIPE_FAMILY = "qwen3-vl-4b-thinking"
TRAINED = ("sft", "grpo", "alternating", "ffr")
SCHEDULES = TRAINED + ("evaluate",)
#: The wall-time budget on one H100 80GB.
BUDGET_S = 480
#: A trained schedule passes when at least this share of its trainable weights changed.
MIN_CHANGED = 0.9
SMOKE_REWARD_NOTE = ("smoke-only reward: smoke_id_reward (the sum of the sampled completion ids modulo 1000, "
                     "divided by 1000; weight 1.0) is added to the recipe's rewards in grpo, alternating and ffr, "
                     "because a random model earns the same from remot's rewards on every completion (all "
                     "unformatted), which would make every group advantage, and so the GRPO gradient, zero")


# --------------------------------------------------------------------------------------------
# rows, rewards, counters


def smoke_id_reward(prompts, completions, completion_ids=None, **kwargs) -> list[float]:
    """The sum of a completion's sampled ids modulo 1000, divided by 1000: random tokens give a
    reward that varies within each group (module doc, "Reward"). Unlike a parity (all four
    rollouts of a group agree with probability 1/8), all four agree with probability ~1e-9, so
    every group has a non-zero advantage and every step a gradient.

    >>> smoke_id_reward(["p", "p"], ["a", "b"], completion_ids=[[1, 2], [999, 2]])
    [0.003, 0.001]
    """
    return [(sum(int(i) for i in ids) % 1000) / 1000 for ids in completion_ids]


def pick_rows(release: str, split: str, n: int, size: tuple[int, int], images: int = 4, **kwargs) -> tuple[list, int]:
    """The first ``n`` questions of ``split`` (by id) whose rows have ``images`` images, others
    filling up when there are too few (repeated when the split is smaller than ``n``), every
    image resized to ``size`` (width, height). Returns ``(rows, how many have images images)``."""
    from remot_train.data import question_rows

    rows = question_rows(release, split=split, limit=max(64, 8 * n), **kwargs)
    chosen = [r for r in rows if len(r["images"]) == images][:n]
    if len(chosen) < n:
        rows = question_rows(release, split=split, **kwargs)
        chosen = [r for r in rows if len(r["images"]) == images][:n]
    full = len(chosen)
    chosen += [r for r in rows if len(r["images"]) != images][: n - len(chosen)]
    if not chosen:
        raise SystemExit(f"--release {release}: no {split} questions")
    while len(chosen) < n:
        chosen.append(chosen[len(chosen) % max(full, 1)])
    for row in chosen:
        row["images"] = [im.resize(size) if im.size != size else im for im in row["images"]]
    return chosen, full


class SFTTokens:
    """Counts the non-padding tokens of the SFT forwards (the ones given ``labels``, or the
    boolean ``logits_to_keep`` mask of remot's SFT loss, with gradients on), which advance neither ``state.num_input_tokens_seen`` nor, in the
    alternating trainer, trl's ``num_tokens``. A forward pre-hook on the trained model,
    installed by :meth:`callback` at train begin and removed at train end."""

    def __init__(self):
        self.count = 0
        self._handle = None

    def _pre(self, module, args, kwargs):
        import torch

        keep = kwargs.get("logits_to_keep")
        span_loss = isinstance(keep, torch.Tensor) and keep.dtype == torch.bool  # remot's SFT loss (span_cross_entropy)
        if torch.is_grad_enabled() and (kwargs.get("labels") is not None or span_loss):
            mask = kwargs.get("attention_mask")
            self.count += int(mask.sum()) if mask is not None else int(kwargs["input_ids"].numel())

    def callback(self):
        from transformers import TrainerCallback

        counter = self

        class _Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                if model is not None and counter._handle is None:
                    counter._handle = model.register_forward_pre_hook(counter._pre, with_kwargs=True)

            def on_train_end(self, args, state, control, **kwargs):
                if counter._handle is not None:
                    counter._handle.remove()
                    counter._handle = None

        return _Callback()


class StepTokens:
    """Per optimizer step: the SFT tokens :class:`SFTTokens` counted during it (added to the
    :class:`bench_grpo_step.StepClock` step's ``num_input_tokens_seen`` increase)."""

    def __init__(self, counter: SFTTokens):
        self.counter = counter
        self.steps: list[int] = []
        self._start = 0

    def callback(self):
        from transformers import TrainerCallback

        me = self

        class _Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                me._start = me.counter.count

            def on_step_end(self, args, state, control, **kwargs):
                me.steps.append(me.counter.count - me._start)

        return _Callback()


def count_new_tokens(model, eos: list[int]) -> dict:
    """Wrap ``model.generate`` (on this instance) to count the new tokens of every row, up to and
    including its first end-of-turn token (all of them when it never ends). Returns the tally."""
    import torch

    tally = {"new_tokens": 0, "rows": 0, "calls": 0}
    generate = model.generate

    def counting(*args, **kwargs):
        out = generate(*args, **kwargs)
        new = out[:, kwargs["input_ids"].shape[1]:]
        ended = torch.isin(new, torch.tensor(eos, device=new.device))
        first = torch.where(ended.any(dim=1), ended.int().argmax(dim=1) + 1, torch.full_like(ended[:, 0], new.shape[1],
                                                                                               dtype=torch.long))
        tally["new_tokens"] += int(first.sum())
        tally["rows"] += new.shape[0]
        tally["calls"] += 1
        return out

    model.generate = counting
    return tally


# --------------------------------------------------------------------------------------------
# device helpers


def _reset_peak(on_gpu: bool) -> None:
    import torch

    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(on_gpu: bool) -> dict:
    import torch

    if on_gpu:
        return {"peak_memory_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 2),
                "peak_memory_kind": "torch.cuda.max_memory_allocated (reset before the schedule)"}
    import resource

    return {"peak_memory_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
            "peak_memory_kind": "process peak RSS (CPU; not resettable, so a running maximum)"}


def _finite(xs) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


# --------------------------------------------------------------------------------------------
# schedules


def trainer_args(recipe_section: dict, opts, on_gpu: bool, max_steps: int, grpo: bool, suppress: list[int]) -> dict:
    """A recipe's trainer section with the smoke's overrides (module doc)."""
    args = copy.deepcopy(recipe_section)
    for key in ("num_train_epochs", "save_steps", "save_total_limit", "enable_jit_checkpoint", "warmup_ratio"):
        args.pop(key, None)
    args.update(max_steps=max_steps, lr_scheduler_type="constant", warmup_steps=0, save_strategy="no",
                logging_steps=1, activation_checkpointing=opts.checkpointing)
    if not on_gpu:
        args.update(dataloader_pin_memory=False, dataloader_num_workers=0)
    if grpo:
        args.update(per_device_train_batch_size=opts.grpo_batch_size, num_generations=opts.num_generations,
                    gradient_accumulation_steps=1, beta=opts.beta, max_completion_length=opts.max_completion_length,
                    mask_truncated_completions=False, log_completions=False,
                    generation_kwargs={"suppress_tokens": suppress})
    else:
        args.update(per_device_train_batch_size=opts.sft_batch_size, gradient_accumulation_steps=opts.sft_grad_accum)
    ckpt = bench._ckpt_field()
    if ckpt != "activation_checkpointing":
        args[ckpt] = args.pop("activation_checkpointing")
    return args


def run_trained(name: str, model_dir: Path, work: Path, rows: list[dict], opts, ctx: dict) -> dict:
    """One trained schedule from the saved base model: timings, tokens, memory, changed weights."""
    from remot_train import trainers
    from remot_train.precision import policy, update_monitor
    from remot_train.recipes import load_recipe, resolve_rewards

    recipe = load_recipe(f"{RECIPE_FAMILY}/{name}")
    on_gpu, suppress = ctx["on_gpu"], ctx["suppress"]
    precision = opts.precision or recipe.get("precision", "fp32")
    lora = recipe.get("lora") if policy(precision).needs_lora or opts.lora else None
    steps = {"sft": opts.sft_steps, "grpo": opts.grpo_steps, "alternating": opts.alternating_steps,
             "ffr": opts.ffr_steps}[name]
    section = "sft" if name == "sft" else "grpo"
    args = trainer_args(recipe[section], opts, on_gpu, steps, grpo=section == "grpo", suppress=suppress)
    clock, sft_tokens = bench.StepClock(), SFTTokens()
    step_tokens, monitor = StepTokens(sft_tokens), update_monitor()
    callbacks = [clock.callback(), sft_tokens.callback(), step_tokens.callback(), monitor]
    common = dict(precision=precision, lora=lora, args=args, callbacks=callbacks, resume=False)
    out = work / name
    extra: dict = {}
    funcs, weights = [], []
    if section == "grpo":
        funcs, weights = resolve_rewards(recipe)
        funcs, weights = funcs + [smoke_id_reward], weights + [1.0]
    _reset_peak(on_gpu)
    t0 = time.perf_counter()
    if name == "sft":
        result = trainers.sft(str(model_dir), rows, out, include_think=bool(recipe.get("include_think")), **common)
    elif name == "grpo":
        result = trainers.grpo(str(model_dir), rows, out, reward_funcs=funcs, reward_weights=weights, **common)
    elif name == "alternating":
        alt = recipe["alternating"]
        result = trainers.alternating(
            str(model_dir), rows, rows, out, k_sft=int(alt["k_sft"]), k_grpo=int(alt["k_grpo"]),
            sft_batch_size=opts.alt_sft_batch_size or alt.get("sft_batch_size"), reward_funcs=funcs,
            reward_weights=weights, include_think=bool(recipe.get("include_think")), **common)
        extra["k_sft"], extra["k_grpo"] = int(alt["k_sft"]), int(alt["k_grpo"])
        extra["sft_batch_size"] = opts.alt_sft_batch_size or alt.get("sft_batch_size")
    else:
        from remot_train.trainers.ffr import ffr, make_teacher, release_sample_lookup

        section_ffr = recipe.get("ffr") or {}
        teacher = make_teacher(section_ffr.get("teacher", "metadata"), **(section_ffr.get("teacher_options") or {}))
        result = ffr(str(model_dir), rows, out, reward_funcs=funcs, reward_weights=weights, teacher=teacher,
                     kappa=float(section_ffr.get("kappa", 0.3)), repairs=int(section_ffr.get("repairs", 2)),
                     threshold=section_ffr.get("threshold"),
                     alignment_weight=float(section_ffr.get("alignment_weight", 0.0)),
                     coordinates=bool(section_ffr.get("coordinates", True)),
                     sample_lookup=release_sample_lookup(ctx["release"]), **common)
        stats_file = out / "ffr_stats.json"
        if stats_file.is_file():
            extra["ffr_stats"] = json.loads(stats_file.read_text())
    wall = time.perf_counter() - t0
    bench._sync()
    peak = _peak(on_gpu)

    secs = [s["seconds"] for s in clock.steps]
    tokens = [int(s["tokens"]) + (step_tokens.steps[i] if i < len(step_tokens.steps) else 0)
              for i, s in enumerate(clock.steps)]
    measured = slice(1, None) if len(secs) > 1 else slice(None)
    m_secs, m_toks = secs[measured], tokens[measured]
    history = result.log_history
    losses = [float(e["loss"]) for e in history if "loss" in e and "step" in e]
    sft_losses = [float(e["sft/loss"]) for e in history if "sft/loss" in e]
    changed = monitor.changed_fraction
    checks = {
        "steps_done": len(secs) == steps and result.global_step == steps,
        "changed_fraction_ge_0.9": changed is not None and math.isfinite(changed) and changed >= MIN_CHANGED,
        "losses_finite": bool(losses) and _finite(losses) and _finite(sft_losses),
    }
    rewards = sorted({k for e in history for k in e if k.startswith("rewards/") and k.endswith("/mean")})
    summary = {
        "status": "PASS" if all(checks.values()) else "FAIL",
        "checks": checks,
        "recipe": f"{RECIPE_FAMILY}/{name}",
        "precision": precision,
        "lora_r": (lora or {}).get("r"),
        "learning_rate": args.get("learning_rate"),
        "steps": len(secs),
        "phases": list(result.phases),
        "step_seconds": [round(x, 4) for x in secs],
        "first_step_s": round(secs[0], 4) if secs else None,
        "step_mean_s": statistics.fmean(m_secs) if m_secs else None,
        "step_sd_s": statistics.stdev(m_secs) if len(m_secs) > 1 else 0.0,
        "tokens_per_step": tokens,
        "tokens_per_s": sum(m_toks) / sum(m_secs) if m_secs and sum(m_secs) else None,
        "tokens_per_s_all_steps": sum(tokens) / sum(secs) if secs and sum(secs) else None,
        "changed_fraction": changed,
        "losses": losses,
        "final_rewards": {k: [e[k] for e in history if k in e][-1] for k in rewards},
        "load_train_save_wall_s": round(wall, 2),
        "steps_total_s": round(sum(secs), 2),
        "precision_report": {k: v for k, v in (result.precision or {}).items() if k != "checked"},
        **peak,
        **extra,
    }
    if sft_losses:
        summary["sft_losses"] = sft_losses
    if len(set(result.phases)) > 1:  # alternating: the two phases cost very differently
        by_phase: dict[str, list[int]] = {}
        for i, phase in enumerate(result.phases[: len(secs)]):
            by_phase.setdefault(phase, []).append(i)
        summary["by_phase"] = {
            phase: {"steps": len(ix),
                    "step_mean_s": statistics.fmean([secs[i] for i in ix if i] or [secs[i] for i in ix]),
                    "tokens_per_s": (sum(tokens[i] for i in ix) / sum(secs[i] for i in ix)) if ix else None}
            for phase, ix in by_phase.items()}
    if name == "sft":  # cross-check: trl's own SFT token count
        trl_tokens = [e["num_tokens"] for e in history if "num_tokens" in e]
        summary["trl_num_tokens"] = trl_tokens[-1] if trl_tokens else None
    if section == "grpo":
        summary["reward_funcs"] = [getattr(f, "__name__", str(f)) for f in funcs]
        summary["reward_weights"] = list(weights)
        if name == "ffr":  # the builder puts the RIR in task_reward's place, at its weight
            summary["reward_funcs"] = ["rir" if n == "task_reward" else n for n in summary["reward_funcs"]]
        summary["completions_per_step"] = opts.grpo_batch_size
        summary["num_generations"] = opts.num_generations
    del result
    shutil.rmtree(out, ignore_errors=True)  # the final merged model: ~9 GB at 4B
    return summary


def run_evaluate(model_dir: Path, rows: list[dict], opts, ctx: dict) -> dict:
    """Greedy evaluation of the saved random base model on ``rows``."""
    from remot_train.evaluate import evaluate
    from remot_train.model import load
    from remot_train.precision import policy

    on_gpu = ctx["on_gpu"]
    dtype = policy(ctx["precision"]).weights
    _reset_peak(on_gpu)
    t0 = time.perf_counter()
    model, processor = load(model_dir, dtype=dtype, device="cuda" if on_gpu else None)
    load_s = time.perf_counter() - t0
    tok = processor.tokenizer
    eos = sorted({tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} - {None, tok.unk_token_id})
    tally = count_new_tokens(model, eos)
    bench._sync()
    t0 = time.perf_counter()
    result = evaluate(model, processor, rows, batch_size=opts.eval_batch_size, max_new_tokens=opts.eval_max_new_tokens)
    bench._sync()
    wall = time.perf_counter() - t0
    peak = _peak(on_gpu)
    del model
    m = result.metrics
    n = len(result.records)
    checks = {"every_question_answered": n == len(rows) and tally["rows"] == n,
              "tokens_generated": tally["new_tokens"] > 0}
    return {
        "status": "PASS" if all(checks.values()) else "FAIL",
        "checks": checks,
        "questions": n,
        "four_image_questions": ctx["eval_four_image"],
        "batch_size": opts.eval_batch_size,
        "max_new_tokens": opts.eval_max_new_tokens,
        "decoding": "greedy (evaluate's default), no suppressed tokens",
        "dtype": dtype,
        "load_s": round(load_s, 2),
        "wall_s": round(wall, 3),
        "questions_per_s": n / wall if wall else None,
        "new_tokens": tally["new_tokens"],
        "new_tokens_per_s": tally["new_tokens"] / wall if wall else None,
        "truncation_rate": m.get("truncation_rate", {}).get("value"),
        "format_failure_rate": m["format_failure_rate"]["value"],
        "partial_accuracy": m["partial"]["value"],
        **peak,
    }


# --------------------------------------------------------------------------------------------
# report


def markdown(result: dict) -> str:
    d, m = result["device"], result["model"]
    head = ("CPU/SMOKE run (scaled-down model and/or CPU: checks the code path, NOT the GPU result)"
            if result["smoke"] else "GPU result")
    lines = [
        f"# GPU smoke of every schedule: {head}",
        "",
        f"- device: {d['name']} ({d['type']}); torch {d['torch']}, transformers {d['transformers']}, trl {d['trl']}",
        f"- model: {m['kind']} (Qwen3-VL, random weights), {m['params']['total']:,} parameters "
        f"({m['params']['vision']:,} vision); precision {result['setup']['precision']}",
        f"- total wall {result['total_wall_s']:.1f} s (budget {BUDGET_S} s on one H100); **{result['status']}**",
        "",
        "| schedule | status | steps | first step s | step mean s | tokens/s | peak GiB | changed | losses finite |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    for name in TRAINED:
        r = result["schedules"].get(name)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {name} | {r['status']} | error: {r['error'].splitlines()[-1][:80]} | | | | | | |")
            continue
        lines.append(f"| {name} | {r['status']} | {r['steps']} | {f(r['first_step_s'], '.2f')} "
                     f"| {f(r['step_mean_s'], '.2f')} | {f(r['tokens_per_s'], '.0f')} "
                     f"| {f(r['peak_memory_gib'], '.1f')} "
                     f"| {f(r['changed_fraction'], '.3f')} | {r['checks']['losses_finite']} |")
    e = result["schedules"].get("evaluate")
    if e is not None:
        lines += ["", "| evaluation | status | questions | questions/s | new tokens | new tokens/s | truncation "
                      "| peak GiB |",
                  "|---|---|---|---|---|---|---|---|"]
        if "error" in e:
            lines.append(f"| evaluate | {e['status']} | error: {e['error'].splitlines()[-1][:80]} | | | | | |")
        else:
            lines.append(f"| evaluate | {e['status']} | {e['questions']} | {f(e['questions_per_s'], '.2f')} "
                         f"| {e['new_tokens']} | {f(e['new_tokens_per_s'], '.0f')} | {f(e['truncation_rate'], '.2f')} "
                         f"| {f(e['peak_memory_gib'], '.1f')} |")
    lines.append("")
    lines += [f"- note: {n}" for n in [result["note"], *result["notes"]]]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_smoke.json").write_text(json.dumps(result, indent=1, default=str))
    (out / "gpu_smoke.md").write_text(markdown(result))


# --------------------------------------------------------------------------------------------
# main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--release", required=True, help="a data root with releases/LATEST, or a release folder")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "gpu_smoke"),
                   help="folder for gpu_smoke.json and gpu_smoke.md")
    p.add_argument("--model", choices=["4b", "tiny-ish"], default="4b",
                   help="4b: the real architecture; tiny-ish: bench_grpo_step's scaled-down config (CPU)")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default cuda when available")
    p.add_argument("--precision", default=None,
                   help="precision policy for every schedule (default: the 4B recipes', bf16-lora)")
    p.add_argument("--lora", action=argparse.BooleanOptionalAction, default=False,
                   help="with --precision other than bf16-lora: keep the recipes' lora: section")
    p.add_argument("--image-size", default="256x192", help="image WxH the rows are resized to")
    p.add_argument("--max-completion-length", type=int, default=128, help="GRPO/FFR completion tokens")
    p.add_argument("--sft-steps", type=int, default=5)
    p.add_argument("--grpo-steps", type=int, default=5)
    p.add_argument("--alternating-steps", type=int, default=6)
    p.add_argument("--ffr-steps", type=int, default=3)
    p.add_argument("--eval-questions", type=int, default=32)
    p.add_argument("--grpo-batch-size", type=int, default=16, help="completions per GRPO step (per device)")
    p.add_argument("--num-generations", type=int, default=4, help="rollouts per prompt")
    p.add_argument("--beta", type=float, default=0.01, help="KL coefficient (the recipes': 0.01)")
    p.add_argument("--sft-batch-size", type=int, default=None, help="default: the SFT recipe's (4)")
    p.add_argument("--sft-grad-accum", type=int, default=None, help="default: the SFT recipe's (4)")
    p.add_argument("--alt-sft-batch-size", type=int, default=None, help="default: the alternating recipe's (8)")
    p.add_argument("--eval-batch-size", type=int, default=None, help="default: the recipes' eval batch (16)")
    p.add_argument("--eval-max-new-tokens", type=int, default=None, help="default: --max-completion-length")
    p.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=None,
                   help="activation checkpointing (default: the recipes' (on) on CUDA, off on CPU)")
    p.add_argument("--schedules", default=",".join(SCHEDULES), help=f"comma-separated subset of {SCHEDULES}")
    p.add_argument("--threads", type=int, default=None, help="CPU torch threads (default 1 on CPU, as bench_grpo_step)")
    p.add_argument("--tmpdir", default=None, help="where the temporary model folder goes (default: the system's)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    opts = parse_args(argv)
    import torch

    on_gpu = (opts.device or ("cuda" if torch.cuda.is_available() else "cpu")) == "cuda"
    if on_gpu and not torch.cuda.is_available():
        raise SystemExit("--device cuda, but torch sees no CUDA device")
    threads = torch.get_num_threads()
    if opts.threads or not on_gpu:
        torch.set_num_threads(opts.threads or 1)
    try:
        return _run(opts, on_gpu)
    finally:
        torch.set_num_threads(threads)  # main() may run inside a test process


def _run(opts, on_gpu: bool) -> dict:
    from remot_train.data import resolve_release
    from remot_train.model import build_tokenizer
    from remot_train.precision import policy
    from remot_train.recipes import load_recipe

    t_start = time.perf_counter()
    schedules = [s.strip() for s in opts.schedules.split(",") if s.strip()]
    unknown = sorted(set(schedules) - set(SCHEDULES))
    if unknown:
        raise SystemExit(f"--schedules: unknown {unknown}; choose from {SCHEDULES}")
    sft_recipe = load_recipe(f"{RECIPE_FAMILY}/sft")
    alt_recipe = load_recipe(f"{RECIPE_FAMILY}/alternating")
    opts.precision_default = sft_recipe.get("precision", "fp32")
    precision = opts.precision or opts.precision_default
    policy(precision)  # validates the name
    opts.sft_batch_size = opts.sft_batch_size or int(sft_recipe["sft"].get("per_device_train_batch_size", 4))
    opts.sft_grad_accum = opts.sft_grad_accum or int(sft_recipe["sft"].get("gradient_accumulation_steps", 1))
    opts.eval_batch_size = opts.eval_batch_size or int((sft_recipe.get("eval") or {}).get("batch_size", 16))
    opts.eval_max_new_tokens = opts.eval_max_new_tokens or opts.max_completion_length
    opts.checkpointing = on_gpu if opts.checkpointing is None else opts.checkpointing
    if opts.grpo_batch_size % opts.num_generations:
        raise SystemExit("--grpo-batch-size must be a multiple of --num-generations (whole groups per step)")
    release = resolve_release(opts.release)
    size = bench.parse_size(opts.image_size)
    out = Path(opts.out)
    info = bench.device_info(on_gpu)

    tokenizer = build_tokenizer()
    config = bench.bench_config(opts.model, tokenizer)
    params = bench.parameter_counts(config)
    suppress = bench.suppressed_ids(config, tokenizer)
    print(f"device: {info['name']} | model {opts.model}: {params['total']:,} parameters | precision {precision} | "
          f"tokenizer {len(tokenizer):,} tokens", flush=True)

    alt_sft = opts.alt_sft_batch_size or int(alt_recipe["alternating"].get("sft_batch_size") or 1)
    prompts = opts.grpo_batch_size // opts.num_generations
    n_train = max(opts.sft_batch_size * opts.sft_grad_accum * opts.sft_steps, prompts * opts.grpo_steps,
                  prompts * opts.ffr_steps, prompts * opts.alternating_steps + alt_sft * opts.alternating_steps, 1)
    t0 = time.perf_counter()
    train_rows, train_four = pick_rows(str(release), "train", n_train, size, with_completion=True, rationale=True) \
        if set(TRAINED) & set(schedules) else ([], 0)
    eval_rows, eval_four = pick_rows(str(release), "test", opts.eval_questions, size) if "evaluate" in schedules \
        else ([], 0)
    rows_s = time.perf_counter() - t0

    smoke = opts.model != "4b" or not on_gpu
    notes = [
        "GRPO/FFR sampling suppresses undecodable ids, Qwen control tokens and EOS (bench_grpo_step.suppressed_ids): "
        f"every completion is exactly {opts.max_completion_length} tokens, so mask_truncated_completions is off "
        "(the recipes turn it on; it would mask every completion and zero the gradient)",
        "smoke schedule: lr_scheduler_type constant, no warm-up, no checkpoints; learning rates, LoRA, loss type, "
        f"KL beta ({opts.beta}) and the rest of the trainer sections are the 4B recipes'",
        f"beta {opts.beta} kept: with LoRA trl's reference model is the base with the adapters off (no reload)",
        "each trainer builder saves its final merged model (finish()); that save is in load_train_save_wall_s, "
        "not in the step times, and is deleted after the schedule",
        f"rows: the release's questions with 4 images, resized to {size[0]}x{size[1]}; train {train_four}/{n_train} "
        f"have 4 images, evaluation {eval_four}/{len(eval_rows)}",
    ]
    if smoke:
        notes.append("smoke run: scaled-down model and/or CPU; this checks the code path, it is not the GPU result")
    if not on_gpu:
        notes.append("CPU: peak memory is the process's peak RSS (a running maximum over the whole process)")
    result = {
        "benchmark": "gpu_smoke",
        "smoke": smoke,
        "device": info,
        "model": {"kind": opts.model, "config": RECIPE_FAMILY, "params": params, "dtype": policy(precision).weights,
                  "vocab_size": config["text_config"]["vocab_size"], "tokenizer_size": len(tokenizer),
                  "suppressed_token_ids": len(suppress)},
        "setup": {"precision": precision, "recipes_precision": opts.precision_default, "release": str(release),
                  "image_size": list(size), "max_completion_length": opts.max_completion_length,
                  "steps": {"sft": opts.sft_steps, "grpo": opts.grpo_steps, "alternating": opts.alternating_steps,
                            "ffr": opts.ffr_steps},
                  "eval_questions": opts.eval_questions, "grpo_batch_size": opts.grpo_batch_size,
                  "num_generations": opts.num_generations, "beta": opts.beta, "sft_batch_size": opts.sft_batch_size,
                  "sft_grad_accum": opts.sft_grad_accum, "alt_sft_batch_size": alt_sft,
                  "eval_batch_size": opts.eval_batch_size, "eval_max_new_tokens": opts.eval_max_new_tokens,
                  "checkpointing": opts.checkpointing, "schedules": schedules, "train_rows": len(train_rows),
                  "rows_load_s": round(rows_s, 2)},
        "schedules": {},
        "status": "FAIL",
        "note": SMOKE_REWARD_NOTE,
        "notes": notes,
        "budget_s": BUDGET_S,
    }
    ctx = {"on_gpu": on_gpu, "suppress": suppress, "release": str(release), "precision": precision,
           "eval_four_image": eval_four}
    with tempfile.TemporaryDirectory(prefix="gpu_smoke_", dir=opts.tmpdir) as tmp:
        tmp = Path(tmp)
        model_dir = tmp / "base"
        t0 = time.perf_counter()
        bench.save_random_model(config, tokenizer, model_dir, policy(precision).weights,
                                "cuda" if on_gpu else "cpu", max(size))
        result["model"]["build_and_save_s"] = round(time.perf_counter() - t0, 2)
        print(f"random model built and saved in {result['model']['build_and_save_s']:.1f} s", flush=True)
        for name in schedules:
            print(f"[{name}] ...", flush=True)
            try:
                if name == "evaluate":
                    summary = run_evaluate(model_dir, eval_rows, opts, ctx)
                else:
                    summary = run_trained(name, model_dir, tmp / "runs", train_rows, opts, ctx)
            except Exception as exc:  # record and go on: one broken schedule must not hide the others
                summary = {"status": "FAIL", "error": "".join(traceback.format_exception(exc))}
                print(summary["error"], file=sys.stderr, flush=True)
            finally:
                gc.collect()
                if on_gpu:
                    import torch

                    torch.cuda.empty_cache()
            result["schedules"][name] = summary
            _say(name, summary)
            result["total_wall_s"] = round(time.perf_counter() - t_start, 2)
            write(result, out)
    result["status"] = "PASS" if schedules and all(
        result["schedules"][s]["status"] == "PASS" for s in schedules) else "FAIL"
    result["total_wall_s"] = round(time.perf_counter() - t_start, 2)
    result["within_budget"] = result["total_wall_s"] <= BUDGET_S
    write(result, out)
    print("\n" + markdown(result))
    print(f"wrote {out / 'gpu_smoke.json'}", flush=True)
    return result


def _say(name: str, s: dict) -> None:
    if "error" in s:
        print(f"[{name}] FAIL: {s['error'].strip().splitlines()[-1]}", flush=True)
    elif name == "evaluate":
        print(f"[{name}] {s['status']}: {s['questions']} questions in {s['wall_s']:.1f} s "
              f"({s['questions_per_s']:.2f}/s), {s['new_tokens']} new tokens, truncation {s['truncation_rate']}",
              flush=True)
    else:
        mean = "-" if s["step_mean_s"] is None else f"{s['step_mean_s']:.2f}"
        print(f"[{name}] {s['status']}: {s['steps']} steps, mean {mean} s/step (first {s['first_step_s']:.2f}), "
              f"{s['tokens_per_s'] or 0:.0f} tokens/s, changed {s['changed_fraction']}, peak "
              f"{s['peak_memory_gib']} GiB", flush=True)


if __name__ == "__main__":
    sys.exit(0 if main()["status"] == "PASS" else 1)
