"""Table contracts: an ordered list of registry fields per table, and the one write path.

Every Parquet file remot writes goes through :func:`write_parquet`, which conforms the
table to its contract first: a missing or unknown column is an error that names it, types
are cast safely (no silent truncation) and nulls in non-nullable columns are refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts.fields import FIELDS, IMAGE
from data_contracts.storage import write_atomic, write_bytes_atomic

#: Bump on any breaking change to a contract (a removed/renamed column, a changed type): major; on a
#: change of meaning readers must know (3.1: ``relations`` gained the ``is``/``is_not`` ops and motion
#: names, on every question type): minor.
CONTRACT_VERSION = "3.2.0"

_SCHEMA_KEY = b"remot.contract"


class ContractError(ValueError):
    """A table does not conform to its contract."""


@dataclass(frozen=True)
class TableContract:
    name: str
    description: str
    columns: tuple[str, ...]
    #: Columns that are nullable in this table although the registry field is not.
    nullable: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = [c for c in self.columns if c not in FIELDS]
        if unknown:
            raise ContractError(f"contract {self.name!r} names unregistered fields: {unknown}")

    def is_nullable(self, name: str) -> bool:
        return FIELDS[name].nullable or name in self.nullable

    def schema(self) -> pa.Schema:
        fields, images = [], []
        for name in self.columns:
            f = FIELDS[name].arrow().with_nullable(self.is_nullable(name))
            if f.type == IMAGE:
                # Hugging Face's Image feature is a nullable struct; conform() still refuses nulls.
                f = f.with_nullable(True)
                images.append((name, {"_type": "Image"}))
            elif f.type == pa.list_(IMAGE):
                f = f.with_nullable(True)  # as above
                images.append((name, {"_type": "List", "feature": {"_type": "Image"}}))
            fields.append(f)
        meta = {_SCHEMA_KEY: self.name.encode(), b"remot.contract_version": CONTRACT_VERSION.encode()}
        if images:
            # Lets `datasets.load_dataset("parquet", ...)` decode these columns as PIL images.
            features = dict(images)
            meta[b"huggingface"] = json.dumps({"info": {"features": features}}).encode()
        return pa.schema(fields, metadata=meta)


_PAIR_KEY = ("episode_id", "domain", "split", "pair_id", "frame_index_a", "frame_index_b")

CONTRACTS: dict[str, TableContract] = {
    c.name: c
    for c in [
        TableContract(
            "episodes",
            "One row per ingested episode.",
            ("episode_id", "domain", "split", "source_name", "source_format", "source_root", "episode_path",
             "scene_id", "n_frames", "fps", "width_px", "height_px", "fx_px", "fy_px", "cx_px", "cy_px",
             "input_sha256", "signals", "metric_scale", "note"),
        ),
        TableContract(
            "frames",
            "The canonical per-frame table every source is normalised into.",
            ("episode_id", "domain", "split", "frame_index", "timestamp_s", "cam2world", "ee_pos_base_m",
             "ee_rotvec_base_rad", "gripper_width_m", "objects", "media_path", "media_frame_index"),
        ),
        TableContract(
            "motion_pairs",
            "Relative motion between two frames of one episode, expressed in frame a.",
            _PAIR_KEY + ("dt_s", "cam_translation_a_m", "cam_translation_norm_m", "cam_rotvec_a_rad", "yaw_left_deg", "pitch_up_deg",
                         "roll_cw_deg", "rotation_angle_deg", "ee_disp_base_m", "ee_disp_cam_m", "ee_roll_image_cw_deg",
                         "gripper_delta_m", "phase", "gripper_holding", "object_id", "object_color", "object_disp_a_m",
                         "object_yaw_ccw_deg"),
        ),
        TableContract(
            "labelled_pairs",
            "Motion pairs that pass an attribute's magnitude band and the dominance margin.",
            _PAIR_KEY + ("attribute", "value", "magnitude", "unit", "dominance_ratio", "object_color"),
        ),
        TableContract(
            "frame_features",
            "JPEG keyframes and their retrieval descriptors.",
            ("episode_id", "domain", "frame_index", "timestamp_s", "image", "descriptor"),
        ),
        TableContract(
            "negatives",
            "Negatives for positive pairs: negative_anchor->negative has the other value of the same attribute.",
            ("episode_id", "domain", "split", "attribute", "positive_pair_id", "negative_pair_id",
             "anchor_frame_index", "positive_frame_index", "negative_episode_id", "negative_anchor_frame_index",
             "negative_frame_index", "positive_value", "negative_value", "positive_magnitude", "negative_magnitude", "unit",
             "positive_motion", "negative_motion", "negative_kind", "negative_transform",
             "negative_similarity", "object_color"),
        ),
        TableContract(
            "triplets",
            "A positive pair (anchor->positive) and a negative pair (negative_anchor->negative) with the same "
            "attribute and opposite values, with labels, full motions and inline JPEGs.",
            ("triplet_id", "episode_id", "domain", "split", "scene_id", "attribute", "unit",
             "anchor_frame_index", "positive_frame_index", "negative_episode_id", "negative_anchor_frame_index",
             "negative_frame_index",
             "anchor_timestamp_s", "positive_timestamp_s", "negative_anchor_timestamp_s", "negative_timestamp_s",
             "positive_value", "negative_value", "positive_magnitude", "negative_magnitude", "positive_pair_id",
             "negative_pair_id", "positive_motion", "negative_motion", "negative_kind", "negative_transform",
             "negative_similarity", "object_color", "anchor_image", "positive_image", "negative_anchor_image",
             "negative_image", "positive_between_frame_index", "positive_between_timestamp_s",
             "positive_between_images", "negative_between_frame_index", "negative_between_timestamp_s",
             "negative_between_images", "source_locator"),
        ),
        TableContract(
            "questions",
            "Questions about a triplet; images are referenced by role and live in the triplet row.",
            ("question_id", "triplet_id", "episode_id", "domain", "split", "attribute", "question_type", "prompt",
             "image_roles", "answer", "options", "parse_rule", "tolerance", "consistency_group_id", "relations",
             "asserted_pair_id", "rationale"),
        ),
        TableContract(
            "quarantine",
            "Every rejected file or row, with the stage, a reason code and the source locator.",
            ("stage", "domain", "source_name", "episode_id", "file", "line", "frame_index", "reason_code",
             "detail"),
            nullable=frozenset({"episode_id", "frame_index", "source_name"}),
        ),
    ]
}


def contract(name: str) -> TableContract:
    try:
        return CONTRACTS[name]
    except KeyError:
        raise ContractError(f"no contract named {name!r}; known: {sorted(CONTRACTS)}") from None


def contract_of(table: pa.Table) -> str | None:
    """The contract name stamped on a conformed table, if any."""
    meta = table.schema.metadata or {}
    raw = meta.get(_SCHEMA_KEY)
    return raw.decode() if raw else None


def conform(table: pa.Table, name: str, columns: list[str] | None = None) -> pa.Table:
    """Return ``table`` cast to contract ``name``'s schema, in contract column order.

    ``columns``: conform to these columns of the contract only, in this order (a projection read
    of a stored table); a column the contract does not have is an error.

    Raises :class:`ContractError` naming the missing or unknown columns, a column whose type
    cannot be cast safely, or a non-nullable column that holds nulls.
    """
    c = contract(name)
    if not isinstance(table, pa.Table):
        table = table.to_arrow() if hasattr(table, "to_arrow") else pa.table(table)
    expected = list(c.columns) if columns is None else list(columns)
    if columns is not None and (foreign := [col for col in expected if col not in c.columns]):
        raise ContractError(f"contract {name!r} has no column(s) {foreign}")
    have = list(table.column_names)
    missing = [col for col in expected if col not in have]
    unknown = [col for col in have if col not in expected]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if unknown:
            parts.append(f"unknown column(s) {unknown}")
        raise ContractError(f"table does not conform to contract {name!r}: " + "; ".join(parts))
    schema = c.schema()
    if columns is not None:
        schema = pa.schema([schema.field(col) for col in expected])
    arrays = []
    for f in schema:
        col = table.column(f.name)
        try:
            col = col.cast(f.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise ContractError(
                f"contract {name!r}: column {f.name!r} of type {table.schema.field(f.name).type} "
                f"cannot be cast to {f.type}: {exc}"
            ) from None
        if not c.is_nullable(f.name) and col.null_count:
            raise ContractError(f"contract {name!r}: column {f.name!r} is not nullable but holds {col.null_count} null(s)")
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


def empty(name: str) -> pa.Table:
    """An empty table with contract ``name``'s schema."""
    return contract(name).schema().empty_table()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a unique temporary file in the same folder created
    with the user's umask, fsync, rename; see :mod:`data_contracts.storage`)."""
    write_bytes_atomic(path, data)


#: The writer settings of every contract file (:func:`write_parquet`, and the streamed release parts of
#: ``remot_pipeline.core.release``), fixed so that equal tables give byte-identical files: Parquet holds
#: no timestamp, ``created_by`` names the pyarrow version, and the contract's schema metadata is stored.
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True, "store_schema": True}


def write_parquet(table: pa.Table, name: str, path: Path) -> dict:
    """Conform ``table`` to contract ``name`` and write it to ``path`` atomically.

    Returns ``{"rows": n, "sha256": hex}`` for manifests. The file gets the user's umask; a
    write failure (permissions, read-only, full disk) is a one-line :class:`StorageError`.
    """
    conformed = conform(table, name)
    write_atomic(path, lambda tmp: pq.write_table(conformed, tmp, **PARQUET_OPTIONS))
    return {"rows": conformed.num_rows, "sha256": sha256_file(path)}


def read_parquet(path: Path, name: str) -> pa.Table:
    """Read a Parquet file written under contract ``name`` and check it still conforms."""
    return conform(pq.read_table(path), name)
