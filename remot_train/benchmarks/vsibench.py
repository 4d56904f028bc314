"""VSI-Bench (Yang et al., "Thinking in Space", arXiv 2412.14171): video spatial-intelligence
questions over ScanNet / ScanNet++ / ARKitScenes scans.

**On-disk layout read here** (the Hugging Face dataset ``nyu-visionx/VSI-Bench``, as its file
listing and dataset card show, and as lmms-eval's ``vsibench`` task reads it)::

    <root>/test-00000-of-00001.parquet    # or <root>/data/test-*.parquet, or <root>/*.jsonl
    <root>/<dataset>/<scene_name>.mp4     # arkitscenes.zip, scannet.zip, scannetpp.zip unzipped

Question columns relied on (the card's ``dataset_info``): ``id`` (int), ``dataset``,
``scene_name``, ``question_type``, ``question``, ``ground_truth`` (string) and ``options``
(list of strings such as ``"A. chair"``; null for numeric questions).

**Scoring** (lmms-eval ``tasks/vsibench/utils.py``): the numeric-answer types
(:data:`NA_QUESTION_TYPES`) score the mean relative accuracy over thresholds 0.50, 0.55, ...,
0.95 (``number_mra``, :func:`remot_train.scoring.mean_relative_accuracy`); the multiple-choice
types (:data:`MCA_QUESTION_TYPES`) score exact match on the option letter (``choice_letter``).
The benchmark's **overall** is the mean of the per-type scores, with the three
``object_rel_direction_{easy,medium,hard}`` types first averaged into one
(:func:`remot_train.benchmarks.benchmark_summary`). The prompt keeps lmms-eval's wording ("These
are frames of a video.", the ``Options:`` block) and adds remot's answer format.
"""

from __future__ import annotations

import math
from pathlib import Path

from remot_train.benchmarks.common import (eval_row, find_file, image_prompt, read_json_records,
                                           read_parquet_rows, require)
from remot_train.benchmarks.errors import BenchmarkError
from remot_train.benchmarks.video import sample_frames

NAME = "vsibench"
MCA_QUESTION_TYPES = ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard",
                      "object_rel_distance", "route_planning", "obj_appearance_order")
NA_QUESTION_TYPES = ("object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation")
COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "ground_truth")
FIX = ("download nyu-visionx/VSI-Bench (test-00000-of-00001.parquet, and unzip arkitscenes.zip, scannet.zip, "
       "scannetpp.zip beside it), or regenerate the fixture with `python -m remot_train.benchmarks.fixtures vsibench DIR`")


def question_records(root: Path) -> tuple[Path, list[dict]]:
    """The question file and its rows (columns checked)."""
    path = find_file(root, ("test-*.parquet", "*.parquet", "data/test-*.parquet", "*.jsonl"), "VSI-Bench question file", FIX)
    if path.suffix == ".jsonl":
        rows = read_json_records(path, FIX)
        missing = [c for c in COLUMNS if rows and c not in rows[0]]
        if missing:
            raise BenchmarkError(f"{path}: missing field(s) {', '.join(missing)}; {FIX}")
    else:
        rows = read_parquet_rows(path, COLUMNS + ("options",), FIX)
    if not rows:
        raise BenchmarkError(f"{path}: no questions; {FIX}")
    return path, rows


def _letters(options: list[str]) -> list[str]:
    return [chr(ord("A") + i) for i in range(len(options))]


def _option_text(option: str, letter: str) -> str:
    """``"A. chair"`` -> ``"chair"`` (the text the scorer also accepts as an answer)."""
    for sep in (". ", ".", ": ", ") "):
        if option.startswith(letter + sep):
            return option[len(letter) + len(sep):].strip()
    return option.strip()


def load(root: str | Path, frames: int = 8, image_max_side: int | None = None, limit: int | None = None) -> list[dict]:
    """VSI-Bench questions as evaluation rows, ``frames`` frames sampled uniformly per video (each
    video decoded once)."""
    root = Path(root)
    path, records = question_records(root)
    cache: dict[Path, list] = {}
    rows = []
    for rec in records[: limit or None]:
        where = f"{path} (id {rec.get('id')})"
        require(rec, COLUMNS, where, FIX)
        qtype = str(rec["question_type"])
        truth = str(rec["ground_truth"]).strip()
        if qtype in NA_QUESTION_TYPES:
            try:
                finite = math.isfinite(float(truth))
            except ValueError:
                finite = False
            if not finite:
                raise BenchmarkError(f"{where}: ground_truth {truth!r} of a {qtype} question is not a finite number; {FIX}")
            options, parse_rule, body = [], "number_mra", (
                f"These are frames of a video.\n{rec['question']}\nAnswer with a single number.")
        elif qtype in MCA_QUESTION_TYPES:
            raw = rec.get("options")
            if not isinstance(raw, (list, tuple)) or len(raw) < 2 or not all(isinstance(o, str) for o in raw):
                raise BenchmarkError(f"{where}: a {qtype} question needs 'options', a list of at least two strings; {FIX}")
            letters = _letters(list(raw))
            if truth.upper() not in letters:
                raise BenchmarkError(f"{where}: ground_truth {truth!r} is not one of the option letters {''.join(letters)}; {FIX}")
            options = [_option_text(o, L) for o, L in zip(raw, letters)]
            parse_rule, truth = "choice_letter", truth.upper()
            body = ("These are frames of a video.\n" + str(rec["question"]) + "\nOptions:\n" + "\n".join(raw)
                    + "\nAnswer with the option's letter from the given choices.")
        else:
            raise BenchmarkError(f"{where}: unknown question_type {qtype!r} (known: "
                                 f"{', '.join(MCA_QUESTION_TYPES + NA_QUESTION_TYPES)}); {FIX}")
        video = root / str(rec["dataset"]) / f"{rec['scene_name']}.mp4"
        if not video.resolve().is_relative_to(root.resolve()):
            raise BenchmarkError(f"{where}: dataset/scene_name {rec['dataset']}/{rec['scene_name']} points outside {root}; {FIX}")
        if not video.is_file():
            raise BenchmarkError(f"{video}: missing video for id {rec['id']}; unzip {rec['dataset']}.zip from "
                                 f"nyu-visionx/VSI-Bench into {root}, or regenerate the fixture")
        if video not in cache:
            cache[video] = sample_frames(video, frames, image_max_side, fix=f"re-download {rec['dataset']}.zip "
                                                                             "from nyu-visionx/VSI-Bench")
        images = cache[video]
        rows.append(eval_row(benchmark=NAME, question_id=str(rec["id"]), category=qtype,
                             prompt=image_prompt("Frame", len(images), body), images=list(images), answer=truth,
                             parse_rule=parse_rule, options=options))
    return rows
