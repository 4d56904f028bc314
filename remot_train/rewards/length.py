"""The conciseness reward: a penalty for reasoning longer than a target length.

``length_reward = -min(1, max(0, n_think - target_tokens) / normaliser)``, in ``[-1, 0]``: no
penalty up to the target, then a linear one that reaches -1 at ``target_tokens + normaliser``.
It never rewards brevity below the target, so it cannot pay the policy to stop reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from remot_train.rewards._common import completion_text

#: Default reasoning budget, in whitespace tokens. Set it per run (``make_length_reward``).
DEFAULT_TARGET_TOKENS = 256

_CLOSE_THINK = re.compile(r"</think>", re.IGNORECASE)
_OPEN_THINK = re.compile(r"\s*<think>", re.IGNORECASE)
_OPEN_ANSWER = re.compile(r"<answer>", re.IGNORECASE)


def think_span(text: str) -> str:
    """The reasoning part of a completion.

    Everything before the first ``</think>`` (less an opening ``<think>``). Without a
    ``</think>``, everything before the first ``<answer>``; without either, the whole text (a
    think block that never closed, typically a truncated completion, counts in full).

    >>> think_span("<think>a b c</think><answer>A</answer>"), think_span("a b</think>x")
    ('a b c', 'a b')
    >>> think_span("a b <answer>A</answer>"), think_span("a b c d")
    ('a b ', 'a b c d')
    """
    m = _CLOSE_THINK.search(text) or _OPEN_ANSWER.search(text)
    span = text[: m.start()] if m else text
    opening = _OPEN_THINK.match(span)
    return span[opening.end() :] if opening else span


def _token_counter(tokenizer: Any) -> Callable[[list[str]], list[int]]:
    if tokenizer is None:
        return lambda texts: [len(t.split()) for t in texts]
    if hasattr(tokenizer, "encode"):  # a Hugging Face tokenizer or processor-like object
        def count(texts: list[str]) -> list[int]:
            try:
                return [len(tokenizer.encode(t, add_special_tokens=False)) for t in texts]
            except TypeError:  # an encode() without add_special_tokens (tiktoken-like)
                return [len(tokenizer.encode(t)) for t in texts]
        return count
    if callable(tokenizer):  # any str -> sequence of tokens
        return lambda texts: [len(tokenizer(t)) for t in texts]
    raise TypeError(f"tokenizer must have .encode or be callable, got {type(tokenizer).__name__}")


class LengthReward:
    """Callable reward (picklable, unlike a closure); build it with :func:`make_length_reward`."""

    def __init__(self, target_tokens: int = DEFAULT_TARGET_TOKENS, tokenizer: Any = None,
                 normaliser: float | None = None, name: str = "length_reward"):
        if target_tokens < 0:
            raise ValueError(f"target_tokens must be >= 0, got {target_tokens}")
        normaliser = float(normaliser if normaliser is not None else max(target_tokens, 1))
        if normaliser <= 0:
            raise ValueError(f"normaliser must be > 0, got {normaliser}")
        self.target_tokens = target_tokens
        self.normaliser = normaliser
        self.tokenizer = tokenizer
        self.__name__ = name  # trl logs rewards under their __name__

    def penalty(self, n_tokens: int) -> float:
        """The reward for ``n_tokens`` of reasoning.

        >>> LengthReward(100, normaliser=50).penalty(100), LengthReward(100, normaliser=50).penalty(125)
        (0.0, -0.5)
        """
        excess = max(0, n_tokens - self.target_tokens)
        return -min(1.0, excess / self.normaliser) if excess else 0.0

    def counts(self, completions: Sequence[Any]) -> list[int]:
        """Reasoning length of each completion, in tokens."""
        return _token_counter(self.tokenizer)([think_span(completion_text(c)) for c in completions])

    def __call__(self, prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                 **kwargs: Any) -> list[float]:
        return [self.penalty(n) for n in self.counts(completions)]

    def __repr__(self) -> str:
        return (f"LengthReward(target_tokens={self.target_tokens}, normaliser={self.normaliser:g}, "
                f"tokenizer={type(self.tokenizer).__name__ if self.tokenizer is not None else None})")


def make_length_reward(target_tokens: int = DEFAULT_TARGET_TOKENS, tokenizer: Any = None,
                       normaliser: float | None = None, name: str = "length_reward") -> LengthReward:
    """A conciseness reward: ``-clip(max(0, n - target_tokens) / normaliser, 0, 1)``.

    ``n`` is the number of tokens in the reasoning (:func:`think_span`): whitespace-separated
    words by default, or ``len(tokenizer.encode(span, add_special_tokens=False))`` for a Hugging
    Face tokenizer, or ``len(tokenizer(span))`` for any other callable. ``normaliser`` defaults to
    ``target_tokens``, so reasoning twice the target earns -1. The result is a picklable callable
    with ``__name__ == name``, in trl's reward signature.

    >>> reward = make_length_reward(target_tokens=4, normaliser=4)
    >>> reward(completions=["a b c</think><answer>A</answer>", "a b c d e f</think><answer>A</answer>",
    ...                     "a b c d e f g h i j k l</think><answer>A</answer>"])
    [0.0, -0.5, -1.0]
    >>> reward.__name__
    'length_reward'
    >>> make_length_reward(2, tokenizer=list)(completions=["abc</think>"])  # characters as tokens
    [-0.5]
    """
    return LengthReward(target_tokens, tokenizer, normaliser, name)


#: The conciseness reward at the default target (:data:`DEFAULT_TARGET_TOKENS` words).
length_reward = make_length_reward()
