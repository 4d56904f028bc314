"""The data adapter: a release (by ``release_id``) -> rows that trl's trainers accept.

One DuckDB query joins each question to its triplet and gathers the images its ``image_roles``
name, in order, as ``{bytes, path}`` JPEG structs. The result is one Arrow table, used two ways
without copying an image twice:

* :func:`question_rows` -> plain dicts, each image decoded once to PIL;
* :func:`question_dataset` -> a Hugging Face ``datasets.Dataset`` over the same Arrow buffers,
  whose ``images`` column is ``List(Image())`` and is decoded lazily on access.

A row holds:

* ``prompt``: conversational, one user turn whose content interleaves text parts and
  ``{"type": "image"}`` placeholders in image order (the question's ``Image k: <image>`` lines);
* ``images``: the images, in placeholder order;
* ``completion`` (``with_completion=True``, for SFT): an empty think block and ``<answer>`` the
  answer; with ``rationale=True``, the think block holds the release's rationale (the
  questions' ``rationale`` column, worded from the metadata by the pipeline) and
  ``rationale_source`` is ``"metadata"``. Use the
  rationale only when the SFT loss covers it (``include_think: true``): as mere context before an
  answer-only target it states the label, and the model learns to copy it instead of reading the
  images (:mod:`remot_train.collator` refuses that combination);
* the scoring columns: ``answer``, ``parse_rule``, ``options``, ``tolerance``,
  ``consistency_group_id``, ``relations`` (JSON), ``question_id``, ``triplet_id``,
  ``question_type``, ``domain``, ``attribute``, ``split``.

Filters give the papers' ablations: ``domains`` (manipulation only, +navigation, +simulation),
``attributes``, ``question_types``, and ``binary=True`` (questions about the anchor -> positive
pair alone: the binary-pair baseline against triplets).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa

ROLE_COLUMNS = {"anchor": "anchor_image", "positive": "positive_image", "negative_anchor": "negative_anchor_image",
                "negative": "negative_image"}
SCORING_COLUMNS = ("question_id", "triplet_id", "domain", "split", "attribute", "question_type", "answer",
                   "parse_rule", "options", "tolerance", "consistency_group_id", "relations")


class ReleaseNotFound(FileNotFoundError):
    pass


def resolve_release(location: str | Path, release_id: str | None = None, verify: bool = True) -> Path:
    """The release folder: ``location`` itself when it holds a manifest, else
    ``location/releases/<release_id or LATEST>`` or ``location/<release_id or LATEST>``.

    A folder without ``manifest.json`` is not a release (it may be half written), and a release
    whose files do not match its manifest (sha256, rows, contract) is never served: both raise
    :class:`ReleaseNotFound` with one line. Verification reads every file once per process."""
    from remot_pipeline.core.release import ReleaseInvalid, read_latest, verified_release

    loc = Path(location)
    candidates = [loc] if release_id is None else []
    for base in (loc / "releases", loc):
        rid = release_id or read_latest(base)
        if rid:
            candidates.append(base / rid)
    for c in candidates:
        if (c / "manifest.json").is_file():
            c = c.resolve() if c.is_symlink() else c  # LATEST -> the release it names now, fixed
            if verify:
                try:
                    verified_release(c)
                except ReleaseInvalid as exc:
                    raise ReleaseNotFound(str(exc)) from None
            return c
    want = release_id or "LATEST"
    raise ReleaseNotFound(f"{loc}: no release {want!r} with a manifest.json here; run `make run` (or the "
                          "build_release job) first, or pass the data root or a release folder")


def release_files(release: Path, table: str) -> list[str]:
    """The Parquet files of one table, as the release's manifest lists them (the files that were
    verified; no glob, so a path may hold ``[``, ``*`` or a quote). Pass the list to DuckDB as a
    parameter, never spliced into SQL."""
    manifest = json.loads((Path(release) / "manifest.json").read_text())
    return [str(Path(release) / f["path"]) for f in manifest["files"] if f["table"] == table]


def _in(column: str, values) -> tuple[str, list]:
    values = list(values)
    return f"{column} IN ({', '.join('?' * len(values))})", values


def question_table(release: str | Path, *, split: str | None = "train", domains=None, attributes=None,
                   question_types=None, binary: bool = False, limit: int | None = None,
                   release_id: str | None = None, between: bool = False) -> pa.Table:
    """Questions joined to their triplets' metadata, with ``images`` (list of ``{bytes, path}``)
    gathered in placeholder order. Ordered by ``question_id`` (stable across runs). ``between``:
    also each pair's clip frames between its two (``positive_between_images``,
    ``negative_between_images``: empty lists in a release built with ``clip_frames`` 2)."""
    import duckdb

    path = resolve_release(release, release_id)
    triplet_files = release_files(path, "triplets")
    inner = ", t.positive_between_images, t.negative_between_images" if between else ""
    where, params = [], []
    for column, values in (("q.split", [split] if split else None), ("q.domain", domains),
                           ("q.attribute", attributes), ("q.question_type", question_types)):
        if values:
            clause, vals = _in(column, values)
            where.append(clause)
            params += vals
    if binary:
        where.append("q.image_roles = ['anchor', 'positive']")
    gather = "list_transform(q.image_roles, lambda r: CASE r " + " ".join(
        f"WHEN '{role}' THEN t.{col}" for role, col in ROLE_COLUMNS.items()) + " END)"
    sql = f"""
        SELECT q.*, {gather} AS images, t.positive_value, t.negative_value, t.positive_magnitude,
               t.negative_magnitude, t.positive_pair_id, t.negative_pair_id, t.object_color, t.unit{inner}
        FROM read_parquet(?) q
        JOIN read_parquet(?) t USING (triplet_id)
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY q.question_id {f"LIMIT {int(limit)}" if limit else ""}"""
    con = duckdb.connect()
    try:
        files = [release_files(path, "questions"), triplet_files]
        return con.sql(sql, params=files + params).to_arrow_table()  # one Arrow copy (execute() adds another)
    finally:
        con.close()


def prompt_messages(prompt: str) -> list[dict]:
    """The question text as one conversational user turn with image placeholders in order.

    >>> prompt_messages("Image 1: <image>\\nIs it?")[0]["content"]
    [{'type': 'text', 'text': 'Image 1: '}, {'type': 'image'}, {'type': 'text', 'text': '\\nIs it?'}]
    """
    parts = prompt.split("<image>")
    content: list[dict] = []
    for i, text in enumerate(parts):
        if i:
            content.append({"type": "image"})
        if text:
            content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


def rationale_text(row: dict) -> str:
    """The question's rationale, as the release stores it (the questions' ``rationale`` column:
    the metadata's account of each shown pair, step by step, naming the answer only in its last
    step). Releases built before data contract 3.0 have none: a clear error says what to do."""
    text = row.get("rationale")
    if not text:
        raise ValueError(f"question {row.get('question_id')!r} has no rationale: the release was built before data "
                         "contract 3.0 (which writes questions.rationale); rebuild it with `make run`, or train "
                         "without the reasoning (include_think: false)")
    return text


def sft_completion(answer: str, reasoning: str = "") -> list[dict]:
    """The SFT completion message: a think block (empty by default) and the answer.

    >>> sft_completion("true")[0]["content"]
    '<think>\\n\\n</think>\\n\\n<answer>true</answer>'
    """
    return [{"role": "assistant", "content": f"<think>\n{reasoning}\n</think>\n\n<answer>{answer}</answer>"}]


def _row(meta: dict, images: list, with_completion: bool, rationale: bool = False) -> dict:
    row = {k: meta[k] for k in SCORING_COLUMNS}
    row["relations"] = json.dumps(meta["relations"] or [])
    row["options"] = list(meta["options"] or [])
    row["prompt"] = prompt_messages(meta["prompt"])
    row["images"] = images
    if with_completion:
        row["completion"] = sft_completion(meta["answer"], rationale_text(meta) if rationale else "")
        if rationale:
            row["rationale_source"] = "metadata"
    return row


def _decode(image: dict, max_side: int | None):
    from PIL import Image

    img = Image.open(io.BytesIO(image["bytes"])).convert("RGB")
    if max_side and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return img


def _between(meta: dict, max_side: int | None) -> dict:
    """A clip row's frames between each pair's two, decoded (:func:`remot_train.clips.clip_row`)."""
    return {w: [_decode(im, max_side) for im in meta.pop(f"{w}_between_images", None) or []]
            for w in ("positive", "negative")}


def question_rows(release: str | Path, *, with_completion: bool = False, rationale: bool = False,
                  image_max_side: int | None = None, views: str = "frames", clip_frames: int | None = None,
                  **filters) -> list[dict]:
    """trl rows with PIL images (see the module docstring); ``filters`` as :func:`question_table`.

    ``rationale``: SFT completions reason from the metadata (for ``include_think: true``).
    ``image_max_side`` shrinks images (for the tiny CPU model). ``views="clips"``: each pair the
    question shows is one clip image (its frames: the pair's two and the release's frames between,
    ``clip_frames`` of them when given), the prompt worded for clips (:mod:`remot_train.clips`)."""
    from remot_train.clips import check_views, clip_row

    check_views(views)
    table = question_table(release, between=views == "clips", **filters)
    images = table.column("images").to_pylist()
    meta = table.drop(["images"]).to_pylist()
    inner = [_between(m, image_max_side) for m in meta] if views == "clips" else []
    rows = [_row(m, [_decode(im, image_max_side) for im in ims], with_completion, rationale)
            for m, ims in zip(meta, images)]
    if views == "clips":
        rows = [clip_row(r, m["image_roles"], b, clip_frames) for r, m, b in zip(rows, meta, inner)]
    return rows


def question_dataset(release: str | Path, *, with_completion: bool = False, rationale: bool = False,
                     views: str = "frames", clip_frames: int | None = None, **filters):
    """The same rows as a ``datasets.Dataset`` over the query's Arrow table: images stay JPEG
    bytes and are decoded on access (``List(Image())``). With ``views="clips"`` the images are
    the clips (PNG bytes, :func:`remot_train.clips.clip_image`) and the text is worded for clips."""
    import datasets

    from remot_train.clips import check_views, clip_row, png_struct

    check_views(views)
    table = question_table(release, between=views == "clips", **filters)
    meta = table.drop(["images"]).to_pylist()
    extra = [_row(m, [], with_completion, rationale) for m in meta]
    images = table.column("images")
    if views == "clips":
        frames = images.to_pylist()
        extra = [clip_row({**r, "images": [_decode(im, None) for im in ims]}, m["image_roles"], _between(m, None),
                          clip_frames)
                 for r, m, ims in zip(extra, meta, frames)]
        images = pa.array([[png_struct(c) for c in r.pop("images")] for r in extra], images.type)
    columns = {k: table.column(k) for k in SCORING_COLUMNS if k not in ("relations", "options")}
    columns["options"] = pa.array([r["options"] for r in extra], table.column("options").type)
    columns["relations"] = pa.array([r["relations"] for r in extra], pa.string())
    columns["images"] = images
    if views == "clips":
        columns["views"] = pa.array([r["views"] for r in extra], pa.string())
        columns["clip_frames"] = pa.array([r["clip_frames"] for r in extra], pa.int64())
        columns["image_roles"] = pa.array([r["image_roles"] for r in extra], pa.list_(pa.string()))
    ds = datasets.Dataset(pa.table(columns))
    ds = ds.cast_column("images", datasets.List(datasets.Image()))
    ds = ds.add_column("prompt", [r["prompt"] for r in extra])
    if with_completion:
        ds = ds.add_column("completion", [r["completion"] for r in extra])
        if rationale:
            ds = ds.add_column("rationale_source", [r["rationale_source"] for r in extra])
    return ds
