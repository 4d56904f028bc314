"""Small file edits the malformed-input corpus builds its cases from.

Line numbers are 1-based, as a quarantine row reports them. Every edit rewrites the file in place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BOM = b"\xef\xbb\xbf"
_FLOAT = re.compile(rb"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")


def lines(path: Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").split("\n")


def data_lines(path: Path) -> list[int]:
    """Line numbers of the lines that hold a record: not blank, not a ``#`` comment, not a header
    (a first line without a digit)."""
    out = []
    for i, text in enumerate(lines(path), start=1):
        t = text.strip()
        if not t or t.startswith("#") or (not out and not re.search(r"\d", t)):
            continue
        out.append(i)
    return out


def set_line(path: Path, line_no: int, text: str | None) -> None:
    """Replace line ``line_no`` with ``text`` (delete it when None)."""
    ls = lines(path)
    if text is None:
        del ls[line_no - 1]
    else:
        ls[line_no - 1] = text
    Path(path).write_text("\n".join(ls), encoding="utf-8")


def fields(text: str, sep: str | None) -> list[str]:
    return text.split() if sep is None else text.split(sep)


def set_field(path: Path, line_no: int, field: int, value, sep: str | None = None) -> None:
    """Set the ``field``-th value (0-based) of line ``line_no``; ``sep`` None splits on whitespace."""
    parts = fields(lines(path)[line_no - 1], sep)
    parts[field] = str(value)
    set_line(path, line_no, (" " if sep is None else sep).join(parts))


def get_field(path: Path, line_no: int, field: int, sep: str | None = None) -> str:
    return fields(lines(path)[line_no - 1], sep)[field]


def keep_fields(path: Path, line_no: int, k: int, sep: str | None = None) -> None:
    """Keep the first ``k`` values of line ``line_no`` (a truncated record)."""
    parts = fields(lines(path)[line_no - 1], sep)
    set_line(path, line_no, (" " if sep is None else sep).join(parts[:k]))


def add_bom(path: Path) -> None:
    data = Path(path).read_bytes()
    if not data.startswith(BOM):
        Path(path).write_bytes(BOM + data)


def round_floats(path: Path, decimals: int = 6) -> None:
    """Rewrite every decimal number in a text file with ``decimals`` decimals (as KITTI and ScanNet print)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(_FLOAT.sub(lambda m: f"{float(m.group()):.{decimals}f}".encode(), data))


def float32_floats(path: Path, below: float = 1e3) -> None:
    """Rewrite every decimal number with ``|x| < below`` as the shortest repr of its float32 value (as
    instant-ngp stores transforms); larger numbers (Unix timestamps) are left as they are."""
    def f32(m):
        x = float(m.group())
        return repr(float(np.float32(x))).encode() if abs(x) < below else m.group()
    data = Path(path).read_bytes()
    Path(path).write_bytes(_FLOAT.sub(f32, data))


def edit_json(path: Path, fn) -> None:
    """``fn(doc)`` edits the parsed document in place (or returns a replacement)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    out = fn(doc)
    Path(path).write_text(json.dumps(doc if out is None else out, indent=1, allow_nan=True), encoding="utf-8")


def edit_jsonl(path: Path, line_no: int, fn) -> None:
    """``fn(record)`` edits the JSON record on line ``line_no`` in place (or returns a replacement)."""
    rec = json.loads(lines(path)[line_no - 1])
    out = fn(rec)
    set_line(path, line_no, json.dumps(rec if out is None else out, allow_nan=True))


def _numeric(t: pa.DataType) -> bool:
    if pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        return _numeric(t.value_type)
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def edit_parquet(path: Path, fn) -> None:
    """``fn(columns)`` edits a ``{name: list}`` copy of a Parquet table (set cells, add, drop or retype
    columns) and the table is written back. An untouched column keeps its array; an edited one keeps
    its old type only when its new values are numbers that cast to it exactly (9.7 never becomes 9 in
    an int column, a bool never 1.0 in a float column), else it takes the type of its values."""
    table = pq.read_table(path)
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    before = {name: list(values) for name, values in cols.items()}
    out = fn(cols)
    cols = cols if out is None else out
    arrays = {}
    for name, values in cols.items():
        if name in before and values == before[name]:
            arrays[name] = table.column(name)
            continue
        arr = pa.array(values)
        old = table.schema.field(name).type if name in table.column_names else None
        if old is not None and arr.type != old and _numeric(arr.type) and _numeric(old):
            try:
                arr = arr.cast(old, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass
        arrays[name] = arr
    pq.write_table(pa.table(arrays), path)


def first_media(root: Path, suffixes=(".mp4", ".png", ".jpg", ".jpeg")) -> Path | None:
    """The first image or video file under ``root`` (sorted), or None."""
    found = sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.is_symlink()
                   and p.suffix.lower() in suffixes)
    return found[0] if found else None
