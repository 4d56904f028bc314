"""What the readers share: finding the question file, reading Parquet / JSON Lines with one-line
errors, and building an evaluation row in :mod:`remot_train.data`'s shape."""

from __future__ import annotations

import json
from pathlib import Path

from remot_train.benchmarks.errors import BenchmarkError

#: The answer instruction every benchmark prompt ends with (the remot-bench prompts' wording, less
#: the motion-notation hint that only remot-bench's relations use): the shared scorer reads the
#: last ``<answer>`` block.
ANSWER_FORMAT = ("Think step by step inside <think> </think>. Then give only the final answer inside "
                 "<answer> </answer>.")


def find_file(root: Path, patterns: tuple[str, ...], what: str, fix: str) -> Path:
    """The first file (sorted) matching one of ``patterns`` under ``root``; a missing folder or
    file raises one line."""
    root = Path(root)
    if not root.is_dir():
        raise BenchmarkError(f"{root}: no such benchmark folder; {fix}")
    for pattern in patterns:
        found = sorted(p for p in root.glob(pattern) if p.is_file())
        if found:
            return found[0]
    raise BenchmarkError(f"{root}: no {what} ({' or '.join(patterns)}); {fix}")


def read_parquet_rows(path: Path, required: tuple[str, ...], fix: str) -> list[dict]:
    """Every row of a Parquet file as a dict, after checking ``required`` columns are there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise BenchmarkError(f"{path}: not a readable Parquet file ({_first_line(e)}); {fix}") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise BenchmarkError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(table.column_names)}); "
                             f"{fix}")
    return table.to_pylist()


def read_json_records(path: Path, fix: str) -> list[dict]:
    """A JSON Lines file (one object a line) or a JSON array of objects."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"{path}: cannot read ({_first_line(e)}); {fix}") from None
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{path}: not valid JSON Lines ({e.msg} at line {e.lineno}); {fix}") from None
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise BenchmarkError(f"{path}: record {bad} is not a JSON object; {fix}")
    return records


def require(record: dict, keys: tuple[str, ...], where: str, fix: str) -> None:
    """Each of ``keys`` present and not null/empty in ``record``."""
    for k in keys:
        v = record.get(k)
        if v is None or (isinstance(v, str) and not v.strip()):
            raise BenchmarkError(f"{where}: field {k!r} is missing or empty; {fix}")


def image_prompt(label: str, n: int, body: str) -> str:
    """``n`` labelled image placeholders (``Frame 1: <image>`` ...), then ``body`` and the answer
    format.

    >>> image_prompt("Frame", 2, "How many chairs?")
    'Frame 1: <image>\\nFrame 2: <image>\\nHow many chairs?\\nThink step by step inside <think> </think>. Then give only the final answer inside <answer> </answer>.'
    """
    lines = [f"{label} {i + 1}: <image>" for i in range(n)]
    return "\n".join([*lines, body.strip(), ANSWER_FORMAT])


def eval_row(*, benchmark: str, question_id: str, category: str, prompt: str, images: list, answer: str,
             parse_rule: str, options: list[str], extra: dict | None = None) -> dict:
    """One evaluation row, the shape :func:`remot_train.data.question_rows` gives and
    :func:`remot_train.evaluate.evaluate` consumes. Each benchmark question is its own scoring unit
    (``triplet_id`` = the question id, so Overall equals Partial); ``domain`` is the benchmark,
    ``attribute`` and ``question_type`` its category."""
    from remot_train.data import prompt_messages

    qid = f"{benchmark}:{question_id}"
    return {"question_id": qid, "triplet_id": qid, "domain": benchmark, "split": "test", "attribute": category,
            "question_type": category, "answer": answer, "parse_rule": parse_rule, "options": list(options),
            "tolerance": None, "consistency_group_id": None, "relations": "[]", "benchmark": benchmark,
            "prompt": prompt_messages(prompt), "images": images, **(extra or {})}


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
