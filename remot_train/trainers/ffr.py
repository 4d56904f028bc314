"""FFR: chosen-rollout GRPO with a teacher (DESIGN.md §6), on trl's ``GRPOTrainer``.

For every group of ``G`` rollouts (one prompt) that failed, by default *no rollout answered
correctly* (:func:`remot_train.scoring.score`, as evaluation scores), or, with ``threshold``, whose
best weighted reward is below it:

1. the guarded teacher (:func:`remot_train.teacher.guarded`; default :class:`MetadataTeacher`) is
   asked for an :class:`EvidencePatch` for the sample and the failed rollouts; a leaking patch is
   dropped by the guard (counted, the group is left alone), as is a teacher failure;
2. the student generates ``repairs`` (K) rollouts with the patch's observation (text, then the
   crops) appended to the prompt's last user turn; the question itself is unchanged;
3. every candidate, the ``G`` rollouts and the ``K`` repairs, is scored with the trainer's own
   reward functions and weights (the composite with the RIR in the task reward's place, see
   :func:`rir_in_place_of_task`), all with the group's patch in the ``patch`` column and
   ``assisted`` true for the repairs only, and judged right or wrong as evaluation judges it
   (:func:`remot_train.scoring.score`);
4. the chosen candidate is the highest-reward one **among the candidates that answered
   correctly**, an unassisted one winning a tie (:func:`choose`). When it is a repair it replaces
   the group's worst wrong rollout; when it is one of the group's own rollouts, or when no
   candidate is correct (a wrong repair, however well formatted), nothing is swapped.

**The swapped-in rollout is trained on its own tokens under the original prompt**: the slot keeps
the original ``prompt_ids`` (and images) and gets the repair's ``completion_ids`` and text, so
trl's ``completion_mask`` (the loss mask) covers exactly the repair's tokens at that slot. trl
then computes everything else from that pair: the rewards (the reward functions see the swapped
text, ``assisted=True`` and the patch through ``extra_fields``), the per-group advantages (the
group's baseline includes the chosen rollout), and, where it needs them, the old and reference
log-probabilities (``_get_per_token_logps_and_entropies`` on original prompt + repair tokens).
The public FFR code instead credits the repaired reward to the failed rollout's tokens.

How, in trl 1.16 (private methods, hence :func:`check_trl`):

* ``_generate_and_score_completions(inputs)``: only remembers the batch's rows (the answer and
  metadata columns that ``_generate`` does not receive), then calls trl's;
* ``_generate(prompts)``: calls trl's, then, for the failed groups, the teacher, one batched
  ``_tokenize_prompts`` + ``_generate_single_turn`` call for all repairs, the choice and the
  swap, and returns trl's 8-tuple with the swapped rows and ``extra_fields`` ``assisted`` and
  ``patch`` (one value per completion).

Rewards and advantages are computed by trl after ``_generate`` returns, so the swap precedes them.

**The estimator: the importance ratio of a swapped-in rollout is 1 at generation time.** trl's
loss weighs each token by ``exp(logp_theta(y_t | x, y_<t) - old_logp)``, where ``old_logp`` is
``old_per_token_logps`` when trl computes it and ``logp_theta.detach()`` otherwise (trl 1.16
``_compute_loss``). For a repair ``y`` sampled under the patched prompt ``x + p`` and trained
under ``x``:

* ``gradient_accumulation_steps`` a multiple of ``steps_per_generation x num_iterations`` (trl's
  default: ``steps_per_generation = gradient_accumulation_steps``, ``num_iterations = 1``) and no
  vLLM importance-sampling correction: trl computes no old log-probabilities; the ratio is
  ``pi_theta(y|x) / pi_theta(y|x)`` = 1 and the gradient is ``A * grad log pi_theta(y|x)``, as for
  any rollout.
* otherwise (``num_iterations > 1``, or generation batches that span optimizer steps): trl
  computes ``old_per_token_logps`` in ``_generate_and_score_completions`` *after* ``_generate``
  returns, from the batch's ``prompt_ids`` (the original prompt) and the repair's
  ``completion_ids``, so the ratio is ``pi_theta(y|x) / pi_old(y|x)``: 1 on the first pass, and on
  later passes it measures the policy's drift under the original prompt and is clipped like any
  rollout's.
* vLLM with ``vllm_importance_sampling_correction`` (trl's default with ``use_vllm``): trl always
  computes ``old_per_token_logps`` as in the previous case (under ``x``) and also multiplies the
  loss by ``exp(old_logp - sampling_logp)`` (default ``sequence_mask``: summed over the sequence,
  the sequence dropped above 3), ``sampling_logp`` being vLLM's. A repair's were taken under
  ``x + p``: kept, they would make that factor ``pi_old(y|x) / pi_vllm(y|x + p)``, a prompt shift
  rather than an engine mismatch, near 0 for a repair the patch made likely. :func:`swap_in` sets
  them to NaN, which trl maps to a zero log-difference: factor 1 (no vLLM-mismatch correction for
  those tokens), no evidence in the off-policy sequence mask, and left out of
  ``sampling/sampling_logp_difference``.

The ratio to the distribution the repair was actually drawn from, ``pi(y|x) / pi(y|x + p)``, is not
used: the chosen repair is not a draw from that distribution (it was selected among ``G + K``
candidates for being correct), and the ratio, a product over hundreds of tokens of a completion
that is far likelier with the evidence than without, would be near 0 and scale the repair's
gradient away. The repair is used the way a demonstration is: pushed up under the original
prompt by its group-normalised advantage, with PPO's clip bounding the drift from the generating
policy when the batch is reused.

Per step it logs (``self._metrics``, so into ``log_history``): ``ffr/intervention_rate``
(groups patched / groups), ``ffr/trigger_rate`` (groups that failed / groups),
``ffr/repair_success`` (correct repairs / repairs; None when there were none), ``ffr/swaps``,
``ffr/reward_gap`` (the mean, over the step's swaps, of the chosen repair's weighted reward minus
the replaced rollout's; None without swaps), ``ffr/leak_drops`` and ``ffr/fallbacks`` (teacher
stats deltas), ``ffr/repairs``.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remot_train.rewards._common import completion_text
from remot_train.rewards.task import score_row
from remot_train.rir import DEFAULT_ALIGNMENT_WEIGHT, DEFAULT_KAPPA, make_rir_reward
from remot_train.trainers.common import (
    SAFE_DEFAULTS,
    TrainResult,
    check_precision,
    finish,
    finished_run,
    left_padding,
    lora_config,
    resolve_model,
    resume_target,
    to_dataset,
    trainer_args,
)

log = logging.getLogger(__name__)

#: The trl minor version the override was written and tested against.
TRL_MINOR = "1.16"
#: The private ``GRPOTrainer`` methods FFR relies on, with their parameter names.
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "_generate": ("self", "prompts"),
    "_generate_and_score_completions": ("self", "inputs"),
    "_tokenize_prompts": ("self", "prompts"),
    "_generate_single_turn": ("self", "prompt_ids", "images", "multimodal_fields", "num_generations",
                              "has_tool_images"),
}
#: Attributes of a constructed ``GRPOTrainer`` that FFR reads.
REQUIRED_ATTRIBUTES = ("num_generations", "reward_funcs", "reward_weights", "_metrics", "_tokenizer",
                       "processing_class", "accelerator", "tools", "rollout_func", "environment_factories", "use_vllm")
#: The number of values trl 1.16's ``_generate`` returns.
GENERATE_ARITY = 8
TEACHERS = ("metadata", "model", "http")


class TRLVersionError(RuntimeError):
    """The installed trl is not the one FFR's override was written against."""


