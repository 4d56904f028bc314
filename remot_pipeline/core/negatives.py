"""The triplet expert's N: negatives for positive pairs, built two ways.

A *positive* is a labelled pair ``anchor -> positive`` forward in time. A negative is a frame
whose ``anchor -> negative`` pair carries the **same attribute with the other value**; its
label is the one the labeller computed from that pair's own motion (never assumed).

* ``temporal_reversal``: the negative is the frame as far before the anchor as the positive is
  after it. ``anchor -> anchor-k`` is the time reversal of ``anchor-k -> anchor``: the same
  motion played backwards. Kept only when its recomputed label is the other value.
* ``retrieval``: among the anchor's labelled pairs with the other value, the frame whose
  descriptor is most similar to the positive's (a hard negative), excluding near-duplicates
  (cosine similarity above ``near_duplicate_max``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from data_contracts import conform, empty
from remot_pipeline.core.ledger import StageResult

_KEYS = ["episode_id", "frame_index_a", "attribute"]


def _other_side(labelled: pl.DataFrame) -> pl.DataFrame:
    return labelled.select(
        *_KEYS,
        pl.col("frame_index_b").alias("negative_frame_index"),
        pl.col("value").alias("negative_value"),
        pl.col("magnitude").alias("negative_magnitude"),
        pl.col("pair_id").alias("negative_pair_id"),
    )


def build_negatives(labelled: pa.Table, features: pa.Table, near_duplicate_max: float = 0.98) -> StageResult:
    """Negatives for every forward labelled pair of one domain."""
    lab = pl.from_arrow(labelled)
    if lab.height == 0:
        return StageResult(empty("negatives"), empty("quarantine"), 0, {})
    positives = lab.filter(pl.col("frame_index_b") > pl.col("frame_index_a"))
    other = _other_side(lab)
    base = positives.select(
        "episode_id", "domain", "split", "attribute", "unit", "object_color",
        pl.col("pair_id").alias("positive_pair_id"),
        pl.col("frame_index_a").alias("anchor_frame_index"),
        pl.col("frame_index_b").alias("positive_frame_index"),
        pl.col("value").alias("positive_value"),
        pl.col("magnitude").alias("positive_magnitude"),
        pl.col("frame_index_a"),
    )
    cand = base.join(other, on=_KEYS, how="inner").filter(pl.col("negative_value") != pl.col("positive_value"))

    # Similarities of every candidate negative to its positive, as one gather + row-wise dot.
    feat = pl.from_arrow(features.select(["episode_id", "frame_index"])).with_row_index("row")
    desc = np.asarray(features.column("descriptor").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    desc = desc.reshape(features.num_rows, -1) if features.num_rows else desc.reshape(0, 1)
    cand = (
        cand.join(feat.rename({"frame_index": "positive_frame_index", "row": "pos_row"}), on=["episode_id", "positive_frame_index"], how="inner")
        .join(feat.rename({"frame_index": "negative_frame_index", "row": "neg_row"}), on=["episode_id", "negative_frame_index"], how="inner")
    )
    sim = np.einsum("nd,nd->n", desc[cand["pos_row"].to_numpy()], desc[cand["neg_row"].to_numpy()]) if cand.height else np.zeros(0)
    cand = cand.with_columns(pl.Series("negative_similarity", sim.astype(np.float64)))

    reversal = cand.filter(
        pl.col("negative_frame_index") == 2 * pl.col("anchor_frame_index") - pl.col("positive_frame_index")
    ).with_columns(pl.lit("temporal_reversal").alias("negative_kind"))
    retrieval = (
        cand.filter((pl.col("negative_similarity") <= near_duplicate_max) & (pl.col("negative_frame_index") != pl.col("positive_frame_index")))
        .sort(["positive_pair_id", "negative_similarity", "negative_frame_index"], descending=[False, True, False])
        .group_by("positive_pair_id", maintain_order=True)
        .first()
        .with_columns(pl.lit("retrieval").alias("negative_kind"))
    )
    cols = list(_contract_columns())
    out = pl.concat([reversal.select(cols), retrieval.select(cols)]).sort(["episode_id", "positive_pair_id", "negative_kind"])
    n_pos = positives.height
    filtered = {
        "no_reversal_with_other_value": n_pos - reversal.height,
        "no_retrieval_candidate": n_pos - retrieval.height,
    }
    return StageResult(conform(out.to_arrow(), "negatives"), empty("quarantine"), 2 * n_pos, filtered)


def _contract_columns():
    from data_contracts import contract

    return contract("negatives").columns
