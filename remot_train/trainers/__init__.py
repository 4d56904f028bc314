"""Trainer builders on trl: SFT, GRPO, sequential SFT -> GRPO and alternating SFT <-> GRPO.

All return a :class:`TrainResult` (output folder, per-step log history, final checkpoint) and
resume from the last checkpoint in their output folder. No Dagster here.
"""

from remot_train.trainers.alternating import alternating, phase_at, schedule
from remot_train.trainers.common import SAFE_DEFAULTS, TrainResult
from remot_train.trainers.runs import GRPO_PAPER, grpo, sequential, sft

__all__ = [
    "GRPO_PAPER",
    "SAFE_DEFAULTS",
    "TrainResult",
    "alternating",
    "grpo",
    "phase_at",
    "schedule",
    "sequential",
    "sft",
]