def check_trl(version: str | None = None, trainer_cls: type | None = None) -> None:
    """Raise :class:`TRLVersionError` unless trl is 1.16.x and ``GRPOTrainer`` has the private
    methods FFR overrides/calls with the expected parameters (:data:`REQUIRED_METHODS`).

    ``version`` / ``trainer_cls`` default to the installed ``trl.__version__`` / ``GRPOTrainer``.

    >>> check_trl("1.17.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    remot_train.trainers.ffr.TRLVersionError: FFR overrides private GRPOTrainer methods of trl 1.16.x; ...
    """
    if version is None:
        import trl

        version = trl.__version__
    if not (version == TRL_MINOR or str(version).startswith(TRL_MINOR + ".")):
        raise TRLVersionError(
            f"FFR overrides private GRPOTrainer methods of trl {TRL_MINOR}.x; found trl {version}. Install "
            f"'trl=={TRL_MINOR}.*' (pyproject's train extra), or re-check remot_train/trainers/ffr.py against the "
            "new trl and update TRL_MINOR")
    if trainer_cls is None:
        from trl import GRPOTrainer as trainer_cls
    for name, expected in REQUIRED_METHODS.items():
        method = getattr(trainer_cls, name, None)
        if method is None or not callable(method):
            raise TRLVersionError(f"trl {version}: GRPOTrainer.{name} is missing; FFR needs it (see ffr.py)")
        got = tuple(inspect.signature(method).parameters)
        if got != expected:
            raise TRLVersionError(
                f"trl {version}: GRPOTrainer.{name}{got} does not have the expected parameters {expected}; "
                "FFR's override (remot_train/trainers/ffr.py) must be re-checked against this trl")


# --- pure helpers ---------------------------------------------------------------------------------
def choose(rewards: Sequence[float], assisted: Sequence[bool], correct: Sequence[bool | None]) -> int | None:
    """The index of the chosen candidate, or None: among the candidates that answered correctly
    (``correct`` true; None, unjudgeable, counts as not correct), the highest reward, an
    unassisted candidate winning a tie, then the earliest. NaN (unscorable) ranks last. A wrong
    candidate is never chosen, whatever its reward: a repair that got the answer wrong must not
    be reinforced for its format or length.

    >>> choose([0.5, 0.9, 0.9], [False, True, False], [True, True, True])
    2
    >>> choose([0.0, 0.0, 0.7], [False, False, True], [False, False, True])
    2
    >>> choose([0.0, 0.0, 2.0], [False, False, True], [False, False, False]) is None  # a wrong repair
    True
    >>> choose([0.1, 0.9, 0.9], [False, True, True], [True, False, True])  # the best correct one
    2
    """
    if not (len(rewards) == len(assisted) == len(correct)) or not rewards:
        raise ValueError("choose needs one assisted flag and one correctness per reward, and at least one candidate")

    def key(i: int) -> tuple:
        r = rewards[i]
        return (-math.inf if r is None or math.isnan(r) else float(r), not assisted[i], -i)

    right = [i for i in range(len(rewards)) if correct[i] is True]
    return max(right, key=key) if right else None


