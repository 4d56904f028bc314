"""What every trainer builder shares: CPU-safe defaults, rows -> datasets, model resolution,
resuming, and the result object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Defaults under every run; a recipe's trainer arguments override them. CPU-safe: no gradient
#: checkpointing, no reporting service, no dataloader workers, a log line per step. Autocast
#: (bf16) comes from the recipe's precision policy, not from here.
SAFE_DEFAULTS: dict[str, Any] = {
    "activation_checkpointing": False,
    "dataloader_pin_memory": False,
    "report_to": "none",
    "dataloader_num_workers": 0,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 50,
    "disable_tqdm": True,
    "remove_unused_columns": False,
    "seed": 0,
}


@dataclass
class TrainResult:
    """What a run leaves: its folder, its per-step log (each entry a dict; train entries carry
    ``step``, ``loss`` and ``phase``, GRPO entries ``rewards/<func>/mean``), and the final
    checkpoint folder (weights as safetensors, plus the processor)."""

    output_dir: Path
    log_history: list[dict]
    final_checkpoint: Path
    phases: list[str] = field(default_factory=list)  # phase of each optimizer step, in order
    precision: dict | None = None  # check_precision's report: policy, dtypes, share of vanishing updates
    global_step: int = 0  # optimizer steps taken (counted across a resumed run)

    def to_json(self) -> dict:
        return {
            "output_dir": str(self.output_dir),
            "final_checkpoint": str(self.final_checkpoint),
            "phases": list(self.phases),
            "precision": self.precision,
            "global_step": self.global_step,
            "log_history": self.log_history,
        }


def merged_args(defaults: dict, overrides: dict | None) -> dict:
    """``defaults`` updated by ``overrides`` (None-safe).

    >>> merged_args({"bf16": False, "seed": 0}, {"seed": 3})
    {'bf16': False, 'seed': 3}
    """
    return {**defaults, **(overrides or {})}


def to_dataset(rows):
    """A ``datasets.Dataset`` from a list of row dicts (a Dataset passes through)."""
    from datasets import Dataset

    if isinstance(rows, Dataset):
        return rows
    return Dataset.from_list(list(rows))


def resolve_model(model, processor=None, precision: str = "fp32", views: str = "frames", *rows):
    """``(model, processor)`` from a local checkpoint path, loaded in the weights dtype of the
    ``precision`` policy (:mod:`remot_train.precision`), or from a model object plus its processor
    (used as it is). ``views="clips"``: the processor reads every image as a clip of as many
    frames as the ``rows``' clips hold (:func:`remot_train.clips.processor_for`,
    :func:`remot_train.clips.clip_frames_of`; every row set given must agree)."""
    from remot_train.clips import ClipError, clip_frames_of, processor_for
    from remot_train.model import load
    from remot_train.precision import policy

    if isinstance(model, (str, Path)):
        model, processor = load(model, dtype=policy(precision).weights)
    elif processor is None:
        raise ValueError("pass the processor along with an in-memory model (or pass a checkpoint path)")
    k = {clip_frames_of(r) for r in rows if r is not None} if views == "clips" else set()
    if len(k) > 1:
        raise ClipError(f"the run's row sets hold clips of {sorted(k)} frames; one run shows one clip length")
    return model, processor_for(processor, views, *k)


def trainer_args(defaults: dict, overrides: dict | None, precision: str, lora: dict | None) -> dict:
    """Trainer keyword arguments: ``defaults``, then the recipe's ``overrides``, then the
    precision policy's autocast (``bf16``). Raises :class:`remot_train.precision.PrecisionError`
    when the arguments set ``bf16`` / ``fp16`` themselves or a LoRA policy has no ``lora``."""
    from remot_train.precision import check_policy

    chosen = check_policy(precision, lora, {"trainer arguments": overrides})
    merged = {**merged_args(defaults, overrides), "bf16": chosen.bf16, "fp16": False}
    if "use_cpu" not in merged:  # no CUDA: say so, so a multi-process launch forms a CPU (gloo) process group
        import torch

        merged["use_cpu"] = not torch.cuda.is_available()
    return merged


def check_precision(trainer, precision: str) -> dict:
    """Before training: the share of trainable weights whose updates would be rounded away at the
    run's learning rate (:func:`remot_train.precision.check_updates_land`; raises when most
    would). The report is kept on the trainer (``trainer.precision_report``) and lands in the
    run's ``TrainResult.precision`` (``run.json``)."""
    from remot_train.precision import check_updates_land

    report = check_updates_land(trainer.model, trainer.args.learning_rate, precision)
    report = {"policy": precision, "learning_rate": trainer.args.learning_rate, **report}
    trainer.precision_report = report
    return report


