"""SFT collation: prompt/completion rows with images -> model inputs, with the loss on the answer.

A row is conversational: ``prompt`` (a user message whose content holds ``{"type": "image"}``
placeholders), ``images`` (PIL images, one per placeholder, in order) and ``completion`` (one
assistant message, ``"<think>\\n...\\n</think>\\n<answer>...</answer>"``).

The prompt is rendered with the generation prompt (which, for Thinking templates, opens
``<think>\\n``) and tokenised with its images by the processor; the completion is the rest of the
rendered conversation, tokenised as text and appended. This is the same split that generation
sees: prompt tokens, then completion tokens.

**The answer span is found in the text, not in the token ids.** In the real Qwen vocabulary
``<answer>`` is not a token (``<answer>A</answer>`` encodes as ``<``, ``answer``, ``>A``, ``</``,
``answer``, ``>``), and a tag can share a token with its neighbours. The span is the last
``<answer>...</answer>`` in the completion *text*; a token is in it when its characters overlap it
(character offsets from a fast tokenizer, or, for a tokenizer without offsets, from decoding
token by token). So it works with any tokenizer.

Labels are ``-100`` everywhere except what the model must write after its reasoning: the close
of the think block, that span (tags included, so the model learns the format) and the
end-of-turn token right after it (so it learns to stop). With an empty think block that is the
whole completion; with ``include_think=True`` the reasoning is kept too.

**Answer-only SFT must not hand over the label.** With the loss on the answer alone, the text
before it is context the model reads, not text it learns to write: a think block stated from the
labels would let it copy the answer instead of reading the images. So in answer-only mode the
completion's reasoning must be empty (``<think>\\n\\n</think>``), unless the row says the
reasoning is the model's own (``rationale_source="model"``: rationales the model generated and
that were kept only when right). A completion that breaks this is refused with the row named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

IGNORE = -100
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
#: ``rationale_source`` values whose reasoning may precede an answer-only target.
OWN_RATIONALE = ("model",)


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


def answer_char_span(text: str) -> tuple[int, int] | None:
    """``[start, end)`` of the last ``<answer> ... </answer>`` in ``text`` (tags included), as
    character offsets; None when there is no closed answer.

    >>> answer_char_span("<think>x</think><answer>A</answer> <answer>B</answer>")
    (35, 53)
    >>> answer_char_span("<answer>A") is None
    True
    """
    end = text.rfind(_ANSWER_CLOSE)
    if end < 0:
        return None
    start = text.rfind(_ANSWER_OPEN, 0, end)
    return None if start < 0 else (start, end + len(_ANSWER_CLOSE))


def token_offsets(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """``(ids, offsets)`` of ``text`` without special tokens added; ``offsets[i]`` is the
    ``[start, end)`` character range of token ``i``. Uses the tokenizer's offset mapping when it
    has one; otherwise decodes token by token (any tokenizer)."""
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    except (NotImplementedError, ValueError, TypeError):
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    offsets, prev = [], 0
    for i in range(len(ids)):
        n = len(tokenizer.decode(ids[: i + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False))
        offsets.append((prev, max(prev, n)))
        prev = max(prev, n)
    return ids, offsets


def reasoning_end(text: str) -> int:
    """The character offset where a completion's own reasoning ends: just after its last
    non-blank character before ``</think>`` (before the answer when there is no ``</think>``),
    a ``<think>`` tag not counting as reasoning; 0 when the reasoning is empty. The answer-only
    target starts here: closing the think block and the answer are what the model must learn to
    write after its reasoning.

    >>> reasoning_end("\\n</think>\\n\\n<answer>A</answer>"), reasoning_end("<think>\\n</think><answer>A</answer>")
    (0, 0)
    >>> text = "the view shifts left\\n</think>\\n\\n<answer>A</answer>"
    >>> text[reasoning_end(text):]
    '\\n</think>\\n\\n<answer>A</answer>'
    """
    span = answer_char_span(text)
    before = text[: span[0]] if span else text
    close = before.rfind("</think>")
    region = (before[:close] if close >= 0 else before).rstrip()
    if region.endswith("<think>"):
        region = region[: -len("<think>")].rstrip()
    return len(region)


def completion_labels(ids: list[int], offsets: list[tuple[int, int]], text: str, eos_ids: set[int],
                      include_think: bool = False) -> list[int]:
    """Labels for one completion: the tokens from the end of its reasoning (:func:`reasoning_end`;
    with ``include_think`` from its start) through the last ``<answer>...</answer>`` of ``text``
    keep their ids, as does the eos token right after them; the rest is ``-100``. A token is in
    when its characters (``offsets``, each token's range in ``text``) overlap that range. Raises
    ``ValueError`` when the text has no ``<answer>...</answer>``.

    The real Qwen vocabulary splits ``<answer>`` into several tokens, and ``>A`` carries both a tag
    and the answer; with an empty think block the target is the whole completion:

    >>> text = "\\n</think>\\n\\n<answer>A</answer>"
    >>> offsets = [(0, 1), (1, 9), (9, 11), (11, 12), (12, 18), (18, 20), (20, 22), (22, 28), (28, 29), (29, 29)]
    >>> ids = [198, 151668, 271, 27, 9217, 23465, 522, 9217, 29, 151645]
    >>> completion_labels(ids, offsets, text, eos_ids={151645}) == ids
    True

    Reasoning before the target is masked unless ``include_think``:

    >>> text = "left\\n</think>\\n\\n<answer>A</answer>"
    >>> offsets = [(0, 4)] + [(a + 4, b + 4) for a, b in offsets]
    >>> completion_labels([2359, *ids], offsets, text, {151645})[:3]
    [-100, 198, 151668]
    >>> completion_labels([2359, *ids], offsets, text, {151645}, include_think=True)[0]
    2359
    """
    span = answer_char_span(text)
    if span is None:
        raise ValueError("the completion has no <answer>...</answer> span to train on")
    start, end = (0 if include_think else reasoning_end(text)), span[1]
    inside = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
    if not inside:  # pragma: no cover - a tokenizer whose offsets miss the text
        raise ValueError("no token of the completion overlaps its <answer> span; the tokenizer's offsets are wrong")
    first, last = inside[0], inside[-1] + 1
    if last < len(ids) and ids[last] in eos_ids:
        last += 1
    return [t if first <= i < last else IGNORE for i, t in enumerate(ids)]


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
        eos_ids = {i for i in (tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")) if i is not None}
        ids, types, labels = [], [], []
        for i, (_, comp_text) in enumerate(texts):
            keep = enc["attention_mask"][i].bool()
            p_ids = enc["input_ids"][i][keep].tolist()
            p_types = enc["mm_token_type_ids"][i][keep].tolist() if "mm_token_type_ids" in enc else [0] * len(p_ids)
            name = rows[i].get("question_id", i)
            comp_ids, offsets = token_offsets(tok, comp_text)
            try:
                c_labels = completion_labels(comp_ids, offsets, comp_text, eos_ids, self.include_think)
            except ValueError as e:
                raise ValueError(f"row {name!r}: {e}") from None
            if not self.include_think and reasoning_end(comp_text) > 0 and \
                    rows[i].get("rationale_source") not in OWN_RATIONALE:
                raise ValueError(
                    f"row {name!r}: answer-only SFT (include_think: false) with a non-empty think block before the "
                    "answer: the model would read that text, not the images, to answer. Use an empty think block "
                    "(remot_train.data.question_rows(..., rationale=False)), set include_think: true to train on the "
                    "reasoning, or mark self-generated, verified rationales with rationale_source='model'")
            ids.append(p_ids + comp_ids)
            types.append(p_types + [0] * len(comp_ids))
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
