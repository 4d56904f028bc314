"""GRPO reward functions for remot, in trl's reward signature.

Every reward is ``f(prompts, completions, completion_ids=None, **columns) -> list[float | None]``,
one value per completion, and is pure: no model, no I/O, no state between calls. ``completions``
may be plain strings or conversations (``[{"role": "assistant", "content": ...}]``, including
trl's parsed form with the reasoning in ``reasoning_content``); the dataset's columns arrive as
lists aligned with them (``answer``, ``parse_rule``, ``options``, ``tolerance``, ``attribute``,
``relations``, ...). Completions of thinking models start inside the think block, so a lone
``</think>`` closes it.

* :func:`format_reward`: 1/0, the ``[<think>] ... </think> <answer>X</answer>`` shape.
* :func:`task_reward`: ``[0, 1]``, the answer's ``score`` by :func:`remot_train.scoring.score`: 1/0
  (right/wrong), graded by mean relative accuracy for ``number_mra`` questions.
* :func:`length_reward` / :func:`make_length_reward`: ``[-1, 0]``, reasoning past a target length.
* :func:`logic_reward`: -1/0/+1: the relations the completion states in the scaffold's notation
  (``[m12 > m34]``, ``[m12: left]``) contradict each other or the final answer / say nothing
  beyond the answer / decide the answer consistently (:mod:`remot_train.rewards.logic`).

:func:`default_reward_funcs` returns them with ReMoT's weights, for ``GRPOTrainer(reward_funcs=...)``
and ``GRPOConfig(reward_weights=...)``:

>>> funcs, weights = default_reward_funcs(target_tokens=300)
>>> [f.__name__ for f in funcs], weights
(['format_reward', 'task_reward', 'length_reward', 'logic_reward'], [3.5, 3.5, 1.3, 1.7])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remot_train.rewards._common import completion_text
from remot_train.rewards.formats import format_reward, is_well_formed
from remot_train.rewards.length import (
    DEFAULT_TARGET_TOKENS,
    LengthReward,
    length_reward,
    make_length_reward,
    think_span,
)
from remot_train.rewards.logic import VALUES, answer_table, logic_reward, logic_score, statements
from remot_train.rewards.task import task_reward

#: ReMoT's reward weights in :func:`default_reward_funcs`' order, format : accuracy : conciseness
#: : logic = 3.5 : 3.5 : 1.3 : 1.7 (a tuple, so ``GRPOConfig(reward_weights=list(DEFAULT_WEIGHTS))``).
DEFAULT_WEIGHTS: tuple[float, float, float, float] = (3.5, 3.5, 1.3, 1.7)


def default_reward_funcs(target_tokens: int = DEFAULT_TARGET_TOKENS, tokenizer: Any = None,
                         normaliser: float | None = None) -> tuple[list[Callable[..., list]], list[float]]:
    """ReMoT's four rewards and their weights, in the same order: format, accuracy, conciseness, logic.

    ``target_tokens``, ``tokenizer`` and ``normaliser`` configure the conciseness reward
    (:func:`make_length_reward`). Pass ``funcs`` as ``GRPOTrainer(reward_funcs=funcs)`` and
    ``weights`` as ``GRPOConfig(reward_weights=weights)``.

    >>> funcs, weights = default_reward_funcs(target_tokens=2)
    >>> done = "turned left, so image 2.</think><answer>A</answer>"
    >>> [f(prompts=["q"], completions=[done], answer=["A"], parse_rule=["choice_letter"],
    ...    options=[["Image 2", "Image 3"]])[0] for f in funcs]
    [1.0, 1.0, -1.0, 0.0]
    """
    length = make_length_reward(target_tokens=target_tokens, tokenizer=tokenizer, normaliser=normaliser)
    return [format_reward, task_reward, length, logic_reward], list(DEFAULT_WEIGHTS)


__all__ = [
    "DEFAULT_TARGET_TOKENS",
    "DEFAULT_WEIGHTS",
    "LengthReward",
    "VALUES",
    "answer_table",
    "completion_text",
    "default_reward_funcs",
    "format_reward",
    "is_well_formed",
    "length_reward",
    "logic_reward",
    "logic_score",
    "make_length_reward",
    "statements",
    "task_reward",
    "think_span",
]
