"""The Hugging Face dataset card (``README.md``) of a release (DESIGN.md §4).

A release folder is a Hugging Face dataset as it stands: its ``README.md`` opens with YAML front
matter that names one **config per table** that has rows (``questions``, the default,
``triplets``, ``episodes``, ``quarantine``) whose ``data_files`` globs match the multi-part layout
(``questions/*/train/*.parquet``: every domain, every part), and a ``dataset_info`` entry per
config with the contract's features (``dtype: image`` for the JPEG structs) and each split's
exact row count (``datasets`` checks it on load) and uncompressed size. So ``datasets.load_dataset(release_folder)``
needs no ``data_files``, and the folder can be pushed to a hub as it is
(``huggingface_hub.upload_folder``).

The partitioned tables have the release's own splits, ``train`` and ``test`` (remot-bench), and
list only those present. ``episodes`` and ``quarantine`` are one file each holding every row, as
one split named :data:`WHOLE_SPLIT` (``episodes`` rows carry their ``split`` column).

The card is a pure function of the manifest (files, rows, lineage): no timestamp, no path of the
machine, keys in a fixed order. The same release gives the same bytes, and its ``release_id``
never depends on it (the id is computed from the code version, the config and the inputs before
anything is written). :func:`~remot_pipeline.core.release.stage_release` writes it before the
manifest and records its sha256 under ``manifest["card"]``; verification checks it like a part.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import yaml

from data_contracts import IMAGE, contract

CARD = "README.md"
#: The split name of the single-file tables (``episodes``, ``quarantine``), which hold every row.
WHOLE_SPLIT = "full"
#: Tables in card order; the first is the default config.
TABLES = ("questions", "triplets", "episodes", "quarantine")
PARTITIONED = ("triplets", "questions")
#: The licence when the config names none: the data's licence depends on its sources.
DEFAULT_LICENSE = "other"
#: Rows of the lineage tables (stage outputs, input episodes) the body lists; the manifest has all.
_MAX_LISTED = 50

_DTYPES = {
    pa.bool_(): "bool", pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64", pa.string(): "string",
    pa.large_string(): "large_string", pa.binary(): "binary", pa.large_binary(): "large_binary",
}


class CardError(ValueError):
    """A table's schema holds a type the card cannot describe (one line)."""


def arrow2feature(arrow_type: pa.DataType, where: str = "") -> dict:
    """One Arrow type as a Hugging Face ``datasets`` YAML feature body (the keys after ``name``),
    as ``datasets.Features._to_yaml_list`` writes it: ``{"dtype": "image"}`` for the
    ``{bytes, path}`` image struct, ``{"list": ..., "length": n}`` for fixed-size lists,
    ``{"struct": [...]}`` for structs.

    >>> arrow2feature(pa.list_(pa.float64(), 3))
    {'list': 'float64', 'length': 3}
    >>> arrow2feature(pa.list_(pa.struct([("op", pa.string())])))
    {'list': [{'name': 'op', 'dtype': 'string'}]}
    """
    if arrow_type == IMAGE:
        return {"dtype": "image"}
    if arrow_type in _DTYPES:
        return {"dtype": _DTYPES[arrow_type]}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        inner = arrow2feature(arrow_type.value_type, where)
        body = {"list": inner["dtype"] if list(inner) == ["dtype"] else inner.get("struct", inner)}
        if pa.types.is_fixed_size_list(arrow_type):
            body["length"] = arrow_type.list_size
        return body
    if pa.types.is_struct(arrow_type):
        return {"struct": features(pa.schema(list(arrow_type)), where)}
    raise CardError(f"{where or 'schema'}: Arrow type {arrow_type} has no dataset-card feature; add it to "
                    "remot_pipeline/core/card.py:_DTYPES")


def features(schema: pa.Schema, where: str = "") -> list[dict]:
    """A schema as the card's ``features`` list (``[{name, dtype | list | struct}, ...]``)."""
    return [{"name": f.name, **arrow2feature(f.type, f"{where}.{f.name}" if where else f.name)} for f in schema]


def _splits(manifest: dict, table: str) -> dict[str, int]:
    """``{split: rows}`` of one table, from the manifest's file entries (splits in sorted order)."""
    out: dict[str, int] = {}
    for f in manifest.get("files", []):
        if f.get("table") == table:
            split = f.get("split") if table in PARTITIONED else WHOLE_SPLIT
            out[split] = out.get(split, 0) + int(f.get("rows", 0))
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "train", kv[0])))  # train first


def split_bytes(folder, manifest: dict) -> dict[str, dict[str, int]]:
    """``{table: {split: bytes}}``: the uncompressed size of each split's row groups, read from the
    Parquet footers of the files the manifest lists (the card's ``num_bytes``; deterministic)."""
    import pyarrow.parquet as pq

    out: dict[str, dict[str, int]] = {}
    for f in manifest.get("files", []):
        table = f.get("table")
        split = f.get("split") if table in PARTITIONED else WHOLE_SPLIT
        md = pq.ParquetFile(Path(folder) / f["path"]).metadata
        size = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
        out.setdefault(table, {})[split] = out.get(table, {}).get(split, 0) + size
    return out


