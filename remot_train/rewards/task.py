"""The task (accuracy) reward: how right is the final answer? Scoring is :mod:`remot_train.scoring`'s.

The reward is the answer's ``score``: 1/0 for the discrete parse rules (and the old tolerance
rule ``number``), the mean relative accuracy in ``[0, 1]`` for ``number_mra``, so that GRPO sees
a graded signal on numeric questions (an answer 10% off earns more than one 40% off).
"""

from __future__ import annotations

from typing import Any

from remot_train import scoring
from remot_train.rewards._common import column, completion_text


def score_row(text: str, answer: Any, parse_rule: Any, options: Any = None, tolerance: Any = None) -> scoring.Scored:
    """:func:`remot_train.scoring.score` for one row; ``tolerance`` is passed on only when set.

    >>> score_row("x</think><answer>(b)</answer>", "B", "choice_letter", ["Pair A", "Pair B"])
    Scored(correct=True, parsed='B', format_ok=True, score=1.0)
    """
    options = list(options) if options is not None else None
    if tolerance is None:
        return scoring.score(text, answer, parse_rule, options)
    return scoring.score(text, answer, parse_rule, options, tolerance=tolerance)


def task_reward(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                **columns: Any) -> list[float | None]:
    """The final answer's score in ``[0, 1]``: 1.0 when correct, else 0.0 (format failures
    included); for ``number_mra`` questions the mean relative accuracy (graded).

    Uses the dataset columns ``answer`` and ``parse_rule`` (required) and ``options`` and
    ``tolerance`` (optional), one value per completion, and scores each row with
    :func:`remot_train.scoring.score`, the same function evaluation uses (the reward is its
    ``score``). A row whose ``answer`` or ``parse_rule`` is None gets ``None``: trl skips it (NaN)
    instead of reading it as wrong. An unknown ``parse_rule`` raises, as scoring does: it is a
    data error, not a wrong answer.

    >>> task_reward(
    ...     completions=["left</think><answer>A</answer>", "left</think><answer>B</answer>",
    ...                  [{"role": "assistant", "content": "no</think><answer>False</answer>"}], "left", "?"],
    ...     answer=["A", "A", "false", "true", None],
    ...     parse_rule=["choice_letter", "choice_letter", "true_false", "true_false", None],
    ...     options=[["Image 2", "Image 3"], ["Image 2", "Image 3"], ["true", "false"], ["true", "false"], None])
    [1.0, 0.0, 1.0, 0.0, None]
    >>> task_reward(completions=["</think><answer>24 deg</answer>", "</think><answer>about 30°</answer>",
    ...                          "</think><answer>0.5 m</answer>"],
    ...             answer=["24 deg"] * 3, parse_rule=["number_mra"] * 3)
    [1.0, 0.5, 0.0]
    """
    n = len(completions)
    rows = zip(completions, column(columns, "answer", n), column(columns, "parse_rule", n),
               column(columns, "options", n), column(columns, "tolerance", n), strict=True)
    rewards: list[float | None] = []
    for completion, answer, parse_rule, options, tolerance in rows:
        if answer is None or parse_rule is None:
            rewards.append(None)
            continue
        scored = score_row(completion_text(completion), answer, parse_rule, options, tolerance)
        rewards.append(float(scored.score))
    return rewards