def worst(rewards: Sequence[float], correct: Sequence[bool | None] | None = None) -> int:
    """The index of the rollout to replace: the lowest reward (NaN lowest), the earliest on a
    tie, among the rollouts that are not correct when ``correct`` is given and some are not.

    >>> worst([0.3, -1.0, -1.0, 2.0]), worst([0.0, float("nan")])
    (1, 1)
    >>> worst([0.3, -1.0, 2.0], [False, True, False])  # a correct rollout stays
    0
    """
    pool = list(range(len(rewards)))
    if correct is not None and any(c is not True for c in correct):
        pool = [i for i in pool if correct[i] is not True]
    return min(pool, key=lambda i: (-math.inf if rewards[i] is None or math.isnan(rewards[i]) else rewards[i], i))


def swap_in(slot: int, completion_ids: list, completions: list, logprobs: list | None, assisted: list,
            new_ids: Sequence[int], new_completion: Any) -> None:
    """Put a repair into batch row ``slot`` (in place): its own token ids and text (the row's
    prompt stays the original one), ``assisted`` true, and its sampling log-probabilities, when
    the backend returned them (vLLM), set to NaN: they were taken under the *patched* prompt, so
    they are not the behaviour log-probabilities of these tokens under the prompt they are trained
    under; trl reads NaN as "no importance-sampling correction" (ratio 1) for those tokens.

    >>> ids, texts, lps, flags = [[1, 2], [3]], ["a", "b"], [[-0.1, -0.2], [-0.3]], [False, False]
    >>> swap_in(1, ids, texts, lps, flags, [7, 8, 9], "r")
    >>> ids, texts, flags, [len(x) for x in lps], all(math.isnan(v) for v in lps[1])
    ([[1, 2], [7, 8, 9]], ['a', 'r'], [False, True], [2, 3], True)
    """
    completion_ids[slot] = list(new_ids)
    completions[slot] = new_completion
    if logprobs is not None:
        logprobs[slot] = [math.nan] * len(new_ids)
    assisted[slot] = True


def rir_in_place_of_task(funcs: Sequence[Callable], weights: Sequence[float],
                         rir: Callable) -> tuple[list[Callable], list[float]]:
    """FFR's rewards: the RIR takes the task (accuracy) reward's place and weight, since its
    outcome term *is* the task reward (:mod:`remot_train.rir`), so the patch tax trades off
    against the outcome on one scale; the other functions and weights stay. Without a
    ``task_reward`` the RIR is appended at weight 1. A list that already holds a function named
    ``rir`` is returned as it is, unless it also holds ``task_reward`` (accuracy counted twice:
    an error).

    >>> def task_reward(**kw): pass
    >>> def format_reward(**kw): pass
    >>> def rir(**kw): pass
    >>> f, w = rir_in_place_of_task([format_reward, task_reward], [3.5, 3.5], rir)
    >>> [g.__name__ for g in f], w
    (['format_reward', 'rir'], [3.5, 3.5])
    """
    names = [getattr(f, "__name__", None) for f in funcs]
    funcs, weights = list(funcs), [float(w) for w in weights]
    if len(funcs) != len(weights):
        raise ValueError(f"{len(funcs)} reward functions but {len(weights)} weights")
    if "rir" in names:
        if "task_reward" in names:
            raise ValueError("reward functions hold both task_reward and rir: accuracy would be counted twice "
                             "(RIR's outcome term is the task reward)")
        return funcs, weights
    if "task_reward" in names:
        k = names.index("task_reward")
        funcs[k] = rir
    else:
        funcs.append(rir)
        weights.append(1.0)
    return funcs, weights


def with_observation(prompt: list[dict], observation: list[dict]) -> list[dict]:
    """A copy of a conversational prompt with ``observation`` (content parts, as
    :meth:`EvidencePatch.as_observation` gives) appended to its last user turn; the first text
    part is put on a new line. The input prompt is not modified.

    >>> p = [{"role": "user", "content": [{"type": "text", "text": "Q?"}]}]
    >>> with_observation(p, [{"type": "text", "text": "Look at image 2."}])[0]["content"]
    [{'type': 'text', 'text': 'Q?'}, {'type': 'text', 'text': '\\nLook at image 2.'}]
    >>> p[0]["content"]
    [{'type': 'text', 'text': 'Q?'}]
    """
    last = max((i for i, m in enumerate(prompt) if m.get("role") == "user"), default=None)
    if last is None:
        raise ValueError("the prompt has no user turn to append the teacher's evidence to")
    parts = [dict(p) for p in observation]
    if parts and parts[0].get("type") == "text":
        parts[0]["text"] = "\n" + parts[0]["text"]
    content = prompt[last]["content"]
    content = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    out = list(prompt)
    out[last] = {**prompt[last], "content": content + parts}
    return out


_DEFAULT_ROLES = {1: ["anchor"], 2: ["anchor", "positive"], 3: ["anchor", "positive", "negative"],
                  4: ["anchor", "positive", "negative_anchor", "negative"]}
