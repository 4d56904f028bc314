"""SFT collation: prompt/completion rows with images -> model inputs, with loss on the answer only.

A row is conversational: ``prompt`` (a user message whose content holds ``{"type": "image"}``
placeholders), ``images`` (PIL images, one per placeholder, in order) and ``completion`` (one
assistant message, ``"<think>\\n...\\n</think>\\n<answer>...</answer>"``).

The prompt is rendered with the generation prompt (which, for Thinking templates, opens
``<think>\\n``) and tokenised with its images by the processor; the completion is the rest of the
rendered conversation, tokenised as text and appended. This is the same split that generation
sees: prompt tokens, then completion tokens.

Labels are ``-100`` everywhere except the completion's last ``<answer>...</answer>`` span (tags
included, so the model learns the format) and the end-of-turn token right after it (so it
learns to stop). With ``include_think=True`` the whole completion up to that span is kept too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IGNORE = -100


def clean_messages(messages: list[dict]) -> list[dict]:
    """Messages with ``None``-valued keys dropped from content parts (Arrow adds them when a
    column of mixed parts is stored: an image part gains ``text=None``).

    >>> clean_messages([{"role": "user", "content": [{"type": "image", "text": None}]}])
    [{'role': 'user', 'content': [{'type': 'image'}]}]
    """
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [{k: v for k, v in part.items() if v is not None} for part in content]
        out.append({**{k: v for k, v in m.items() if v is not None}, "content": content})
    return out


def answer_span(ids: list[int], open_id: int, close_id: int) -> tuple[int, int] | None:
    """``[start, end)`` of the last ``<answer> ... </answer>`` in ``ids``, tags included; None if
    there is no closed answer.

    >>> answer_span([5, 1, 7, 2, 9, 1, 8, 2, 3], open_id=1, close_id=2)
    (5, 8)
    >>> answer_span([5, 1, 7], open_id=1, close_id=2) is None
    True
    """
    closes = [i for i, t in enumerate(ids) if t == close_id]
    for end in reversed(closes):
        opens = [i for i in range(end) if ids[i] == open_id]
        if opens:
            return opens[-1], end + 1
    return None


def completion_labels(
    ids: list[int], open_id: int, close_id: int, eos_ids: set[int], include_think: bool = False
) -> list[int]:
    """Labels for one completion's token ids: the answer span (plus the eos right after it, and
    with ``include_think`` everything before it) keeps its ids, the rest is ``-100``. Raises
    ``ValueError`` when the completion has no ``<answer>...</answer>``.

    >>> completion_labels([4, 1, 7, 2, 0, 3], open_id=1, close_id=2, eos_ids={0})
    [-100, 1, 7, 2, 0, -100]
    >>> completion_labels([4, 1, 7, 2, 0, 3], open_id=1, close_id=2, eos_ids={0}, include_think=True)
    [4, 1, 7, 2, 0, -100]
    """
    span = answer_span(ids, open_id, close_id)
    if span is None:
        raise ValueError("the completion has no <answer>...</answer> span to train on")
    start, end = span
    if end < len(ids) and ids[end] in eos_ids:
        end += 1
    if include_think:
        start = 0
    return [t if start <= i < end else IGNORE for i, t in enumerate(ids)]


def split_prompt_completion(processor, prompt: list[dict], completion: list[dict]) -> tuple[str, str]:
    """``(prompt_text, completion_text)``: the prompt rendered with the generation prompt, and the
    rest of the rendered prompt + completion conversation. Raises ``ValueError`` when the
    template does not render the prompt as a prefix of the whole conversation."""
    prompt, completion = clean_messages(prompt), clean_messages(completion)
    prompt_text = processor.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full_text = processor.apply_chat_template(prompt + completion, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise ValueError(
            "the chat template does not render the prompt (with its generation prompt) as a prefix of the "
            f"prompt + completion; prompt ends {prompt_text[-40:]!r}, conversation has "
            f"{full_text[len(prompt_text) - 40 : len(prompt_text) + 20]!r}"
        )
    return prompt_text, full_text[len(prompt_text) :]


def _pad(seqs: list[list[int]], value: int) -> list[list[int]]:
    width = max(len(s) for s in seqs)
    return [s + [value] * (width - len(s)) for s in seqs]


@dataclass
class AnswerSpanCollator:
    """Collate SFT rows into ``input_ids``, ``attention_mask``, ``mm_token_type_ids`` and
    ``labels`` (all ``(batch, seq)``, right-padded) plus ``pixel_values`` ``(patches, C*T*P*P)``
    and ``image_grid_thw`` ``(images, 3)``. See the module docstring for the label rule."""

    processor: Any
    include_think: bool = False

    def __call__(self, rows: list[dict]) -> dict[str, Any]:
        import torch

        tok = self.processor.tokenizer
        texts = [split_prompt_completion(self.processor, r["prompt"], r["completion"]) for r in rows]
        images = [im for r in rows for im in (r.get("images") or [])]
        enc = self.processor(
            text=[p for p, _ in texts], images=images or None, padding=True, return_tensors="pt"
        )
        completions = tok([c for _, c in texts], add_special_tokens=False)["input_ids"]
        open_id, close_id = tok.convert_tokens_to_ids("<answer>"), tok.convert_tokens_to_ids("</answer>")
        eos_ids = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
        ids, types, labels = [], [], []
        for i, comp in enumerate(completions):
            keep = enc["attention_mask"][i].bool()
            p_ids = enc["input_ids"][i][keep].tolist()
            p_types = enc["mm_token_type_ids"][i][keep].tolist() if "mm_token_type_ids" in enc else [0] * len(p_ids)
            try:
                c_labels = completion_labels(comp, open_id, close_id, eos_ids, self.include_think)
            except ValueError as e:
                raise ValueError(f"row {rows[i].get('question_id', i)!r}: {e}") from None
            ids.append(p_ids + comp)
            types.append(p_types + [0] * len(comp))
            labels.append([IGNORE] * len(p_ids) + c_labels)
        out = {
            "input_ids": torch.tensor(_pad(ids, tok.pad_token_id)),
            "attention_mask": torch.tensor(_pad([[1] * len(s) for s in ids], 0)),
            "mm_token_type_ids": torch.tensor(_pad(types, 0)),
            "labels": torch.tensor(_pad(labels, IGNORE)),
        }
        for key in ("pixel_values", "image_grid_thw"):
            if key in enc:
                out[key] = enc[key]
        return out
