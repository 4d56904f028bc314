"""Export a release to other trainers' formats: verl / EasyR1 (RL), LLaVA and ShareGPT (SFT).

::

    python -m remot_pipeline.export --to {verl,llava,sharegpt} RELEASE OUT [--split train|test]
                                    [--rationale] [--jsonl] [--overwrite]

``RELEASE`` is a data root (its ``LATEST`` release), a data root plus ``--release-id``, or a release
folder; it is verified first (:func:`remot_train.data.resolve_release`). Rows are the release's
questions joined to their triplets' images in placeholder order (:func:`remot_train.data.question_table`,
ordered by ``question_id``), one row per question, for each split asked (both by default; a split
with no questions writes no file). ``OUT`` is written as a whole: a temporary folder beside it,
renamed into place when complete; an existing ``OUT`` is replaced only with ``--overwrite``.
Every export also writes ``OUT/export.json`` (the release id, format, rows per split, and the
sha256 of each data file).

**verl** -> ``OUT/<split>.parquet``, the layout of verl's ``examples/data_preprocess/geo3k.py``
(verl docs, "Prepare Data for Post-Training"; ``verl/utils/dataset/rl_dataset.py`` splits each
message's content on ``<image>`` and reads ``images`` in that order):

* ``data_source``: ``"remot"``; ``ability``: ``"motion_contrast"``;
* ``prompt``: ``[{"role": "user", "content": <question text with one "<image>" per image>}]``;
* ``images``: ``[{"bytes": <JPEG>, "path": <frame path>}, ...]``, in placeholder order, typed as
  ``datasets``' ``Sequence(Image())`` in the file's schema metadata (as ``to_parquet`` writes it);
* ``reward_model``: ``{"style": "rule", "ground_truth": <the release's answer>}``;
* ``extra_info``: ``index``, ``split``, ``release_id``, ``question_id``, ``triplet_id``, ``domain``,
  ``attribute``, ``question_type``, ``parse_rule``, ``options``, ``tolerance``, ``answer``,
  ``question``: what :func:`remot_train.rewards.verl.compute_score` needs to score the answer;
* for EasyR1 (``verl/utils/dataset.py``: ``data.prompt_key`` names a string with ``<image>``
  placeholders, ``data.answer_key`` becomes the reward's ``ground_truth``): ``problem``, the
  question text, and ``answer``, the scoring spec as JSON
  (:func:`remot_train.rewards.verl.ground_truth_spec`), so run EasyR1 with
  ``data.prompt_key=problem data.answer_key=answer data.image_key=images``.

**llava** -> ``OUT/<split>.json`` (a JSON list; ``--jsonl``: one object a line) of
``{"id", "image": [relative paths], "conversations": [{"from": "human", "value": <question with
"<image>" placeholders>}, {"from": "gpt", "value": <SFT completion>}], "meta": {...}}``, with the
image files under ``OUT/images/`` (content-addressed: ``images/<sha[:2]>/<sha[:32]>.jpg``, one file
per distinct image).

**sharegpt** -> ``OUT/<split>.json`` in LLaMA-Factory's multimodal ShareGPT layout
(``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}], "images": [paths]}``, as
its ``data/mllm_demo.json``), the images as for llava, and ``OUT/dataset_info.json`` registering
each split as ``remot_<split>`` (``formatting: sharegpt``, ``columns``, ``tags``); image paths are
relative to ``OUT``, LLaMA-Factory's ``dataset_dir``.

The SFT completion is remot's own (:func:`remot_train.data.sft_completion`): an empty think block
and ``<answer>X</answer>``, or with ``--rationale`` the release's rationale in the think block.
``meta`` keeps the scoring columns (``answer``, ``parse_rule``, ``options``, ``tolerance``, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import IMAGE, sha256_file
from data_contracts.storage import StorageError, makedirs, storage_error, tmp_sibling, write_bytes_atomic

FORMATS = ("verl", "llava", "sharegpt")
SPLITS = ("train", "test")
DATA_SOURCE = "remot"
ABILITY = "motion_contrast"
PLACEHOLDER = "<image>"
EXPORT_MANIFEST = "export.json"
#: Rows per row group of a verl file (four JPEGs a row, ~60 KB): ~15 MB a group.
VERL_ROW_GROUP_ROWS = 256

VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("images", pa.list_(IMAGE)),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([
        ("index", pa.int64()), ("split", pa.string()), ("release_id", pa.string()), ("question_id", pa.string()),
        ("triplet_id", pa.string()), ("domain", pa.string()), ("attribute", pa.string()),
        ("question_type", pa.string()), ("parse_rule", pa.string()), ("options", pa.list_(pa.string())),
        ("tolerance", pa.float64()), ("answer", pa.string()), ("question", pa.string())])),
    ("problem", pa.string()),
    ("answer", pa.string()),
], metadata={b"huggingface": json.dumps({"info": {"features": {
    "images": {"_type": "Sequence", "feature": {"_type": "Image"}}}}}).encode()})

_META = ("question_id", "triplet_id", "domain", "split", "attribute", "question_type", "answer", "parse_rule",
         "options", "tolerance")


class ExportError(ValueError):
    """The export cannot be made as asked; the message is one line naming the fix."""


# ------------------------------------------------------------------------- pure rows ---

def _check_placeholders(prompts: Iterable[str], counts: Iterable[int], ids: Iterable[str]) -> None:
    for prompt, n, qid in zip(prompts, counts, ids):
        if prompt.count(PLACEHOLDER) != n:
            raise ExportError(f"question {qid}: its prompt has {prompt.count(PLACEHOLDER)} {PLACEHOLDER} placeholders "
                              f"for {n} images; rebuild the release (make run)")


def verl_table(questions: pa.Table, release_id: str) -> pa.Table:
    """The verl / EasyR1 rows of one split's questions (:func:`remot_train.data.question_table`'s
    table), batched over Arrow: the images are the query's buffers, not copied to Python."""
    from remot_train.rewards.verl import ground_truth_spec

    prompts = questions.column("prompt").to_pylist()
    ids = questions.column("question_id").to_pylist()
    images = questions.column("images").cast(pa.list_(IMAGE))
    _check_placeholders(prompts, pc.list_value_length(images).to_pylist(), ids)
    answers = questions.column("answer").to_pylist()
    rules = questions.column("parse_rule").to_pylist()
    options = [list(o) if o is not None else None for o in questions.column("options").to_pylist()]
    tolerance = questions.column("tolerance").to_pylist()
    n = questions.num_rows
    extra = {
        "index": list(range(n)),
        "split": questions.column("split").to_pylist(),
        "release_id": [release_id] * n,
        **{k: questions.column(k).to_pylist() for k in ("question_id", "triplet_id", "domain", "attribute",
                                                         "question_type")},
        "parse_rule": rules, "options": options, "tolerance": tolerance, "answer": answers, "question": prompts,
    }
    columns = {
        "data_source": [DATA_SOURCE] * n,
        "prompt": [[{"role": "user", "content": p}] for p in prompts],
        "images": images,
        "ability": [ABILITY] * n,
        "reward_model": [{"style": "rule", "ground_truth": a} for a in answers],
        "extra_info": [dict(zip(extra, values)) for values in zip(*extra.values())],
        "problem": prompts,
        "answer": [ground_truth_spec(a, r, o, t) for a, r, o, t in zip(answers, rules, options, tolerance)],
    }
    return pa.table({name: pa.array(v, VERL_SCHEMA.field(name).type) if not isinstance(v, pa.ChunkedArray) else v
                     for name, v in columns.items()}, schema=VERL_SCHEMA)