_warned: set[str] = set()


def row_sample(row: dict) -> dict:
    """The teacher's sample for a training row (the default ``sample_lookup``).

    A row that already has ``image_roles`` and the role images (``<role>_image``) is returned
    as it is. Otherwise the row's ``images`` are given default roles in prompt order (two images:
    anchor, positive; three: anchor, positive, negative; four: anchor, positive, negative anchor,
    negative), which is what the teacher needs to find them. A row without the triplet's labels
    (``positive_value`` / ``negative_value``, as :func:`remot_train.data.question_rows` rows) lets
    the leakage guard check everything but the value words; pass :func:`release_sample_lookup`
    for full checks.

    >>> s = row_sample({"images": ["i1", "i2"], "answer": "true", "positive_value": "left"})
    >>> s["image_roles"], s["anchor_image"], s["positive_image"]
    (['anchor', 'positive'], 'i1', 'i2')
    """
    if row.get("views") == "clips":  # a clip row (remot_train.clips): the teacher reads the frames
        from remot_train.clips import sample_frames

        row = sample_frames(row)
    roles = row.get("image_roles")
    if roles is not None and all(f"{r}_image" in row for r in roles):
        return row
    images = list(row.get("images") or [])
    if len(images) not in _DEFAULT_ROLES:
        raise KeyError(f"row has {len(images)} images and no image_roles; pass a sample_lookup")
    sample = dict(row)
    sample["image_roles"] = list(_DEFAULT_ROLES[len(images)])
    for role, image in zip(sample["image_roles"], images):
        sample[f"{role}_image"] = image
    if "positive_value" not in row and "no-labels" not in _warned:
        _warned.add("no-labels")
        log.warning("FFR rows carry no triplet labels (positive_value/negative_value): the leakage guard cannot "
                    "check value words; pass sample_lookup=release_sample_lookup(release) for full checks")
    return sample


def release_sample_lookup(release: str | Path, release_id: str | None = None) -> Callable[[dict], dict]:
    """A ``sample_lookup`` over a release: the row's question merged with its triplet (labels,
    timestamps, the four role images as ``{bytes, path}``), by ``question_id``. Triplets are held
    once each, the merge happens per call."""
    import duckdb

    from remot_train.data import release_files, resolve_release

    path = resolve_release(release, release_id)
    con = duckdb.connect()
    try:
        questions = con.sql("SELECT * FROM read_parquet(?)", params=[release_files(path, "questions")]).to_arrow_table().to_pylist()
        triplets = con.sql("SELECT * FROM read_parquet(?)", params=[release_files(path, "triplets")]).to_arrow_table().to_pylist()
    finally:
        con.close()
    by_question = {q["question_id"]: q for q in questions}
    by_triplet = {t["triplet_id"]: t for t in triplets}

    def lookup(row: dict) -> dict:
        q = by_question.get(row.get("question_id"))
        if q is None:
            raise KeyError(f"question {row.get('question_id')!r} is not in release {path}")
        return {**by_triplet.get(q["triplet_id"], {}), **q, **{k: v for k, v in row.items() if k != "images"}}

    return lookup


def make_teacher(kind: str = "metadata", **options: Any):
    """A guarded teacher by name: ``metadata`` (:class:`MetadataTeacher` options), ``model``
    (``path`` of a local checkpoint, optional ``dtype``/``device``, then :class:`ModelTeacher`
    options) or ``http`` (:class:`HTTPTeacher` options; ``api_key_env`` names an environment
    variable holding the key).

    >>> type(make_teacher("metadata", crop_size=64)).__name__
    'MetadataTeacher'
    """
    from remot_train import teacher as T

    if kind == "metadata":
        return T.guarded(T.MetadataTeacher(**options))
    if kind == "model":
        options = dict(options)
        path = options.pop("path", None)
        if path is None:
            raise ValueError("teacher: model needs teacher_options: {path: <local checkpoint folder>}")
        dtype, device = options.pop("dtype", "bfloat16"), options.pop("device", None)
        from remot_train.model import load

        model, processor = load(Path(path).expanduser(), dtype=dtype, device=device)
        return T.guarded(T.ModelTeacher(model=model, processor=processor, **options))
    if kind == "http":
        options = dict(options)
        env = options.pop("api_key_env", None)
        if env:
            options["api_key"] = os.environ.get(env)
        return T.guarded(T.HTTPTeacher(**options))
    raise ValueError(f"teacher must be one of {list(TEACHERS)}, got {kind!r}")


@dataclass
class GroupReport:
    """What FFR did with one group in the last generation batch (``trainer.ffr_last``)."""

    group: int
    slots: list[int]  # the group's rows in the batch
    status: str  # "ok" (not failed) | "patch" | "leak" | "fallback" | "unscorable"
    reason: str | None = None
    patch: str | None = None  # the delivered patch as JSON
    rewards: list[float] = field(default_factory=list)  # the G rollouts', then the K repairs' (with the patch)
    correct: list[bool | None] = field(default_factory=list)  # the same candidates, as evaluation scores them
    repairs_correct: int = 0
    chosen: int | None = None  # index into rewards; None: no candidate answered correctly
    reward_gap: float | None = None  # the chosen repair's reward minus the replaced rollout's, on a swap
    swapped_slot: int | None = None  # the batch row that was replaced
    replaced_ids: list[int] | None = None  # the failed rollout's tokens that left the batch
    chosen_ids: list[int] | None = None  # the repair's tokens now in that row
    patched_prompt_ids: list[int] | None = None


