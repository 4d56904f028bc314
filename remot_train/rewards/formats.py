"""The format reward: is the completion shaped ``[<think>] ... </think> ... <answer>X</answer>``?

Thinking models start *inside* the think block (the prompt ends with ``<think>\\n``), so the
opening ``<think>`` is optional; the closing ``</think>`` is not.
"""

from __future__ import annotations

import re
from typing import Any

from remot_train.rewards._common import completion_text

_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
# The tags of a well-formed completion, in order: with or without the opening <think>.
_GOOD = (("</think>", "<answer>", "</answer>"), ("<think>", "</think>", "<answer>", "</answer>"))


def is_well_formed(text: str) -> bool:
    """Whether one completion's text has the expected format (see :func:`format_reward`).

    >>> is_well_formed("it turned left.</think>\\n<answer>A</answer>\\n")
    True
    >>> is_well_formed("<think>left</think><answer>A</answer> because")
    False
    """
    matches = list(_TAG.finditer(text))
    if tuple(m.group().lower() for m in matches) not in _GOOD:
        return False
    first, open_answer, close_answer = matches[0], matches[-2], matches[-1]
    if len(matches) == 4 and text[: first.start()].strip():
        return False  # text before an explicit opening <think>
    if not text[open_answer.end() : close_answer.start()].strip():
        return False  # empty answer
    return not text[close_answer.end() :].strip()


def format_reward(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                  **kwargs: Any) -> list[float]:
    r"""1.0 for each completion in the expected format, else 0.0.

    A completion is well formed when **all** of these hold (tags are matched case-insensitively;
    only the four tags ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` are looked at):

    1. Its tags, in order, are exactly ``</think> <answer> </answer>`` or
       ``<think> </think> <answer> </answer>``. So there is exactly one ``<answer>...</answer>``
       block, the think block is closed by exactly one ``</think>`` before ``<answer>``, there is
       at most one ``<think>`` and it comes before ``</think>`` (no unclosed or nested think
       block), and no tag appears inside or after the answer. An answer block quoted in the
       reasoning therefore fails the format, though :mod:`remot_train.scoring` still scores the
       last block.
    2. When the completion opens its think block itself, only whitespace precedes ``<think>``.
       (Without an opening tag everything before ``</think>`` is the reasoning.)
    3. The answer block holds something other than whitespace.
    4. Only whitespace follows ``</answer>``.

    Text between ``</think>`` and ``<answer>`` is allowed (a one-line summary, say). Whether the
    answer is a *valid* answer for the question (a letter, true/false, ...) is not checked here:
    that is :func:`remot_train.rewards.task_reward`'s concern.

    >>> format_reward(completions=[
    ...     "the view shifted right, so the camera turned left.\n</think>\n\n<answer>A</answer>",
    ...     "<think>\nleft\n</think><answer>B</answer>\n",
    ...     [{"role": "assistant", "content": "left</think><answer>true</answer>"}],
    ...     "<answer>A</answer>",                                   # think never closed
    ...     "left</think><answer>A</answer><answer>B</answer>",     # two answers
    ...     "left</think><answer>A</answer> I am sure.",           # text after the answer
    ...     "<think>left<think>x</think><answer>A</answer>",        # nested think
    ...     "left</think><answer> </answer>",                       # empty answer
    ... ])
    [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    return [1.0 if is_well_formed(completion_text(c)) else 0.0 for c in completions]
