"""SFT, GRPO and sequential SFT -> GRPO: thin builders on trl's trainers.

Each builder takes a model (a local checkpoint path, or a model object with its processor),
rows in the data adapter's format (a list of dicts or a ``datasets.Dataset``), an output folder
and trainer arguments (``SFTConfig`` / ``GRPOConfig`` keywords over :data:`SAFE_DEFAULTS`), and a
precision policy (:mod:`remot_train.precision`: the weights' dtype and bf16 autocast; updates that
would round away stop the run before it starts). A
run resumes from the last ``checkpoint-N`` in its output folder (``resume=True``), so a killed
run continues where its last checkpoint left off. Each returns a :class:`TrainResult`.
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
    span_sft_trainer_class,
    tag_phase,
    to_dataset,
    trainer_args,
)

#: ReMoT's GRPO settings: 4 rollouts per prompt, 16 completions per step, KL 0.01. The tiny
#: recipe shrinks the numbers, not the shape.
GRPO_PAPER: dict = {"num_generations": 4, "per_device_train_batch_size": 16, "beta": 0.01}


def sft(
    model,
    train_rows,
    output_dir: Path,
    *,
    args: dict | None = None,
    include_think: bool = False,
    processor=None,
    precision: str = "fp32",
    lora: dict | None = None,
    views: str = "frames",
    callbacks: Sequence | None = None,
    resume: bool | str | None = True,
) -> TrainResult:
    """Supervised fine-tuning with trl's ``SFTTrainer`` and :class:`AnswerSpanCollator` (loss on
    what follows the reasoning, or on the reasoning too with ``include_think``), its loss computed
    only at the labelled positions (:func:`remot_train.trainers.common.span_cross_entropy`)."""
    from trl import SFTConfig

    from remot_train.collator import AnswerSpanCollator

    output_dir = Path(output_dir)
    if (done := finished_run(output_dir, args, resume)) is not None:
        return done
    model, processor = resolve_model(model, processor, precision, views, train_rows)
    config = SFTConfig(
        output_dir=str(output_dir),
        **trainer_args({**SAFE_DEFAULTS, "dataset_kwargs": {"skip_prepare_dataset": True}}, args, precision, lora),
    )
    trainer = span_sft_trainer_class()(
        model=model,
        args=config,
        train_dataset=to_dataset(train_rows),
        processing_class=processor,
        data_collator=AnswerSpanCollator(processor, include_think=include_think),
        peft_config=lora_config(lora),
        callbacks=list(callbacks or []),
    )
    check_precision(trainer, precision)
    trainer.train(resume_from_checkpoint=resume_target(output_dir, resume))
    return finish(trainer, output_dir, "sft")


def grpo(
    model,
    train_rows,
    output_dir: Path,
    *,
    reward_funcs: Sequence[Callable],
    reward_weights: Sequence[float] | None = None,
    args: dict | None = None,
    processor=None,
    precision: str = "fp32",
    lora: dict | None = None,
    views: str = "frames",
    callbacks: Sequence | None = None,
    resume: bool | str | None = True,
) -> TrainResult:
    """GRPO with trl's ``GRPOTrainer``. ``reward_funcs`` follow trl's signature
    ``f(prompts, completions, completion_ids=None, **columns) -> list[float | None]``; each is
    logged as ``rewards/<name>/mean``; ``reward_weights`` weight them (default 1 each).

    With ``beta > 0`` trl reloads the reference model from the policy's checkpoint folder, so
    pass a path (or a model loaded from one)."""
    from trl import GRPOConfig, GRPOTrainer

    output_dir = Path(output_dir)
    if (done := finished_run(output_dir, args, resume)) is not None:
        return done
    model, processor = resolve_model(model, processor, precision, views, train_rows)
    weights = list(reward_weights) if reward_weights is not None else None
    config = GRPOConfig(
        output_dir=str(output_dir), **trainer_args({**SAFE_DEFAULTS, "reward_weights": weights}, args, precision, lora)
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(reward_funcs),
        args=config,
        train_dataset=to_dataset(train_rows),
        processing_class=processor,
        peft_config=lora_config(lora),
        callbacks=list(callbacks or []),
    )
    check_precision(trainer, precision)
    with left_padding(processor):  # trl re-tokenizes prompts for the image-token marks; see left_padding
        trainer.train(resume_from_checkpoint=resume_target(output_dir, resume))
    return finish(trainer, output_dir, "grpo")


def sequential(
    model,
    sft_rows,
    grpo_rows,
    output_dir: Path,
    *,
    reward_funcs: Sequence[Callable],
    reward_weights: Sequence[float] | None = None,
    sft_args: dict | None = None,
    grpo_args: dict | None = None,
    include_think: bool = False,
    processor=None,
    precision: str = "fp32",
    lora: dict | None = None,
    views: str = "frames",
    callbacks: Sequence | None = None,
    resume: bool | str | None = True,
) -> TrainResult:
    """SFT into ``output_dir/sft``, then GRPO into ``output_dir/grpo`` starting from the SFT run's
    final weights (which are also GRPO's KL reference). The log history is SFT's entries then
    GRPO's, each tagged with its ``phase``; GRPO steps are numbered on from SFT's last step."""
    output_dir = Path(output_dir)
    first = sft(
        model,
        sft_rows,
        output_dir / "sft",
        args=sft_args,
        include_think=include_think,
        processor=processor,
        precision=precision,
        lora=lora,
        views=views,
        callbacks=callbacks,
        resume=resume,
    )
    second = grpo(
        first.final_checkpoint,
        grpo_rows,
        output_dir / "grpo",
        reward_funcs=reward_funcs,
        reward_weights=reward_weights,
        args=grpo_args,
        precision=precision,
        lora=lora,
        views=views,
        callbacks=callbacks,
        resume=resume,
    )
    offset = max((e["step"] for e in first.log_history if "step" in e), default=0)
    shifted = [{**e, "step": e["step"] + offset} if "step" in e else e for e in second.log_history]
    history = tag_phase(first.log_history, "sft") + tag_phase(shifted, "grpo")
    return TrainResult(output_dir, history, second.final_checkpoint, first.phases + second.phases, second.precision,
                       first.global_step + second.global_step)