@contextmanager
def left_padding(processor) -> Iterator:
    """Within the block, ``processor`` pads on the left (its tokenizer's ``padding_side``); the
    previous side is restored on exit, so the final checkpoint keeps the model's own setting.

    trl's ``GRPOTrainer`` left-pads the prompt ids itself, but builds the multimodal side inputs
    of its loss forward passes (``mm_token_type_ids``, which mark the image tokens) by calling the
    processor again with ``padding=True`` and the processor's *own* padding side. Qwen-VL
    tokenizers pad on the right, so as soon as one GRPO batch holds prompts of different lengths
    (real rows: 2-4 images, varying text) the image-token marks sit at the wrong positions of the
    left-padded ids, and Qwen-VL's M-RoPE index fails with ``shape mismatch: value tensor of shape
    [3, N] cannot be broadcast to indexing result of shape [3, M]``. (trl pads on the left when it
    loads the processor itself; it does not when one is passed, as here.)

    >>> from types import SimpleNamespace
    >>> proc = SimpleNamespace(tokenizer=SimpleNamespace(padding_side="right"))
    >>> with left_padding(proc):
    ...     proc.tokenizer.padding_side
    'left'
    >>> proc.tokenizer.padding_side
    'right'
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    before = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield processor
    finally:
        tokenizer.padding_side = before


def span_cross_entropy(model, batch: dict, num_items_in_batch=None):
    """The SFT loss computed only where it is defined: ``(loss, correct, count)``.

    The LM head projects only the positions whose next token has a label (a boolean
    ``logits_to_keep`` mask), not every position of the sequence: with a 151,936-token vocabulary
    and a prompt of hundreds of image and text tokens before a short target, that is most of
    the work of a step (several times faster on CPU; no ``(batch, length, vocab)`` logits on a
    GPU). The loss is the summed cross-entropy over those tokens divided by ``num_items_in_batch``
    (the labelled tokens of the whole accumulated batch, as trl and transformers count them) or,
    without it, by the batch's own count: the same value as the model's own mean loss.
    ``correct`` is how many of them the argmax predicts."""
    import torch

    from remot_train.collator import IGNORE

    labels = batch["labels"]
    target_mask = labels[:, 1:] != IGNORE
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = target_mask
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, logits_to_keep=keep, use_cache=False).logits  # (targets, vocab)
    targets = labels[:, 1:][target_mask]
    loss = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
    count = targets.numel()
    denominator = num_items_in_batch if num_items_in_batch is not None else max(count, 1)
    with torch.no_grad():
        correct = int((logits.argmax(dim=-1) == targets).sum())
    return loss / denominator, correct, count


def span_sft_trainer_class():
    """trl's ``SFTTrainer`` with :func:`span_cross_entropy` as its loss (built lazily)."""
    from trl import SFTTrainer

    class SpanSFTTrainer(SFTTrainer):
        """``SFTTrainer`` whose loss projects only the labelled positions (see
        :func:`span_cross_entropy`); logs ``mean_token_accuracy`` and ``num_tokens`` like trl."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            if return_outputs:  # evaluation with logits: trl's own path
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            mode = "train" if self.model.training else "eval"
            loss, correct, count = span_cross_entropy(model, inputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # DDP averages the gradients (as trl does)
            stats = self.accelerator.gather_for_metrics(
                torch.tensor([correct, count, int(inputs["attention_mask"].sum())], device=loss.device)
            ).reshape(-1, 3).sum(0)
            self._metrics[mode]["mean_token_accuracy"].append(float(stats[0] / stats[1]) if stats[1] else 0.0)
            if mode == "train":
                self._total_train_tokens += int(stats[2])
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

    return SpanSFTTrainer


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` folder in ``output_dir``, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = Path(output_dir)
    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def finished_run(output_dir: Path, args: dict | None, resume: bool | str | None) -> TrainResult | None:
    """The saved result of a run in ``output_dir`` that already reached its end, or None.

    Resuming a finished run would not be a no-op: transformers 5.23 resumes mid-epoch by skipping
    the trained batches and then takes one more step before it checks ``max_steps`` (measured:
    a finished 120-step SFT run became 121 steps when materialized again). So a run whose last
    checkpoint is at (or past) the requested ``max_steps`` (or, without one, at the end it was
    planned for), and that wrote its ``result.json`` and ``final/``, is returned as it is."""
    output_dir = Path(output_dir)
    if resume is not True or not (output_dir / "result.json").is_file() or not (output_dir / "final").is_dir():
        return None
    checkpoint = last_checkpoint(output_dir)
    if checkpoint is None:
        return None
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    wanted = int((args or {}).get("max_steps", -1) or -1)
    if state["global_step"] < (wanted if wanted > 0 else state["max_steps"]):
        return None
    saved = json.loads((output_dir / "result.json").read_text())
    return TrainResult(Path(saved["output_dir"]), saved["log_history"], Path(saved["final_checkpoint"]),
                       saved.get("phases", []), saved.get("precision"), saved.get("global_step", state["global_step"]))


def resume_target(output_dir: Path, resume: bool | str | None) -> str | None:
    """What to pass as ``resume_from_checkpoint``: with ``resume=True`` the last checkpoint in
    ``output_dir`` if there is one; a string is a checkpoint path; False/None starts fresh."""
    if isinstance(resume, (str, Path)):
        return str(resume)
    return last_checkpoint(output_dir) if resume else None


def lora_config(peft: dict | None):
    """A ``peft.LoraConfig`` from a recipe's ``lora:`` section, or None (peft is optional)."""
    if not peft:
        return None
    try:
        from peft import LoraConfig
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("a lora: section needs peft; install it (pip install 'peft>=0.21')") from e
    return LoraConfig(**peft)


