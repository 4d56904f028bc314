"""Alternating SFT <-> GRPO with one model and one optimizer.

Optimizer step ``t`` (0-based) is an SFT step when ``t mod (k_sft + k_grpo) < k_sft``, else a
GRPO step. The narrowest way to get this from trl: a ``GRPOTrainer`` subclass whose
``training_step`` dispatches. GRPO steps run trl's own step untouched; SFT steps compute the
answer-span cross-entropy on a batch of SFT rows and back-propagate through the same
accelerator, so the same optimizer, learning-rate schedule, gradient clipping, checkpointing and
logging apply to both phases. Nothing is rebuilt between phases.

SFT batches are a pure function of the step (``sft_batch_indices``), so a run resumed from a
checkpoint sees the same SFT batches it would have seen. The GRPO dataloader still yields a
batch on SFT steps; it is skipped, and trl's rollout buffer is untouched, since its counter only
advances on GRPO steps. Each train log entry carries ``phase`` (the phase of the step it closes;
exact with ``logging_steps=1``), GRPO entries carry ``rewards/<func>/mean``, and SFT entries
``sft/loss``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

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
    span_cross_entropy,
    to_dataset,
    trainer_args,
)


def phase_at(t: int, k_sft: int, k_grpo: int) -> str:
    """The phase of optimizer step ``t`` (0-based).

    >>> [phase_at(t, 2, 1) for t in range(6)]
    ['sft', 'sft', 'grpo', 'sft', 'sft', 'grpo']
    >>> [phase_at(t, 0, 1) for t in range(2)], [phase_at(t, 1, 0) for t in range(2)]
    (['grpo', 'grpo'], ['sft', 'sft'])
    """
    if k_sft < 0 or k_grpo < 0 or k_sft + k_grpo == 0:
        raise ValueError(f"k_sft and k_grpo must be >= 0 and not both 0; got {k_sft}, {k_grpo}")
    return "sft" if t % (k_sft + k_grpo) < k_sft else "grpo"


def schedule(n_steps: int, k_sft: int, k_grpo: int) -> list[str]:
    """Phases of steps ``0 .. n_steps - 1``.

    >>> schedule(5, 1, 2)
    ['sft', 'grpo', 'grpo', 'sft', 'grpo']
    """
    return [phase_at(t, k_sft, k_grpo) for t in range(n_steps)]


def sft_steps_before(t: int, k_sft: int, k_grpo: int) -> int:
    """How many SFT steps come before step ``t``.

    >>> [sft_steps_before(t, 2, 1) for t in range(7)]
    [0, 1, 2, 2, 3, 4, 4]
    """
    period = k_sft + k_grpo
    return (t // period) * k_sft + min(t % period, k_sft)


def sft_batch_indices(batch: int, batch_size: int, n_rows: int, seed: int = 0) -> list[int]:
    """Row indices of SFT micro-batch number ``batch``: consecutive slices of a seeded
    permutation of the rows, a new permutation each epoch.

    >>> sorted(sft_batch_indices(0, 2, 3, seed=1) + sft_batch_indices(1, 2, 3, seed=1)[:1])  # epoch 0: each row once
    [0, 1, 2]
    >>> sft_batch_indices(5, 4, 10) == sft_batch_indices(5, 4, 10)  # a pure function of the batch number
    True
    """
    import numpy as np

    out = []
    for k in range(batch * batch_size, (batch + 1) * batch_size):
        epoch, pos = divmod(k, n_rows)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(n_rows)[pos]))
    return out


def backward_kwargs(accelerator) -> dict:
    """What ``accelerator.backward`` needs so the loss is divided by the accumulation steps once.

    The SFT step divides its loss itself (as ``Trainer.training_step`` does). DeepSpeed's engine
    would divide it again by its own ``gradient_accumulation_steps`` unless told not to, so under
    DeepSpeed pass ``scale_wrt_gas=False`` (what transformers' Trainer passes there too).

    >>> from types import SimpleNamespace
    >>> backward_kwargs(SimpleNamespace(distributed_type="DEEPSPEED")), backward_kwargs(SimpleNamespace(distributed_type="MULTI_GPU"))
    ({'scale_wrt_gas': False}, {})
    """
    from accelerate.utils import DistributedType

    return {"scale_wrt_gas": False} if accelerator.distributed_type == DistributedType.DEEPSPEED else {}


def _alternating_trainer_class():
    """The ``GRPOTrainer`` subclass (built lazily so importing this module stays light)."""
    from transformers import Trainer
    from trl import GRPOTrainer

    class AlternatingTrainer(GRPOTrainer):
        """``GRPOTrainer`` whose SFT-phase steps take an SFT loss instead (see module doc)."""

        def __init__(self, *args, sft_dataset, sft_collator, k_sft: int, k_grpo: int, sft_batch_size: int, **kwargs):
            super().__init__(*args, **kwargs)
            self.sft_dataset = sft_dataset
            self.sft_collator = sft_collator
            self.k_sft, self.k_grpo = k_sft, k_grpo
            self.sft_batch_size = sft_batch_size
            self.executed_phases: list[str] = []  # one per optimizer step run in this process
            self._micro = (-1, 0)  # (global step, micro-steps taken in it)

        def phase(self, t: int | None = None) -> str:
            return phase_at(self.state.global_step if t is None else t, self.k_sft, self.k_grpo)

        def training_step(self, model, inputs, num_items_in_batch=None):
            t = self.state.global_step
            micro = self._micro[1] + 1 if self._micro[0] == t else 0
            self._micro = (t, micro)
            if micro == 0:
                self.executed_phases.append(self.phase(t))
            if self.phase(t) == "grpo":
                return super().training_step(model, inputs, num_items_in_batch)
            return self._sft_step(model, t, micro)

        def _sft_step(self, model, t: int, micro: int):
            import torch

            ga = self.current_gradient_accumulation_steps
            index = sft_steps_before(t, self.k_sft, self.k_grpo) * ga + micro
            rows = [
                self.sft_dataset[i]
                for i in sft_batch_indices(index, self.sft_batch_size, len(self.sft_dataset), self.args.seed)
            ]
            batch = Trainer._prepare_inputs(self, self.sft_collator(rows))
            model.train()
            with self.compute_loss_context_manager():
                loss, _, _ = span_cross_entropy(model, batch)  # mean cross-entropy over the labelled tokens
            self._metrics["train"]["sft/loss"].append(float(loss.detach()))
            self._metrics["train"]["sft/answer_tokens"].append(float((batch["labels"] != -100).sum()))
            loss = loss / ga  # the one division by the accumulation steps, as Trainer.training_step does
            self.accelerator.backward(loss, **backward_kwargs(self.accelerator))
            return loss.detach() if isinstance(loss, torch.Tensor) else loss

        def log(self, logs: dict, start_time: float | None = None) -> None:
            if "loss" in logs and self.state.global_step > 0:
                logs["phase"] = self.phase(self.state.global_step - 1)
            super().log(logs, start_time)

    return AlternatingTrainer


def alternating(
    model,
    sft_rows,
    grpo_rows,
    output_dir: Path,
    *,
    k_sft: int,
    k_grpo: int,
    reward_funcs: Sequence[Callable],
    reward_weights: Sequence[float] | None = None,
    args: dict | None = None,
    sft_batch_size: int | None = None,
    include_think: bool = False,
    processor=None,
    precision: str = "fp32",
    lora: dict | None = None,
    views: str = "frames",
    callbacks: Sequence | None = None,
    resume: bool | str | None = True,
) -> TrainResult:
    """Alternate ``k_sft`` SFT steps and ``k_grpo`` GRPO steps for ``args["max_steps"]`` optimizer
    steps, with one model, one optimizer and one LR schedule. ``args`` are ``GRPOConfig``
    keywords (shared by both phases); ``sft_batch_size`` defaults to the GRPO per-device batch
    divided by ``num_generations`` (as many prompts as a GRPO step sees). ``result.phases`` is
    the phase of every optimizer step, in order."""
    from trl import GRPOConfig

    from remot_train.collator import AnswerSpanCollator

    output_dir = Path(output_dir)
    if (done := finished_run(output_dir, args, resume)) is not None:
        return done
    merged = trainer_args(
        {**SAFE_DEFAULTS, "reward_weights": list(reward_weights) if reward_weights is not None else None}, args,
        precision, lora,
    )
    if int(merged.get("max_steps", -1)) <= 0:
        raise ValueError("alternating needs args['max_steps'] > 0 (the schedule is defined over optimizer steps)")
    phase_at(0, k_sft, k_grpo)  # validates k_sft / k_grpo
    model, processor = resolve_model(model, processor, precision, views, sft_rows, grpo_rows)
    config = GRPOConfig(output_dir=str(output_dir), **merged)
    if sft_batch_size is None:
        sft_batch_size = max(1, config.per_device_train_batch_size // (config.num_generations or 1))
    trainer = _alternating_trainer_class()(
        model=model,
        reward_funcs=list(reward_funcs),
        args=config,
        train_dataset=to_dataset(grpo_rows),
        processing_class=processor,
        peft_config=lora_config(lora),
        callbacks=list(callbacks or []),
        sft_dataset=to_dataset(sft_rows),
        sft_collator=AnswerSpanCollator(processor, include_think=include_think),
        k_sft=k_sft,
        k_grpo=k_grpo,
        sft_batch_size=sft_batch_size,
    )
    check_precision(trainer, precision)
    with left_padding(processor):  # GRPO steps need it (see left_padding); the SFT collator is padding-agnostic
        trainer.train(resume_from_checkpoint=resume_target(output_dir, resume))
    return finish(trainer, output_dir, "alternating", schedule(trainer.state.global_step, k_sft, k_grpo))