# --- the trainer ------------------------------------------------------------------------------------
def _trainer_class():
    from trl import GRPOTrainer

    class FFRTrainer(GRPOTrainer):
        """``GRPOTrainer`` with FFR's teacher intervention (module doc). Extra keywords:
        ``teacher`` (any object with ``patch(sample, failed_rollouts)``; it is wrapped in the
        leakage guard; default :class:`MetadataTeacher`), ``repairs`` (K), ``threshold`` (None:
        intervene when no rollout is correct; a number: when the best weighted reward is below
        it), ``sample_lookup`` (row -> teacher sample; default :func:`row_sample`),
        ``coordinates`` (put the boxes' numbers in the observation text)."""

        def __init__(self, *args: Any, teacher: Any = None, repairs: int = 2, threshold: float | None = None,
                     sample_lookup: Callable[[dict], dict] | None = None, coordinates: bool = True,
                     **kwargs: Any) -> None:
            check_trl(trainer_cls=GRPOTrainer)
            super().__init__(*args, **kwargs)
            missing = [a for a in REQUIRED_ATTRIBUTES if not hasattr(self, a)]
            if missing:
                raise TRLVersionError(f"GRPOTrainer lacks the attribute(s) {missing} that FFR reads")
            if int(repairs) < 1:
                raise ValueError(f"repairs must be >= 1, got {repairs}")
            if self.tools or self.rollout_func is not None or self.environment_factories is not None:
                raise ValueError("FFR does not support tools, rollout_func or environments (the repairs are "
                                 "single-turn generations)")
            import torch

            if any(isinstance(f, torch.nn.Module) for f in self.reward_funcs):
                raise ValueError("FFR scores candidates with the reward functions itself; reward models "
                                 "(nn.Module) are not supported")
            local = self.args.per_device_train_batch_size * self.args.steps_per_generation
            if local % self.num_generations:
                raise ValueError(
                    f"FFR needs whole groups on each process: per_device_train_batch_size x steps_per_generation "
                    f"({local}) must be divisible by num_generations ({self.num_generations})")
            from remot_train.teacher import MetadataTeacher, guarded

            self.teacher = guarded(teacher if teacher is not None else MetadataTeacher())
            self.repairs = int(repairs)
            self.threshold = None if threshold is None else float(threshold)
            self.sample_lookup = sample_lookup or row_sample
            self.coordinates = bool(coordinates)
            self.ffr_last: list[GroupReport] = []
            self.ffr_totals: dict[str, float] = {k: 0 for k in ("groups", "triggered", "patched", "leak_drops",
                                                                "fallbacks", "repairs", "repairs_correct", "swaps",
                                                                "reward_gap_sum")}
            self._ffr_rows: list[dict] | None = None

        # -- override 1: see the rows (answers, metadata) that _generate does not receive --------------
        def _generate_and_score_completions(self, inputs):
            self._ffr_rows = inputs
            try:
                return super()._generate_and_score_completions(inputs)
            finally:
                self._ffr_rows = None

        # -- override 2: the intervention -------------------------------------------------------------
        def _generate(self, prompts: list):
            out = super()._generate(prompts)
            if not isinstance(out, tuple) or len(out) != GENERATE_ARITY:
                raise TRLVersionError(f"GRPOTrainer._generate returned {type(out).__name__} of length "
                                      f"{len(out) if isinstance(out, tuple) else '?'}; FFR expects trl 1.16's "
                                      f"{GENERATE_ARITY}-tuple")
            prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images = out
            n = len(prompts)
            assisted, patches = [False] * n, [None] * n
            rows = self._ffr_rows
            if self.model.training and rows is not None and len(rows) == n:
                completion_ids, completions, logprobs = list(completion_ids), list(completions), (
                    None if logprobs is None else list(logprobs))
                self._intervene(prompts, rows, prompt_ids, completion_ids, completions, logprobs, assisted, patches)
            extra_fields = {**(extra_fields or {}), "assisted": assisted, "patch": patches}
            return prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images

        def _intervene(self, prompts, rows, prompt_ids, completion_ids, completions, logprobs, assisted, patches):
            G, K = self.num_generations, self.repairs
            n = len(prompts)
            if n % G:
                raise RuntimeError(f"FFR: a generation batch of {n} rollouts is not whole groups of {G}")
            stats_before = dict(getattr(self.teacher, "stats", {}))
            reports: list[GroupReport] = []
            todo: list[tuple[GroupReport, Any]] = []  # (report, patch) of the groups to repair
            for g in range(n // G):
                slots = list(range(g * G, (g + 1) * G))
                if any(list(prompt_ids[i]) != list(prompt_ids[slots[0]]) for i in slots):
                    raise RuntimeError("FFR: the rollouts of a group do not share one prompt; trl's sampler "
                                       "layout changed")
                report = GroupReport(g, slots, "ok")
                reports.append(report)
                failed = self._failed(prompts, rows, completion_ids, completions, slots)
                if failed is None:
                    report.status = "unscorable"
                    continue
                if not failed:
                    continue
                texts = [completion_text(completions[i]) for i in slots]
                try:
                    sample = self.sample_lookup(rows[slots[0]])
                except Exception as exc:  # a missing sample must not take training down
                    report.status, report.reason = "fallback", f"sample_lookup: {type(exc).__name__}: {exc}"
                    log.warning("FFR: no teacher sample for a row: %s", report.reason)
                    continue
                outcome = self.teacher.review(sample, texts)
                report.status, report.reason = outcome.status, outcome.reason
                if outcome.patch is not None:
                    report.patch = outcome.patch.to_json()
                    todo.append((report, outcome.patch))
            repaired = self._repair(prompts, [(r.slots[0], p) for r, p in todo])
            for (report, patch), (rep_prompt_ids, rep_ids, rep_completions) in zip(todo, repaired):
                self._choose_and_swap(report, prompts, rows, prompt_ids, completion_ids, completions, logprobs,
                                      assisted, patches, rep_prompt_ids, rep_ids, rep_completions)
            stats_after = dict(getattr(self.teacher, "stats", {}))
            self.ffr_last = reports
            self._log_ffr(reports, {k: stats_after.get(k, 0) - stats_before.get(k, 0) for k in stats_after})

        def _failed(self, prompts, rows, completion_ids, completions, slots) -> bool | None:
            """Whether a group needs the teacher (None: it cannot be judged)."""
            if self.threshold is None:
                verdicts = [self._is_correct(rows[i], completions[i]) for i in slots]
                if any(v is None for v in verdicts):
                    return None
                return not any(verdicts)
            scores = self._scores([prompts[i] for i in slots], [completions[i] for i in slots],
                                  [completion_ids[i] for i in slots],
                                  [{**rows[i], "patch": None, "assisted": False} for i in slots])
            best = max((s for s in scores if not math.isnan(s)), default=math.nan)
            return None if math.isnan(best) else best < self.threshold

        def _repair(self, prompts, jobs: list[tuple[int, Any]]):
            """One batched generation of K repairs per (slot, patch): for each job
            ``(patched_prompt_ids, [K completion ids], [K completions])``. With several processes every
            process generates the same number of rows (padding with discarded copies), because trl's
            generation backends (vLLM server/colocate-TP, ZeRO-3) are collective."""
            from accelerate.utils import gather_object

            K = self.repairs
            count = len(jobs)
            if self.accelerator.num_processes > 1:
                count = max(gather_object([len(jobs)]))
            if count == 0:
                return []
            observe = lambda patch: patch.as_observation(self.coordinates)  # noqa: E731
            k = getattr(getattr(self.processing_class, "image_processor", None), "clip_frames", None)
            if k:
                from remot_train.clips import observation_as_clips  # views: clips: every image is a k-frame clip

                observe = lambda patch: observation_as_clips(patch.as_observation(self.coordinates), k)  # noqa: E731
            patched = [with_observation(prompts[slot], observe(patch)) for slot, patch in jobs]
            padded = patched + [prompts[0]] * (count - len(jobs))
            batch = [p for p in padded for _ in range(K)]
            p_ids, p_images, p_fields = self._tokenize_prompts(batch)
            c_ids, _ = self._generate_single_turn(p_ids, p_images, p_fields, K)
            texts = self._decode(batch, p_ids, c_ids)
            out = []
            for j in range(len(jobs)):
                rows = range(j * K, (j + 1) * K)
                out.append((list(p_ids[j * K]), [list(c_ids[r]) for r in rows], [texts[r] for r in rows]))
            return out

        def _decode(self, prompts, prompt_ids, completion_ids):
            """Completions as trl 1.16's ``_generate`` decodes them (no tools)."""
            import transformers
            from packaging.version import Version
            from trl.chat_template_utils import parse_response
            from trl.data_utils import is_conversational

            if is_conversational({"prompt": prompts[0]}):
                if Version(transformers.__version__) >= Version("5.0.0") and (
                        getattr(self._tokenizer, "response_template", None) is not None
                        or getattr(self._tokenizer, "response_schema", None) is not None):
                    return [[parse_response(self._tokenizer, ids, prefix=prompt_ids[i], tools=self.tools)]
                            for i, ids in enumerate(completion_ids)]
                contents = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
                return [[{"role": "assistant", "content": c}] for c in contents]
            return self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)

        def _is_correct(self, row: dict, completion: Any) -> bool | None:
            """Whether a completion answers the row correctly, as evaluation scores it (None: the
            row has no answer or parse rule)."""
            return _correct(row, completion)

        def _choose_and_swap(self, report, prompts, rows, prompt_ids, completion_ids, completions, logprobs,
                             assisted, patches, rep_prompt_ids, rep_ids, rep_completions):
            slots, K = report.slots, self.repairs
            for i in slots:  # the group's patch goes to all its completions, so alignment is comparable
                patches[i] = report.patch
            row = rows[slots[0]]
            cand_prompts = [prompts[i] for i in slots] + [prompts[slots[0]]] * K
            cand_completions = [completions[i] for i in slots] + list(rep_completions)
            cand_ids = [completion_ids[i] for i in slots] + list(rep_ids)
            flags = [False] * len(slots) + [True] * K
            cand_rows = [{**rows[i], "patch": report.patch, "assisted": False} for i in slots] + [
                {**row, "patch": report.patch, "assisted": True}] * K
            rewards = self._scores(cand_prompts, cand_completions, cand_ids, cand_rows)
            correct = [self._is_correct(rows[i], completions[i]) for i in slots] + [
                self._is_correct(row, c) for c in rep_completions]
            report.rewards, report.correct = rewards, correct
            report.patched_prompt_ids = rep_prompt_ids
            report.repairs_correct = sum(c is True for c in correct[len(slots):])
            report.chosen = choose(rewards, flags, correct)
            if report.chosen is None or not flags[report.chosen]:
                return  # no correct repair, or an unassisted rollout of the group is (one of) the best
            G = len(slots)
            slot = slots[worst(rewards[:G], correct[:G])]
            k = report.chosen - G
            report.swapped_slot, report.replaced_ids, report.chosen_ids = slot, list(completion_ids[slot]), list(rep_ids[k])
            report.reward_gap = rewards[report.chosen] - rewards[slots.index(slot)]
            swap_in(slot, completion_ids, completions, logprobs, assisted, rep_ids[k], rep_completions[k])

        def _scores(self, prompts, completions, completion_ids, rows) -> list[float]:
            """The weighted reward of each candidate, as trl weights them (nansum over functions;
            NaN when every function returned None). Local: no cross-process gather, no logging."""
            import torch
            from trl.trainer.utils import is_async_callable

            keys = [k for k in rows[0] if k not in ("prompt", "completion", "completion_ids")]
            kwargs = {k: [r.get(k) for r in rows] for k in keys}
            kwargs.update(trainer_state=self.state, log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None)
            columns = []
            for func in self.reward_funcs:
                result = func(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)
                if is_async_callable(func) or inspect.isawaitable(result):
                    loop = getattr(self, "async_loop", None)
                    if loop is not None:
                        result = asyncio.run_coroutine_threadsafe(result, loop).result()
                    else:
                        result = asyncio.run(result)
                columns.append([math.nan if r is None else float(r) for r in result])
            values = torch.tensor(columns, dtype=torch.float32).T  # (candidates, functions)
            weighted = (values * self.reward_weights.cpu().unsqueeze(0)).nansum(dim=1)
            weighted[torch.isnan(values).all(dim=1)] = math.nan
            return [float(v) for v in weighted]

        def _log_ffr(self, reports: list[GroupReport], teacher_delta: dict) -> None:
            import torch

            local = {
                "groups": len(reports),
                "triggered": sum(r.status in ("patch", "leak", "fallback") for r in reports),
                "patched": sum(r.status == "patch" for r in reports),
                "leak_drops": int(teacher_delta.get("leak_drops", 0)),
                "fallbacks": sum(r.status == "fallback" for r in reports),
                "repairs": sum(self.repairs for r in reports if r.status == "patch"),
                "repairs_correct": sum(r.repairs_correct for r in reports),
                "swaps": sum(r.swapped_slot is not None for r in reports),
                "reward_gap_sum": sum(r.reward_gap for r in reports if r.reward_gap is not None),
            }
            keys = list(local)
            vec = torch.tensor([float(local[k]) for k in keys], device=self.accelerator.device)
            total = dict(zip(keys, self.accelerator.gather(vec).view(-1, len(keys)).sum(dim=0).tolist()))
            for k in keys:
                self.ffr_totals[k] += total[k] if k == "reward_gap_sum" else int(total[k])
            m = self._metrics["train"]
            groups = max(total["groups"], 1.0)
            m["ffr/intervention_rate"].append(total["patched"] / groups)
            m["ffr/trigger_rate"].append(total["triggered"] / groups)
            m["ffr/repair_success"].append(total["repairs_correct"] / total["repairs"] if total["repairs"] else math.nan)
            m["ffr/reward_gap"].append(total["reward_gap_sum"] / total["swaps"] if total["swaps"] else math.nan)
            for k in ("swaps", "leak_drops", "fallbacks", "repairs"):
                m[f"ffr/{k}"].append(total[k])

    return FFRTrainer


