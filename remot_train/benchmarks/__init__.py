"""External benchmarks as evaluation sets: VSI-Bench, MMSI-Bench and CameraBench, read from their
published on-disk layouts into remot's evaluation rows and scored by :mod:`remot_train.scoring`.

Each reader module's docstring says which files and fields it relies on and where that layout is
described (:mod:`.vsibench`, :mod:`.mmsi`, :mod:`.camerabench`). Videos are decoded with PyAV and
sampled uniformly (``frames``, 8 by default: the tiny CPU model is small); each frame becomes one
image of the prompt, in order. A bad or partial benchmark folder (no question file, missing
columns, a missing or undecodable video, a malformed row) raises :class:`BenchmarkError` with one
line naming the file and the fix.

An evaluation set is named ``KIND:PATH`` (``vsibench:data/benchmarks/vsibench``);
:func:`load_benchmark` reads it, and :func:`benchmark_summary` gives the benchmark's own headline
metric and its per-category scores from the scored records. No Dagster import here.
"""

from __future__ import annotations

from pathlib import Path

from remot_train.benchmarks.errors import BenchmarkError

#: The benchmark kinds and the metric each reports as its headline.
KINDS = {"vsibench": "overall (mean over task types of MRA / accuracy)",
         "mmsi": "accuracy",
         "camerabench": "Acc (binary VQA accuracy)"}

__all__ = ["KINDS", "BenchmarkError", "benchmark_summary", "load_benchmark", "parse_spec", "summary_markdown"]


def parse_spec(spec: str) -> tuple[str, Path]:
    """``"KIND:PATH"`` -> ``(kind, Path(path))``; an unknown kind or a spec without a path is one line.

    >>> parse_spec("vsibench:data/benchmarks/vsibench")
    ('vsibench', PosixPath('data/benchmarks/vsibench'))
    """
    kind, sep, path = str(spec).partition(":")
    kind = kind.strip().lower()
    if not sep or not path.strip() or kind not in KINDS:
        raise BenchmarkError(f"benchmark {spec!r}: expected KIND:PATH with KIND one of {', '.join(KINDS)} "
                             "(e.g. vsibench:data/benchmarks/vsibench)")
    return kind, Path(path.strip())


def load_benchmark(kind: str, path: str | Path, frames: int = 8, image_max_side: int | None = None,
                   limit: int | None = None) -> list[dict]:
    """The benchmark's questions as evaluation rows (:func:`remot_train.data.question_rows`' shape,
    plus ``benchmark``; CameraBench rows also carry ``index``)."""
    from remot_train.benchmarks import camerabench, mmsi, vsibench

    if frames < 1:
        raise BenchmarkError(f"benchmark frames must be >= 1, got {frames}")
    readers = {"vsibench": vsibench.load, "mmsi": mmsi.load, "camerabench": camerabench.load}
    if kind not in readers:
        raise BenchmarkError(f"unknown benchmark kind {kind!r}; known: {', '.join(readers)}")
    return readers[kind](Path(path), frames=frames, image_max_side=image_max_side, limit=limit)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def benchmark_summary(kind: str, records: list[dict]) -> dict:
    """The benchmark's own metrics from scored records (``question_type``, ``score``, ``correct``,
    ``format_ok``; CameraBench also ``index`` and ``parsed``).

    Returns ``{"benchmark", "metric", "value", "n", "categories": {category: {"value", "n"}},
    "format_failure_rate", ...}``. ``value`` is the benchmark's headline: VSI-Bench's overall (the
    mean of the per-type scores, ``object_rel_direction_{easy,medium,hard}`` first averaged into
    ``object_rel_direction``), MMSI-Bench's accuracy, CameraBench's ``Acc`` (plus ``Q_Acc``,
    ``I_Acc``, ``G_Acc`` over complete groups of four).

    >>> recs = [dict(question_type="object_counting", score=0.5, correct=False, format_ok=True),
    ...         dict(question_type="object_rel_direction_easy", score=1.0, correct=True, format_ok=True),
    ...         dict(question_type="object_rel_direction_hard", score=0.0, correct=False, format_ok=True)]
    >>> s = benchmark_summary("vsibench", recs)
    >>> s["value"], s["categories"]["object_rel_direction"]["value"], s["n"]
    (0.5, 0.5, 3)
    """
    by: dict[str, list[float]] = {}
    for r in records:
        by.setdefault(str(r["question_type"]), []).append(float(r["score"] if r.get("score") is not None else r["correct"]))
    categories = {c: {"value": _mean(v), "n": len(v)} for c, v in sorted(by.items())}
    out = {"benchmark": kind, "metric": KINDS.get(kind, "mean score"), "n": len(records),
           "format_failure_rate": _mean([float(not r["format_ok"]) for r in records])}
    if kind == "vsibench":
        from remot_train.benchmarks.vsibench import MCA_QUESTION_TYPES

        direction = [c for c in MCA_QUESTION_TYPES[:3] if c in categories]
        if direction:
            merged = [categories.pop(c) for c in direction]
            categories["object_rel_direction"] = {"value": _mean([m["value"] for m in merged]),
                                                  "n": sum(m["n"] for m in merged)}
            categories = dict(sorted(categories.items()))
        out["value"] = _mean([c["value"] for c in categories.values()])
    else:
        out["value"] = _mean([float(r["score"] if r.get("score") is not None else r["correct"]) for r in records])
    if kind == "camerabench":
        from remot_train.benchmarks.camerabench import group_scores

        out.update(group_scores(records))
    out["categories"] = categories
    return out


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def summary_markdown(name: str, rows: list[dict]) -> str:
    """One benchmark's table: a line per model (``{"model", **benchmark_summary}``), its headline
    and each category, in percent."""
    cats = sorted({c for r in rows for c in r["categories"]})
    extra = [k for k in ("Q_Acc", "I_Acc", "G_Acc") if any(r.get(k) is not None for r in rows)]
    metric = rows[0]["metric"] if rows else ""
    head = ["model", "headline", *extra, *cats, "format failures", "n"]
    lines = [f"### {name}: {metric}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], _pct(r["value"]), *(_pct(r.get(k)) for k in extra),
                 *(_pct(r["categories"].get(c, {}).get("value")) for c in cats), _pct(r["format_failure_rate"]), str(r["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
