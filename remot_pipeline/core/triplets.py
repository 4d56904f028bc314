"""Triplets: a positive pair (anchor -> positive) and a negative pair (negative anchor ->
negative) with the same attribute and opposite values, their labels and inline JPEGs. For a
retrieved negative the negative anchor is the anchor itself (three distinct images).

Selection is balanced and per split: candidates are deduplicated to one per (anchor frame,
attribute, negative kind), then taken round-robin across strata (attribute, positive value,
negative kind) in a seeded order until the split's cap is reached: ``max_per_domain`` for
train, ``bench_per_domain`` for test (remot-bench: 200 per domain, 600 in all, as ReMoT-16K-Test).
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import polars as pl
import pyarrow as pa

from data_contracts import conform, contract, empty
from remot_pipeline.core.arrow import to_polars
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


def select_per_split(negatives: pl.DataFrame, caps: dict[str, int], seed: int) -> pl.DataFrame:
    """:func:`select_balanced` within each split, with that split's cap."""
    parts = [select_balanced(negatives.filter(pl.col("split") == split), cap, seed) for split, cap in sorted(caps.items())]
    return pl.concat(parts) if parts else negatives.head(0)


def hflip_jpeg(image: dict) -> dict:
    """A horizontally mirrored copy of a ``{bytes, path}`` JPEG (path marked ``#hflip``)."""
    rgb = cv2.imdecode(np.frombuffer(image["bytes"], np.uint8), cv2.IMREAD_COLOR)
    ok, buf = cv2.imencode(".jpg", cv2.flip(rgb, 1), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"cannot re-encode {image['path']}")
    return {"bytes": buf.tobytes(), "path": image["path"] + "#hflip"}


def build_triplets(
    negatives: pa.Table, features: pa.Table, frames: pa.Table, episodes: pa.Table, max_per_domain: int, seed: int,
    bench_per_domain: int = 200,
) -> StageResult:
    """Balanced triplets with the JPEGs of all four frames (anchor, positive, negative anchor,
    negative); mirrored negatives get mirrored images."""
    neg = to_polars(negatives)
    if neg.height == 0:
        return StageResult(empty("triplets"), empty("quarantine"), 0, {})
    chosen = select_per_split(neg, {"train": max_per_domain, "test": bench_per_domain}, seed)
    feats = to_polars(features.select(["episode_id", "frame_index", "image"]))
    fr = to_polars(frames.select(["episode_id", "frame_index", "timestamp_s", "media_path", "media_frame_index"]))
    eps = to_polars(episodes.select(["episode_id", "scene_id", "source_root"]))
    t = chosen.join(eps, on="episode_id", how="left").join(
        eps.select(pl.col("episode_id").alias("negative_episode_id"), pl.col("source_root").alias("negative_source_root")),
        on="negative_episode_id", how="left")
    roles = ("anchor", "positive", "negative_anchor", "negative")
    for role in roles:
        key = f"{role}_frame_index"
        episode = "negative_episode_id" if role.startswith("negative") else "episode_id"
        t = t.join(feats.rename({"episode_id": episode, "frame_index": key, "image": f"{role}_image"}),
                   on=[episode, key], how="inner")
        t = t.join(
            fr.rename({"episode_id": episode, "frame_index": key, "timestamp_s": f"{role}_timestamp_s",
                       "media_path": f"{role}_media", "media_frame_index": f"{role}_media_index"}),
            on=[episode, key], how="inner",
        )
    flip = t["negative_transform"].to_numpy() == "hflip"
    for role in ("negative_anchor", "negative"):
        images = t[f"{role}_image"].to_list()
        t = t.with_columns(pl.Series(f"{role}_image", [hflip_jpeg(im) if f else im for im, f in zip(images, flip)],
                                     dtype=t.schema[f"{role}_image"]))
    parts = []
    for i, role in enumerate(roles):
        root = "negative_source_root" if role.startswith("negative") else "source_root"
        parts += ([pl.lit(" | ")] if i else []) + [pl.col(root), pl.lit("/"), pl.col(f"{role}_media"), pl.lit("#"),
                                                   pl.col(f"{role}_media_index").cast(pl.String)]
    t = t.with_columns(
        pl.concat_str(parts).alias("source_locator"),
        pl.Series("triplet_id", [
            stable_key(e, a, p, ne, na, n, k)[:20]
            for e, a, p, ne, na, n, k in zip(t["episode_id"], t["anchor_frame_index"], t["positive_frame_index"],
                                              t["negative_episode_id"], t["negative_anchor_frame_index"],
                                              t["negative_frame_index"], t["negative_kind"])
        ], dtype=pl.String),
    ).sort("triplet_id")
    out = conform(t.select(list(contract("triplets").columns)).to_arrow(), "triplets")
    filtered = {"not_selected_for_balance": neg.height - chosen.height, "missing_keyframe": chosen.height - out.num_rows}
    return StageResult(out, empty("quarantine"), neg.height, filtered)
