"""MMSI-Bench (Yang et al., arXiv 2505.23764): multi-image spatial-intelligence questions, four
choices each.

**On-disk layout read here** (the Hugging Face dataset ``RunsenXu/MMSI-Bench``; its README's
"Load Dataset" section reads the file this way)::

    <root>/MMSI_Bench.parquet     # or any <root>/*.parquet / <root>/data/*.parquet

Columns relied on: ``id``, ``images`` (a list of encoded image bytes, JPEG or PNG, shown in
order), ``question_type``, ``question`` (the options are written inside it, e.g. ``Options: A:
..., B: ..., C: ..., D: ...``) and ``answer`` (one letter, A-D). ``thought``,
``mean_normed_duration_seconds`` and ``difficulty`` are not used.

**Scoring**: exact match on the choice letter (the MMSI-Bench README's answer extraction matches
one of ``A``-``D``), through ``choice_letter``. The option texts, when the question spells them
out, are parsed from it so that answering an option's text also counts (as remot-bench's
choice questions allow); otherwise the options are the four letters. The benchmark's headline
is the accuracy over all questions; categories are the ``question_type`` values.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from remot_train.benchmarks.common import eval_row, find_file, image_prompt, read_parquet_rows, require
from remot_train.benchmarks.errors import BenchmarkError

NAME = "mmsi"
COLUMNS = ("id", "images", "question_type", "question", "answer")
LETTERS = ("A", "B", "C", "D")
FIX = ("download MMSI_Bench.parquet from RunsenXu/MMSI-Bench into the folder, or regenerate the fixture with "
       "`python -m remot_train.benchmarks.fixtures mmsi DIR`")
_OPTION = re.compile(r"(?:^|[\s,;])([A-D])\s*[:.)]\s*(.+?)(?=(?:[\s,;]+[A-D]\s*[:.)]\s)|$)", re.S)


def parse_options(question: str) -> list[str]:
    """The option texts written in the question after ``Options:`` (A-D in order), or the four
    letters when they are not all there.

    >>> parse_options("Which way? Options: A: Left, B: Right, C: Up, D: Down")
    ['Left', 'Right', 'Up', 'Down']
    >>> parse_options("Which way?")
    ['A', 'B', 'C', 'D']
    """
    _, sep, tail = question.rpartition("Options:")
    found = {m.group(1): m.group(2).strip().rstrip(",;").strip() for m in _OPTION.finditer(tail)} if sep else {}
    return [found[L] for L in LETTERS] if all(found.get(L) for L in LETTERS) else list(LETTERS)


def _decode(data, where: str):
    from PIL import Image, UnidentifiedImageError

    if isinstance(data, dict):  # the Hugging Face Image struct {bytes, path}
        data = data.get("bytes")
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise BenchmarkError(f"{where}: an image is not encoded bytes; {FIX}")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError) as e:
        raise BenchmarkError(f"{where}: an image does not decode ({str(e).splitlines()[0] if str(e) else 'unknown format'}); {FIX}") from None
    return img.convert("RGB")


def load(root: str | Path, image_max_side: int | None = None, limit: int | None = None, **_) -> list[dict]:
    """MMSI-Bench questions as evaluation rows (images decoded from the Parquet file)."""
    from remot_train.benchmarks.video import _shrink

    root = Path(root)
    path = find_file(root, ("MMSI_Bench.parquet", "*.parquet", "data/*.parquet"), "MMSI-Bench Parquet file", FIX)
    records = read_parquet_rows(path, COLUMNS, FIX)
    if not records:
        raise BenchmarkError(f"{path}: no questions; {FIX}")
    rows = []
    for rec in records[: limit or None]:
        where = f"{path} (id {rec.get('id')})"
        require(rec, COLUMNS, where, FIX)
        answer = str(rec["answer"]).strip().upper()
        if answer not in LETTERS:
            raise BenchmarkError(f"{where}: answer {rec['answer']!r} is not one of the letters A-D; {FIX}")
        if not isinstance(rec["images"], (list, tuple)) or not rec["images"]:
            raise BenchmarkError(f"{where}: 'images' must be a non-empty list of image bytes; {FIX}")
        images = [_shrink(_decode(b, where), image_max_side) for b in rec["images"]]
        body = f"{rec['question']}\nAnswer with the option's letter from the given choices."
        rows.append(eval_row(benchmark=NAME, question_id=str(rec["id"]), category=str(rec["question_type"]),
                             prompt=image_prompt("Image", len(images), body), images=images, answer=answer,
                             parse_rule="choice_letter", options=parse_options(str(rec["question"]))))
    return rows
