"""Evaluation: batched generation over question rows, scored and summarised.

Prompts are rendered with the generation prompt (Thinking templates open ``<think>\\n`` there, so
a completion starts inside its think block), left-padded so that every row's completion starts
at the same column, and decoded with special tokens skipped (the tags are not special, so they
stay). Decoding is greedy by default (``sampling=None``); ``sampling={}`` keeps what the
checkpoint's ``generation_config.json`` says (real Thinking checkpoints ship Qwen's sampling
settings there), and explicit ``do_sample`` / ``temperature`` / ``top_p`` / ``top_k`` override it. A completion that used all ``max_new_tokens`` without ending its turn is
**truncated**: it is scored like any other (usually a format failure) and counted in the
``truncation_rate``, so a budget too small for a Thinking model shows as such, not as a model
that cannot answer. Each completion is scored by :func:`remot_train.scoring.score` (a record keeps
its ``score``: 1/0, or the mean relative accuracy of a ``number_mra`` answer); the per-question
records are summarised by :func:`remot_train.scoring.summarize` (overall triplet accuracy, partial
accuracy as the mean score, exact-match rate, numeric MRA, format failures, truncations, logical
consistency, breakdowns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from remot_train.collator import clean_messages
from remot_train.scoring import score, summarize

#: Row columns copied into every record.
RECORD_KEYS = ("question_id", "triplet_id", "domain", "attribute", "question_type", "parse_rule",
               "consistency_group_id")


@dataclass
class EvalResult:
    """``metrics``: :func:`summarize`'s dict. ``records``: one dict per question, in row order,
    with ``question_id``, ``completion``, ``parsed``, ``correct``, ``score`` (in [0, 1]),
    ``format_ok``, ``answer`` and the row's ``triplet_id``, ``domain``, ``attribute``,
    ``question_type``, ``parse_rule``, ``consistency_group_id`` and ``relations`` (parsed from
    JSON)."""

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


def generate(model, processor, rows: list[dict], batch_size: int = 8, max_new_tokens: int = 256,
             sampling: dict | None = None, seed: int = 0, return_truncated: bool = False):
    """Completions for ``rows`` (in order), decoded without special tokens.

    ``sampling``: ``None`` for greedy decoding, ``{}`` for the checkpoint's own generation
    config, or ``do_sample`` / ``temperature`` / ``top_p`` / ``top_k`` to set (``seed`` makes
    sampling repeatable). With ``return_truncated``, also one flag per row: True when the
    completion used all ``max_new_tokens`` without an end-of-turn token."""
    import torch

    tok = processor.tokenizer
    eos = sorted({tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} - {None, tok.unk_token_id})
    if sampling is None:
        decoding = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    else:
        decoding = dict(sampling)
        if decoding.get("do_sample") is False:
            decoding.update(temperature=None, top_p=None, top_k=None)
    was_training = model.training
    model.eval()
    out: list[str] = []
    truncated: list[bool] = []
    try:
        for i, chunk in enumerate(batches(list(rows), batch_size)):
            enc = encode_prompts(processor, chunk).to(model.device)
            if decoding.get("do_sample") or (sampling == {} and getattr(model.generation_config, "do_sample", False)):
                torch.manual_seed(seed + i)
            with torch.inference_mode():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, eos_token_id=eos,
                                     pad_token_id=tok.pad_token_id, **decoding)
            new = ids[:, enc["input_ids"].shape[1]:]
            out += tok.batch_decode(new, skip_special_tokens=True)
            ended = torch.isin(new, torch.tensor(eos, device=new.device)).any(dim=1)
            truncated += [bool(not e and new.shape[1] >= max_new_tokens) for e in ended.tolist()]
    finally:
        model.train(was_training)
    return (out, truncated) if return_truncated else out


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
    >>> rec["correct"], rec["score"], rec["parsed"], rec["format_ok"]
    (True, 1.0, 'true', True)
    >>> rec = score_row(dict(r, question_type="fill_blank", answer="24 deg", parse_rule="number_mra", options=[]),
    ...                 "</think><answer>30 degrees</answer>")
    >>> rec["correct"], rec["score"], rec["parsed"], rec["parse_rule"]
    (False, 0.5, '30', 'number_mra')
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
        score=s.score,
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
    sampling: dict | None = None,
    seed: int = 0,
) -> EvalResult:
    """Generate for every row (see :func:`generate` for ``sampling``), score each completion and
    summarise; records carry ``truncated``."""
    rows = list(rows)
    completions, truncated = generate(model, processor, rows, batch_size, max_new_tokens, sampling, seed,
                                      return_truncated=True)
    records = [{**score_row(r, c), "truncated": t} for r, c, t in zip(rows, completions, truncated, strict=True)]
    return EvalResult(summarize(records, by=by), records)


def bench_subset(rows: list[dict], per_domain: int | None) -> list[dict]:
    """All questions of the first ``per_domain`` triplets (by id) of each domain (None: all rows).

    >>> rows = [dict(domain="a", triplet_id=t, question_id=q) for t, q in (("t2", 1), ("t1", 2), ("t1", 3), ("t3", 4))]
    >>> [r["question_id"] for r in bench_subset(rows, 1)]
    [2, 3]
    """
    if per_domain is None:
        return rows
    keep: dict[str, list[str]] = {}
    for r in sorted(rows, key=lambda r: r["triplet_id"]):
        ids = keep.setdefault(r["domain"], [])
        if r["triplet_id"] not in ids and len(ids) < per_domain:
            ids.append(r["triplet_id"])
    chosen = {t for ids in keep.values() for t in ids}
    return [r for r in rows if r["triplet_id"] in chosen]


METRICS = ("overall", "partial", "exact", "numeric_mra", "logical_consistency", "format_failure_rate",
           "truncation_rate")


def summary_row(model: str, m: dict) -> dict:
    """One model's line of the comparison table: each headline metric (value, 95% interval, n;
    None when the summary lacks it) and partial accuracy (the mean score) per domain, question
    type and attribute.

    >>> from remot_train.scoring import summarize
    >>> recs = [dict(triplet_id="t", correct=True, score=1.0, format_ok=True, domain="sim", attribute="yaw",
    ...              question_type="true_false", parse_rule="true_false"),
    ...         dict(triplet_id="t", correct=False, score=0.5, format_ok=True, domain="sim", attribute="yaw",
    ...              question_type="fill_blank", parse_rule="number_mra")]
    >>> row = summary_row("m", summarize(recs))
    >>> row["partial"]["value"], row["exact"]["value"], row["numeric_mra"]["value"], row["partial/question_type=fill_blank"]
    (0.75, 0.5, 0.5, 0.5)
    >>> row["partial/attribute=yaw"], row["logical_consistency"]
    (0.75, None)
    """
    def v(block, key):
        x = block.get(key)
        return None if x is None else {"value": x["value"], "ci95": list(x["ci95"]), "n": x["n"]}

    row = {"model": model, **{k: v(m, k) for k in METRICS}}
    for key in ("domain", "question_type", "attribute"):
        for value, block in m["by"].get(key, {}).items():
            row[f"partial/{key}={value}"] = block["partial"]["value"]
    return row


def comparison_markdown(table: list[dict]) -> str:
    """The comparison table in Markdown (percent with 95% Wilson intervals)."""
    def cell(x):
        return "-" if x is None else f"{100 * x['value']:.1f} [{100 * x['ci95'][0]:.0f}, {100 * x['ci95'][1]:.0f}]"

    lines = ["| model | Overall | Partial | exact | numeric MRA | consistency | format failures | truncated |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {cell(r['overall'])} | {cell(r['partial'])} | {cell(r.get('exact'))} "
              f"| {cell(r.get('numeric_mra'))} | {cell(r['logical_consistency'])} "
              f"| {cell(r['format_failure_rate'])} | {cell(r.get('truncation_rate'))} |" for r in table]
    return "\n".join(lines) + ("\n\nPercent, with 95% Wilson intervals (approximate for graded scores). Partial: the "
                               "mean per-question score, where a numeric (number_mra) answer scores its mean relative "
                               "accuracy over thresholds 0.50..0.95; exact: the share answered exactly (numeric: "
                               "within 5%); numeric MRA: the mean score of the numeric questions; Overall: the mean "
                               "over triplets of their lowest question score (all right, for 0/1 scores); "
                               "truncated: the completion used the whole generation budget.\n")