def _correct(row: dict, completion: Any) -> bool | None:
    answer, rule = row.get("answer"), row.get("parse_rule")
    if answer is None or rule is None:
        return None
    return score_row(completion_text(completion), answer, rule, row.get("options"), row.get("tolerance")).correct


_CLASS = None


def __getattr__(name: str):  # FFRTrainer is built on first use, so importing this module stays light
    global _CLASS
    if name == "FFRTrainer":
        if _CLASS is None:
            _CLASS = _trainer_class()
        return _CLASS
    raise AttributeError(name)


# --- the builder --------------------------------------------------------------------------------------
def ffr(
    model,
    train_rows,
    output_dir: Path,
    *,
    reward_funcs: Sequence[Callable],
    reward_weights: Sequence[float] | None = None,
    teacher: Any = None,
    kappa: float = DEFAULT_KAPPA,
    repairs: int = 2,
    threshold: float | None = None,
    alignment_weight: float = DEFAULT_ALIGNMENT_WEIGHT,
    sample_lookup: Callable[[dict], dict] | None = None,
    coordinates: bool = True,
    args: dict | None = None,
    processor=None,
    precision: str = "fp32",
    lora: dict | None = None,
    views: str = "frames",
    callbacks: Sequence | None = None,
    resume: bool | str | None = True,
    trainer_cls: type | None = None,
) -> TrainResult:
    """FFR (module doc) with :class:`FFRTrainer`, as :func:`remot_train.trainers.grpo` runs GRPO.

    ``reward_funcs``/``reward_weights``: the composite rewards. The RIR
    (``make_rir_reward(kappa, alignment_weight)``, logged as ``rewards/rir/mean``) takes the
    ``task_reward``'s place and weight (:func:`rir_in_place_of_task`; weight 1 when there is no
    task reward). ``teacher``: default :class:`MetadataTeacher` (always guarded). The teacher's
    final stats, FFR's totals and the reward weights trained with are written to
    ``output_dir/ffr_stats.json``."""
    from trl import GRPOConfig

    output_dir = Path(output_dir)
    if (done := finished_run(output_dir, args, resume)) is not None:
        return done
    model, processor = resolve_model(model, processor, precision, views, train_rows)
    weights = list(reward_weights) if reward_weights is not None else [1.0] * len(reward_funcs)
    funcs, weights = rir_in_place_of_task(reward_funcs, weights, make_rir_reward(kappa, alignment_weight))
    config = GRPOConfig(output_dir=str(output_dir),
                        **trainer_args({**SAFE_DEFAULTS, "reward_weights": weights}, args, precision, lora))
    cls = trainer_cls or __getattr__("FFRTrainer")
    trainer = cls(
        model=model,
        reward_funcs=funcs,
        args=config,
        train_dataset=to_dataset(train_rows),
        processing_class=processor,
        peft_config=lora_config(lora),
        callbacks=list(callbacks or []),
        teacher=teacher,
        repairs=repairs,
        threshold=threshold,
        sample_lookup=sample_lookup,
        coordinates=coordinates,
    )
    check_precision(trainer, precision)
    with left_padding(processor):  # trl re-tokenizes prompts for the image-token marks; see left_padding
        trainer.train(resume_from_checkpoint=resume_target(output_dir, resume))
    result = finish(trainer, output_dir, "ffr")
    stats = {"teacher": dict(getattr(trainer.teacher, "stats", {})), "totals": dict(trainer.ffr_totals),
             "kappa": kappa, "alignment_weight": alignment_weight, "repairs": repairs, "threshold": threshold,
             "reward_weights": {getattr(f, "__name__", str(f)): w for f, w in zip(funcs, weights)}}
    (output_dir / "ffr_stats.json").write_text(json.dumps(stats, indent=1))
    return result


