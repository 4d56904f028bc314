"""Helpers shared by the reward functions: completion text and per-row columns.

trl hands a reward function ``completions`` either as plain strings (standard prompts) or as
conversations, one list of messages per completion (conversational prompts). When the tokenizer
has a response schema (Qwen3 thinking templates do), trl parses each completion and the think
span arrives *separately*, in the message's ``reasoning_content`` (or ``thinking``) field, with
the ``<think>``/``</think>`` tags removed; the schema only fills that field when the model closed
its think block. :func:`completion_text` puts such a message back together as
``reasoning + "</think>" + content`` so that every reward sees the text the model wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_REASONING_KEYS = ("reasoning_content", "thinking")


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Multimodal content: a list of parts such as {"type": "text", "text": "..."}.
    return "".join(part.get("text") or "" for part in content if isinstance(part, dict))


def completion_text(completion: Any) -> str:
    """The text of one completion, plain or conversational.

    >>> completion_text("<answer>A</answer>")
    '<answer>A</answer>'
    >>> completion_text([{"role": "assistant", "content": "</think><answer>A</answer>"}])
    '</think><answer>A</answer>'
    >>> completion_text([{"role": "assistant", "reasoning_content": "it turned left", "content": "<answer>A</answer>"}])
    'it turned left</think><answer>A</answer>'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "<answer>B</answer>"}]}])
    '<answer>B</answer>'
    """
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue
        for key in _REASONING_KEYS:
            reasoning = message.get(key)
            if isinstance(reasoning, str) and reasoning:
                parts.append(reasoning + "</think>")
                break
        parts.append(_content_text(message.get("content")))
    return "".join(parts)


def column(columns: dict[str, Any], name: str, n: int) -> Sequence[Any]:
    """Column ``name`` as a list of ``n`` values; ``[None] * n`` when the batch lacks it.

    >>> column({"answer": ["A", "B"]}, "answer", 2), column({}, "tolerance", 2)
    (['A', 'B'], [None, None])
    """
    values = columns.get(name)
    if values is None:
        return [None] * n
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        return [values] * n  # a scalar broadcast to every row
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
    return values