def tag_phase(log_history: list[dict], phase: str) -> list[dict]:
    """Copies of the entries, each per-step train entry (one with a ``loss``) tagged with
    ``phase`` unless it has one.

    >>> tag_phase([{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.1, "phase": "grpo"}, {"train_loss": 0.3}], "sft")
    [{'step': 1, 'loss': 0.5, 'phase': 'sft'}, {'step': 2, 'loss': 0.1, 'phase': 'grpo'}, {'train_loss': 0.3}]
    """
    return [{**e, "phase": e.get("phase", phase)} if "loss" in e else dict(e) for e in log_history]


def finish(trainer, output_dir: Path, phase: str, phases: list[str] | None = None) -> TrainResult:
    """Save the final model and processor under ``output_dir/final`` and write ``result.json``
    (files by the main process only; every process returns the result). A LoRA run saves the
    merged model there and the adapter alone in ``final/adapter``, and records in the precision
    report how much of the adapter's update survived the merge into the base dtype."""
    output_dir = Path(output_dir)
    final = output_dir / "final"
    main = trainer.accelerator.is_main_process
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):  # LoRA: the final checkpoint is the merged full model
        from remot_train.precision import lora_merge_report

        if getattr(trainer, "precision_report", None) is not None:
            trainer.precision_report["lora_merge"] = lora_merge_report(model)
        if main:
            model.save_pretrained(str(final / "adapter"))  # the adapter alone, exact whatever the base dtype
            model.merge_and_unload().save_pretrained(str(final))
    else:
        trainer.save_model(str(final))  # every process: under ZeRO-3 the weights are gathered first
    history = tag_phase(trainer.state.log_history, phase)
    steps = [e["phase"] for e in history if "loss" in e and "step" in e]
    result = TrainResult(output_dir, history, final, phases if phases is not None else steps,
                         getattr(trainer, "precision_report", None), trainer.state.global_step)
    if main:
        trainer.processing_class.save_pretrained(str(final))
        (output_dir / "result.json").write_text(json.dumps(result.to_json(), indent=1, default=str))
    trainer.accelerator.wait_for_everyone()
    return result