def run_recipe_ffr(recipe: dict, model, rows, output_dir: Path, reward_funcs: Sequence[Callable],
                   reward_weights: Sequence[float], **common: Any) -> TrainResult:
    """Run a recipe's ``method: ffr`` (``recipes.run_recipe`` dispatches here) with the recipe's
    rewards, the RIR in the task reward's place (:func:`recipe_rewards`). The ``ffr:`` section:
    ``kappa``, ``alignment_weight``, ``repairs``, ``threshold``, ``coordinates``, ``teacher``
    (metadata | model | http) with ``teacher_options`` (passed to the teacher as they are), and
    optionally ``release`` / ``release_id`` for :func:`release_sample_lookup`."""
    section = copy.deepcopy(recipe.get("ffr") or {})
    teacher = make_teacher(section.get("teacher", "metadata"), **(section.get("teacher_options") or {}))
    lookup = None
    if section.get("release"):
        lookup = release_sample_lookup(Path(section["release"]).expanduser(), section.get("release_id"))
    funcs, weights = recipe_rewards(recipe, reward_funcs, reward_weights)
    return ffr(model, rows, output_dir, reward_funcs=funcs, reward_weights=weights, teacher=teacher,
               kappa=float(section.get("kappa", DEFAULT_KAPPA)), repairs=int(section.get("repairs", 2)),
               threshold=section.get("threshold"),
               alignment_weight=float(section.get("alignment_weight", DEFAULT_ALIGNMENT_WEIGHT)),
               coordinates=bool(section.get("coordinates", True)), sample_lookup=lookup,
               args=recipe["grpo"], **common)


def recipe_rewards(recipe: dict, reward_funcs: Sequence[Callable],
                   reward_weights: Sequence[float]) -> tuple[list[Callable], list[float]]:
    """The reward functions and weights an FFR recipe trains with: its ``rewards:`` with the RIR
    (the ``ffr:`` section's ``kappa`` and ``alignment_weight``) in place of ``task_reward``, at
    the task reward's weight. An FFR recipe must have a ``task_reward``: that is the weight the
    RIR takes."""
    section = recipe.get("ffr") or {}
    names = [getattr(f, "__name__", None) for f in reward_funcs]
    if "task_reward" not in names:
        raise ValueError("an FFR recipe's rewards need task_reward: the RIR takes its place and weight")
    rir = make_rir_reward(float(section.get("kappa", DEFAULT_KAPPA)),
                          float(section.get("alignment_weight", DEFAULT_ALIGNMENT_WEIGHT)))
    return rir_in_place_of_task(reward_funcs, reward_weights, rir)
