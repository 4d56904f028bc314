"""Evaluation: batched greedy generation over question rows, scored and summarised.

Prompts are rendered with the generation prompt (Thinking templates open ``<think>\\n`` there, so
a completion starts inside its think block), left-padded so that every row's completion starts
at the same column, and decoded with special tokens skipped (the tags are not special, so they
stay). Each completion is scored by :func:`remot_train.scoring.score`; the per-question records
are summarised by :func:`remot_train.scoring.summarize` (overall triplet accuracy, partial
accuracy, format failures, logical consistency, and breakdowns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from remot_train.collator import clean_messages
from remot_train.scoring import score, summarize

#: Row columns copied into every record.
RECORD_KEYS = ("question_id", "triplet_id", "domain", "attribute", "question_type", "consistency_group_id")


@dataclass
class EvalResult:
    """``metrics``: :func:`summarize`'s dict. ``records``: one dict per question, in row order,
    with ``question_id``, ``completion``, ``parsed``, ``correct``, ``format_ok``, ``answer`` and
    the row's ``triplet_id``, ``domain``, ``attribute``, ``question_type``,
    ``consistency_group_id`` and ``relations`` (parsed from JSON)."""

    metrics: dict
    records: list[dict]


def batches(items: list, size: int) -> list[list]:
    """Consecutive chunks of at most ``size``.

    >>> batches([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def encode_prompts(processor, rows: list[dict]):
    """Left-padded model inputs for the rows' prompts: ``input_ids``, ``attention_mask``,
    ``mm_token_type_ids`` ``(batch, seq)``, ``pixel_values``, ``image_grid_thw``."""
    texts = [
        processor.apply_chat_template(clean_messages(r["prompt"]), add_generation_prompt=True, tokenize=False)
        for r in rows
    ]
    images = [im for r in rows for im in (r.get("images") or [])]
    return processor(text=texts, images=images or None, padding=True, padding_side="left", return_tensors="pt")


def generate(model, processor, rows: list[dict], batch_size: int = 8, max_new_tokens: int = 256) -> list[str]:
    """Greedy completions for ``rows`` (in order), decoded without special tokens."""
    import torch

    tok = processor.tokenizer
    eos = sorted({tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} - {None, tok.unk_token_id})
    was_training = model.training
    model.eval()
    out: list[str] = []
    try:
        for chunk in batches(list(rows), batch_size):
            enc = encode_prompts(processor, chunk).to(model.device)
            with torch.inference_mode():
                ids = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    eos_token_id=eos,
                    pad_token_id=tok.pad_token_id,
                )
            out += tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        model.train(was_training)
    return out


def _relations(value: Any) -> list[dict]:
    if value is None or value == "":
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def score_row(row: dict, completion: str) -> dict:
    """One record: the row's identifying columns plus the completion's score.

    >>> r = dict(question_id="q1", triplet_id="t1", domain="navigation", attribute="yaw",
    ...          question_type="true_false", answer="true", parse_rule="true_false",
    ...          options=["true", "false"], tolerance=None, relations="[]")
    >>> rec = score_row(r, "left</think><answer>yes</answer>")
    >>> rec["correct"], rec["parsed"], rec["format_ok"]
    (True, 'true', True)
    """
    s = score(
        completion,
        answer=row["answer"],
        parse_rule=row["parse_rule"],
        options=list(row.get("options") or []),
        tolerance=row.get("tolerance"),
    )
    record = {k: row.get(k) for k in RECORD_KEYS}
    record.update(
        completion=completion,
        answer=row["answer"],
        parsed=s.parsed,
        correct=s.correct,
        format_ok=s.format_ok,
        relations=_relations(row.get("relations")),
    )
    return record


def evaluate(
    model,
    processor,
    rows,
    batch_size: int = 8,
    max_new_tokens: int = 256,
    by: tuple[str, ...] = ("domain", "attribute", "question_type"),
) -> EvalResult:
    """Generate greedily for every row, score each completion and summarise."""
    rows = list(rows)
    completions = generate(model, processor, rows, batch_size, max_new_tokens)
    records = [score_row(r, c) for r, c in zip(rows, completions, strict=True)]
    return EvalResult(summarize(records, by=by), records)