def image_name(data: bytes) -> str:
    """The content-addressed path of one image inside an export (``images/<sha[:2]>/<sha[:32]>.<ext>``).

    >>> image_name(b"\\xff\\xd8\\xff rest")
    'images/c6/c67595993c2959df83628e06b87762b4.jpg'
    """
    sha = hashlib.sha256(data).hexdigest()
    ext = "jpg" if data[:3] == b"\xff\xd8\xff" else "png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "bin"
    return f"images/{sha[:2]}/{sha[:32]}.{ext}"


def chat_records(questions: pa.Table, fmt: str, rationale: bool = False) -> tuple[list[dict], dict[str, bytes]]:
    """The LLaVA or ShareGPT records of one split's questions, and the image files they name
    (``{relative path: bytes}``, one per distinct image)."""
    from remot_train.data import rationale_text, sft_completion

    if fmt not in ("llava", "sharegpt"):
        raise ExportError(f"chat_records: format {fmt!r} is not a chat format; use llava or sharegpt")
    meta = questions.drop(["images"]).to_pylist()
    images = questions.column("images").to_pylist()
    _check_placeholders([m["prompt"] for m in meta], [len(i) for i in images], [m["question_id"] for m in meta])
    files: dict[str, bytes] = {}
    records = []
    for m, ims in zip(meta, images):
        paths = []
        for im in ims:
            name = image_name(im["bytes"])
            files.setdefault(name, im["bytes"])
            paths.append(name)
        try:
            reasoning = rationale_text(m) if rationale else ""
        except ValueError as exc:  # a release built before data contract 3.0 has no rationale
            raise ExportError(str(exc).replace("include_think: false", "without --rationale")) from None
        completion = sft_completion(m["answer"], reasoning)[0]["content"]
        info = {k: m[k] for k in _META}
        info["options"] = list(info["options"] or [])
        if fmt == "llava":
            records.append({"id": m["question_id"], "image": paths,
                            "conversations": [{"from": "human", "value": m["prompt"]},
                                              {"from": "gpt", "value": completion}], "meta": info})
        else:
            records.append({"messages": [{"role": "user", "content": m["prompt"]},
                                         {"role": "assistant", "content": completion}],
                            "images": paths, "meta": info})
    return records, files