def _glob(table: str, split: str) -> str:
    return f"{table}/*/{split}/*.parquet" if table in PARTITIONED else f"{table}/*.parquet"


def front_matter(manifest: dict, sizes: dict[str, dict[str, int]] | None = None) -> dict:
    """The card's YAML front matter as a dict: licence, configs (``data_files`` per split),
    ``dataset_info`` (features; with ``sizes``, :func:`split_bytes`, each split's ``num_examples``
    and ``num_bytes``, which ``datasets`` checks on load). A table without rows is left out: a
    partitioned one has no file, and ``datasets`` cannot read the single tables' empty file."""
    config = manifest.get("config") or {}
    configs, infos = [], []
    for table in TABLES:
        splits = {s: n for s, n in _splits(manifest, table).items() if n}
        if not splits:
            continue
        entry = {"config_name": table}
        if not configs:
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": _glob(table, s)} for s in splits]
        configs.append(entry)
        info = {"config_name": table, "features": features(contract(table).schema(), table)}
        if sizes is not None:
            info["splits"] = [{"name": s, "num_bytes": int(sizes.get(table, {}).get(s, 0)), "num_examples": n}
                              for s, n in splits.items()]
        infos.append(info)
    return {
        "license": str(config.get("license") or DEFAULT_LICENSE),
        "pretty_name": f"remot release {manifest['release_id']}",
        "tags": ["remot", "motion-contrast", "vqa", "multi-image"],
        "task_categories": ["visual-question-answering"],
        "configs": configs,
        "dataset_info": infos,
    }


def _lineage(manifest: dict) -> list[str]:
    inputs = manifest.get("inputs") or {}
    stages = manifest.get("stages") or {}
    lines = [
        "## Lineage",
        "",
        "| | |",
        "|---|---|",
        f"| release_id | `{manifest['release_id']}` |",
        f"| data contract | `{manifest.get('contract_version', '?')}` |",
        f"| code version | `{manifest.get('code_version', '?')}` |",
        f"| config hash | `{manifest.get('config_hash', '?')}` |",
        f"| input episodes | {len(inputs)} |",
        "",
        "The `release_id` is a hash of the data contract version, the code version, the configuration "
        "and the input hashes: the same inputs give the same id and the same bytes. `manifest.json` "
        "lists every file with its sha256 and row count, the full configuration and every input hash.",
    ]
    lines += _listing("Stage outputs read", ("stage", "key"), stages)
    lines += _listing("Input episodes (sha256)", ("episode", "sha256"), inputs)
    return lines


def _listing(title: str, header: tuple[str, str], items: dict) -> list[str]:
    """A two-column table of at most ``_MAX_LISTED`` sorted items (none: no lines)."""
    if not items:
        return []
    shown = sorted(items.items())[:_MAX_LISTED]
    lines = ["", f"### {title}", "", f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| `{k}` | `{v}` |" for k, v in shown]
    if len(items) > len(shown):
        lines += ["", f"... and {len(items) - len(shown)} more (see `manifest.json`)."]
    return lines


def dataset_card(manifest: dict, sizes: dict[str, dict[str, int]] | None = None) -> str:
    """The release's ``README.md``: YAML front matter (:func:`front_matter`), then a body naming
    the release, how to load it, its tables and row counts, and its lineage. Deterministic."""
    meta = front_matter(manifest, sizes)
    rid = manifest["release_id"]
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    rows = manifest.get("rows") or {}
    body = [
        f"# remot release `{rid}`",
        "",
        "Motion-contrast VQA built by the remot pipeline from video meta-annotations (camera poses, "
        "robot telemetry, simulation logs): **triplets** (anchor, positive and negative frame pairs, "
        "images inline as JPEG) and about three **questions** per triplet (multiple choice, "
        "true/false, fill-in-the-blank, comparative), answered inside `<answer>...</answer>`. The "
        "`test` split is remot-bench; splits are by episode.",
        "",
        "## Load",
        "",
        "```python",
        "import datasets",
        "",
        "questions = datasets.load_dataset(\"path/to/this/folder\")            # the default config",
        "triplets = datasets.load_dataset(\"path/to/this/folder\", \"triplets\")  # images decode to PIL",
        "```",
        "",
        "A question's `image_roles` name the triplet images (join on `triplet_id`) in the order of "
        "the `<image>` placeholders in its `prompt`. To train outside remot, export the release: "
        "`python -m remot_pipeline.export --to {verl,llava,sharegpt} RELEASE OUT`.",
        "",
        "## Tables",
        "",
        "| config | split | rows | files |",
        "|---|---|---|---|",
    ]
    for c in meta["configs"]:
        counts = {s: n for s, n in _splits(manifest, c["config_name"]).items() if n}
        for df in c["data_files"]:
            body.append(f"| `{c['config_name']}` | `{df['split']}` | {counts[df['split']]} | `{df['path']}` |")
    body += ["", "Total rows: " + ", ".join(f"{t} {rows[t]}" for t in TABLES if t in rows) + ".", ""]
    body += _lineage(manifest)
    body += ["", "## License", "",
             f"`{meta['license']}`: the data inherit the terms of their sources (see the configuration in "
             "`manifest.json`).", ""]
    return f"---\n{head}---\n\n" + "\n".join(body)
