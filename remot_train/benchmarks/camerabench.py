"""CameraBench (Lin et al., "Towards Understanding Camera Motions in Any Video", arXiv
2504.15376): yes/no questions about camera-motion primitives (pan, tilt, dolly, zoom, roll, ...).

**On-disk layout read here**: the VQA split as lmms-eval's ``camerabench_vqa`` task reads it (the
Hugging Face dataset ``chancharikm/camerabench_vqa_lmms_eval``; the test set ``syCen/CameraBench``
ships ``test.jsonl`` and its clips under ``videos/``)::

    <root>/test.jsonl             # or any <root>/*.jsonl / *.json (one JSON object per question)
    <root>/videos/<clip>.mp4      # each record's ``Video`` is relative to <root>

Fields relied on (lmms-eval ``tasks/camerabench_vqa/utils.py``): ``Index`` (int), ``Video`` (a
path relative to the root), ``Question`` (a yes/no question; the task appends "Please answer Yes
or No."), ``Question_Type`` (``yes_no``). lmms-eval takes the truth from the layout: questions
come in NaturalBench groups of four, ``Index = 4 g + k`` with ``k`` = (q0, v0), (q0, v1), (q1, v0),
(q1, v1), and the answer is Yes for ``k`` in {0, 3} and No for {1, 2}. An explicit ``Answer``
field (``Yes`` / ``No``), when a record has one, is used instead. An optional ``Skill`` field
names the category (else ``Question_Type``).

**Scoring** (the same utils): binary accuracy ``Acc`` over questions, with ``true_false`` parsing
of yes/no; over complete groups of four, ``Q_Acc`` (a question right on both videos), ``I_Acc`` (a
video right for both questions) and ``G_Acc`` (the whole group right), as
:func:`group_scores` computes. The headline is ``Acc``.
"""

from __future__ import annotations

from pathlib import Path

from remot_train.benchmarks.common import eval_row, find_file, image_prompt, read_json_records, require
from remot_train.benchmarks.errors import BenchmarkError
from remot_train.benchmarks.video import sample_frames

NAME = "camerabench"
FIX = ("download test.jsonl and videos/ from syCen/CameraBench (or chancharikm/camerabench_vqa_lmms_eval), or "
       "regenerate the fixture with `python -m remot_train.benchmarks.fixtures camerabench DIR`")
_YES, _NO = ("yes", "true"), ("no", "false")


def truth(record: dict, where: str) -> str:
    """``"true"`` / ``"false"`` from ``Answer``, else from ``Index``'s place in its group of four."""
    answer = record.get("Answer")
    if answer is not None and str(answer).strip():
        a = str(answer).strip().lower().rstrip(".")
        if a in _YES:
            return "true"
        if a in _NO:
            return "false"
        raise BenchmarkError(f"{where}: Answer {answer!r} is not Yes or No; {FIX}")
    index = record.get("Index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise BenchmarkError(f"{where}: no Answer and no non-negative integer Index to take the truth from; {FIX}")
    return "true" if index % 4 in (0, 3) else "false"


def group_scores(records: list[dict]) -> dict:
    """CameraBench's group metrics from scored records (``index``, ``parsed``): groups
    ``index // 4`` with all four members; a prediction is 1 (yes), 0 (no) or -1 (no answer).

    >>> recs = [dict(index=i, parsed=p) for i, p in enumerate(["true", "false", "false", "true",
    ...                                                      "true", "true", "false", "true"])]
    >>> group_scores(recs)
    {'Q_Acc': 0.75, 'I_Acc': 0.75, 'G_Acc': 0.5, 'groups': 2}
    """
    groups: dict[int, dict[int, int]] = {}
    for r in records:
        if r.get("index") is None:
            continue
        p = {"true": 1, "false": 0}.get(r.get("parsed"), -1)
        groups.setdefault(int(r["index"]) // 4, {})[int(r["index"]) % 4] = p
    full = [g for g in groups.values() if len(g) == 4]
    if not full:
        return {"Q_Acc": None, "I_Acc": None, "G_Acc": None, "groups": 0}
    q = i = g_ok = 0
    for g in full:
        qs = (g[0] == 1 and g[1] == 0) + (g[3] == 1 and g[2] == 0)
        im = (g[0] == 1 and g[2] == 0) + (g[3] == 1 and g[1] == 0)
        q, i, g_ok = q + qs, i + im, g_ok + (qs == 2 and im == 2)
    n = len(full)
    return {"Q_Acc": q / (2 * n), "I_Acc": i / (2 * n), "G_Acc": g_ok / n, "groups": n}


def load(root: str | Path, frames: int = 8, image_max_side: int | None = None, limit: int | None = None) -> list[dict]:
    """CameraBench questions as evaluation rows, ``frames`` frames sampled uniformly per clip."""
    root = Path(root)
    path = find_file(root, ("test.jsonl", "*.jsonl", "*.json"), "CameraBench question file", FIX)
    records = read_json_records(path, FIX)
    if not records:
        raise BenchmarkError(f"{path}: no questions; {FIX}")
    cache: dict[Path, list] = {}
    rows = []
    for n, rec in enumerate(records[: limit or None]):
        where = f"{path} (record {n}, Index {rec.get('Index')})"
        require(rec, ("Video", "Question"), where, FIX)
        answer = truth(rec, where)
        rel = Path(str(rec["Video"]))
        video = (root / rel).resolve()
        if rel.is_absolute() or not video.is_relative_to(root.resolve()):
            raise BenchmarkError(f"{where}: Video {rec['Video']!r} is not a path inside {root}; {FIX}")
        if not video.is_file():
            raise BenchmarkError(f"{root / rel}: missing video for record {n}; download the clip into {root / rel.parent}, "
                                 "or regenerate the fixture")
        if video not in cache:
            cache[video] = sample_frames(video, frames, image_max_side, fix="re-download the clip from syCen/CameraBench")
        images = cache[video]
        category = str(rec.get("Skill") or rec.get("Question_Type") or "yes_no")
        body = f"These are frames of a video.\n{rec['Question']} Please answer Yes or No."
        index = rec.get("Index")
        rows.append(eval_row(benchmark=NAME, question_id=str(index if index is not None else n), category=category,
                             prompt=image_prompt("Frame", len(images), body), images=list(images), answer=answer,
                             parse_rule="true_false", options=["true", "false"],
                             extra={"index": index if isinstance(index, int) and not isinstance(index, bool) else None}))
    return rows