def sharegpt_dataset_info(data_files: dict[str, str]) -> dict:
    """LLaMA-Factory's ``dataset_info.json`` entries, one per split (``remot_<split>``)."""
    return {f"remot_{split}": {
        "file_name": name, "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    } for split, name in data_files.items()}


def _json_bytes(records: list[dict], jsonl: bool) -> bytes:
    if jsonl:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    return json.dumps(records, ensure_ascii=False, indent=1).encode()


# ------------------------------------------------------------------------- writing ---

def _write_folder(out: Path, overwrite: bool, fill) -> None:
    """Fill a temporary folder beside ``out`` and rename it into place (the old ``out`` moved aside
    first and removed after, with ``overwrite``)."""
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ExportError(f"{out}: already exists; pass --overwrite to replace it, or choose another OUT")
    makedirs(out.parent)
    tmp = tmp_sibling(out)
    try:
        makedirs(tmp)
        fill(tmp)
        old = None
        if out.exists() or out.is_symlink():
            old = tmp_sibling(out, "old")
            os.rename(out, old)
        os.rename(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise storage_error(exc, out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() and not old.is_symlink() else old.unlink()


def export(release: str | Path, out: str | Path, fmt: str, *, splits: Iterable[str] | None = None,
           release_id: str | None = None, rationale: bool = False, jsonl: bool = False,
           overwrite: bool = False) -> dict:
    """Export ``release`` to ``out`` in format ``fmt``; returns the export manifest (also written to
    ``out/export.json``). Errors are one line: :class:`ExportError`, or
    :class:`remot_train.data.ReleaseNotFound` for a missing or unsound release."""
    from remot_train.data import question_table, resolve_release

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "verl" and (rationale or jsonl):
        raise ExportError("--rationale and --jsonl apply to llava and sharegpt only: verl rows hold no completion "
                          "and are Parquet")
    splits = list(splits or SPLITS)
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ExportError(f"unknown split {bad[0]!r}; use one of {', '.join(SPLITS)}")
    out = Path(out).absolute()
    path = resolve_release(release, release_id)
    rid = json.loads((path / "manifest.json").read_text())["release_id"]
    if out == path.resolve() or path.resolve() in out.resolve().parents:
        raise ExportError(f"{out}: inside release {rid} ({path}); a release holds only its manifest's files, "
                          "choose an OUT outside it")
    if (out.exists() or out.is_symlink()) and not overwrite:  # before the query: fail fast
        raise ExportError(f"{out}: already exists; pass --overwrite to replace it, or choose another OUT")
    tables = {s: question_table(path, split=s) for s in splits}
    tables = {s: t for s, t in tables.items() if t.num_rows}
    if not tables:
        raise ExportError(f"release {rid} ({path}) has no {' or '.join(splits)} questions; nothing to export")
    ext = "parquet" if fmt == "verl" else "jsonl" if jsonl else "json"
    summary = {"release_id": rid, "format": fmt, "rationale": bool(rationale),
               "rows": {s: t.num_rows for s, t in tables.items()}, "files": {}}

    def fill(tmp: Path) -> None:
        import pyarrow.parquet as pq

        data_files = {}
        for split, table in tables.items():
            name = f"{split}.{ext}"
            data_files[split] = name
            if fmt == "verl":
                rows = verl_table(table, rid)
                try:
                    pq.write_table(rows, tmp / name, compression="zstd", row_group_size=VERL_ROW_GROUP_ROWS)
                except OSError as exc:
                    raise storage_error(exc, out / name) from None
            else:
                records, files = chat_records(table, fmt, rationale)
                for rel, data in sorted(files.items()):
                    if not (tmp / rel).exists():  # the folder is renamed whole: plain writes inside it
                        makedirs((tmp / rel).parent)
                        (tmp / rel).write_bytes(data)
                write_bytes_atomic(tmp / name, _json_bytes(records, jsonl))
            summary["files"][name] = sha256_file(tmp / name)
        if fmt == "sharegpt":
            write_bytes_atomic(tmp / "dataset_info.json",
                               json.dumps(sharegpt_dataset_info(data_files), indent=2).encode())
        write_bytes_atomic(tmp / EXPORT_MANIFEST, json.dumps(summary, indent=2, sort_keys=True).encode())

    _write_folder(out, overwrite, fill)
    return summary


def main(argv: list[str] | None = None) -> int:
    from remot_train.data import ReleaseNotFound

    parser = argparse.ArgumentParser(prog="python -m remot_pipeline.export",
                                     description="Export a remot release for verl/EasyR1, LLaVA or LLaMA-Factory.")
    parser.add_argument("--to", required=True, metavar="{" + ",".join(FORMATS) + "}", help="the target format")
    parser.add_argument("release", help="a data root (its LATEST release) or a release folder")
    parser.add_argument("out", help="the folder to write (must not exist, unless --overwrite)")
    parser.add_argument("--split", action="append", metavar="{train,test}",
                        help="export this split only (repeatable); default: both")
    parser.add_argument("--release-id", help="a release of the data root other than LATEST")
    parser.add_argument("--rationale", action="store_true",
                        help="llava/sharegpt: put the release's rationale in the completion's think block")
    parser.add_argument("--jsonl", action="store_true", help="llava/sharegpt: write JSON lines instead of a list")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    args = parser.parse_args(argv)
    try:
        summary = export(args.release, args.out, args.to, splits=args.split, release_id=args.release_id,
                         rationale=args.rationale, jsonl=args.jsonl, overwrite=args.overwrite)
    except (ExportError, ReleaseNotFound, StorageError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{s} {n}" for s, n in summary["rows"].items())
    print(f"exported release {summary['release_id']} as {summary['format']} to {Path(args.out)} ({rows} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
