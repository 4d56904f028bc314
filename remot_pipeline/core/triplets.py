"""Triplets: anchor, positive and negative frames with their labels and inline JPEGs.

Selection is balanced: candidates are deduplicated to one per (anchor frame, attribute,
negative kind), then taken round-robin across strata (attribute, positive value, negative
kind) in a seeded order until ``max_per_domain`` is reached.
"""

from __future__ import annotations

import hashlib

import polars as pl
import pyarrow as pa

from data_contracts import conform, contract, empty
from data_contracts.fields import MOTION
from remot_pipeline.core.ledger import StageResult


def stable_key(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()


def select_balanced(negatives: pl.DataFrame, max_per_domain: int, seed: int) -> pl.DataFrame:
    if negatives.height == 0:
        return negatives
    keyed = negatives.with_columns(
        pl.Series("_key", [stable_key(seed, p, n, k) for p, n, k in zip(
            negatives["positive_pair_id"], negatives["negative_frame_index"], negatives["negative_kind"])])
    )
    deduped = keyed.sort("_key").unique(
        subset=["episode_id", "anchor_frame_index", "attribute", "negative_kind"], keep="first", maintain_order=True
    )
    ranked = deduped.with_columns(
        pl.col("_key").rank("ordinal").over(["attribute", "positive_value", "negative_kind"]).alias("_rank")
    )
    return ranked.sort(["_rank", "_key"]).head(max_per_domain).drop("_rank", "_key")


def build_triplets(
    negatives: pa.Table, features: pa.Table, frames: pa.Table, episodes: pa.Table, max_per_domain: int, seed: int,
    motion_pairs: pa.Table,
) -> StageResult:
    neg = pl.from_arrow(negatives)
    if neg.height == 0:
        return StageResult(empty("triplets"), empty("quarantine"), 0, {})
    chosen = select_balanced(neg, max_per_domain, seed)
    feats = pl.from_arrow(features.select(["episode_id", "frame_index", "image"]))
    fr = pl.from_arrow(frames.select(["episode_id", "frame_index", "timestamp_s", "media_path", "media_frame_index"]))
    eps = pl.from_arrow(episodes.select(["episode_id", "scene_id", "source_root"]))
    t = chosen.join(eps, on="episode_id", how="left")
    motion_fields = [f.name for f in MOTION]
    mp = pl.from_arrow(motion_pairs.select(["pair_id", *motion_fields])).select(
        "pair_id", pl.struct(motion_fields).alias("motion"))
    for role in ("positive", "negative"):
        t = t.join(mp.rename({"pair_id": f"{role}_pair_id", "motion": f"{role}_motion"}), on=f"{role}_pair_id", how="left")
    for role in ("anchor", "positive", "negative"):
        key = f"{role}_frame_index"
        t = t.join(feats.rename({"frame_index": key, "image": f"{role}_image"}), on=["episode_id", key], how="inner")
        t = t.join(
            fr.rename({"frame_index": key, "timestamp_s": f"{role}_timestamp_s", "media_path": f"{role}_media",
                       "media_frame_index": f"{role}_media_index"}),
            on=["episode_id", key], how="inner",
        )
    t = t.with_columns(
        pl.concat_str(
            [pl.col("source_root"), pl.lit("/"), pl.col("anchor_media"), pl.lit("#"), pl.col("anchor_media_index").cast(pl.String),
             pl.lit(" | "), pl.col("positive_media"), pl.lit("#"), pl.col("positive_media_index").cast(pl.String),
             pl.lit(" | "), pl.col("negative_media"), pl.lit("#"), pl.col("negative_media_index").cast(pl.String)]
        ).alias("source_locator"),
    )
    t = t.with_columns(
        pl.Series("triplet_id", [
            stable_key(e, a, p, n, k)[:20]
            for e, a, p, n, k in zip(t["episode_id"], t["anchor_frame_index"], t["positive_frame_index"],
                                      t["negative_frame_index"], t["negative_kind"])
        ], dtype=pl.String)
    ).sort("triplet_id")
    out = conform(t.select(list(contract("triplets").columns)).to_arrow(), "triplets")
    filtered = {"not_selected_for_balance": neg.height - chosen.height, "missing_keyframe": chosen.height - out.num_rows}
    return StageResult(out, empty("quarantine"), neg.height, filtered)
