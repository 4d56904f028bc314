"""Triplets: a positive pair (anchor -> positive) and a negative pair (negative anchor ->
negative) with the same attribute and opposite values, their labels and inline JPEGs. A
retrieved negative may start at the anchor itself (three distinct images).

Selection is balanced and per split: candidates are deduplicated to one per (anchor frame,
attribute, negative kind), then taken round-robin across strata (attribute, positive value,
negative kind, and for retrieval whether the negative's motion is the larger and whether it
starts at the anchor) in a seeded order
until the split's cap is reached: ``max_per_domain`` for train, ``bench_per_domain`` for test
(remot-bench: 200 per domain, 600 in all, as ReMoT-16K-Test).
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import polars as pl
import pyarrow as pa

from data_contracts import conform, contract, empty
from remot_pipeline.core.arrow import to_polars
from remot_pipeline.core.features import view_change
from remot_pipeline.core.ledger import StageResult


def stable_key(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()


#: One candidate per (episode, anchor frame, attribute, negative kind): the group never leaves an
#: episode, so deduplicating shard by shard is deduplicating the domain.
DEDUP_KEY = ["episode_id", "anchor_frame_index", "attribute", "negative_kind"]


def dedup_candidates(negatives: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The seeded one candidate per :data:`DEDUP_KEY` group (the smallest ``_key``; ties: the
    earlier row), in ``_key`` order, with its ``_key``."""
    keyed = negatives.with_columns(
        pl.Series("_key", [stable_key(seed, p, n, k) for p, n, k in zip(
            negatives["positive_pair_id"], negatives["negative_frame_index"], negatives["negative_kind"])],
                  dtype=pl.String)
    )
    return keyed.sort("_key", maintain_order=True).unique(subset=DEDUP_KEY, keep="first", maintain_order=True)


def select_balanced(negatives: pl.DataFrame, max_per_domain: int, seed: int, deduped: bool = False) -> pl.DataFrame:
    """``deduped``: ``negatives`` already went through :func:`dedup_candidates` (and are in
    ``_key`` order)."""
    if negatives.height == 0:
        return negatives.drop("_key") if "_key" in negatives.columns else negatives
    deduped = negatives if deduped else dedup_candidates(negatives, seed)
    # A retrieved negative's motion is larger or smaller than the positive's in equal numbers (a
    # stratum each), so "the pair that changes more" does not answer; the other kinds have equal
    # magnitudes by construction.
    # Retrieved negatives that start at the anchor (the anchor-plus-two-candidates question form)
    # are a stratum of their own too, so both multiple-choice forms are taken where both exist.
    retrieval = pl.col("negative_kind") == "retrieval"
    larger = retrieval & (pl.col("negative_magnitude").abs() > pl.col("positive_magnitude").abs())
    if "_changes_more" in deduped.columns:  # and whether its view changes more (a second bit)
        larger = larger.cast(pl.Int8) * 2 + (retrieval & pl.col("_changes_more")).cast(pl.Int8)
    form = (retrieval & (pl.col("negative_anchor_frame_index") == pl.col("anchor_frame_index"))
            & (pl.col("negative_episode_id") == pl.col("episode_id"))) \
        if {"negative_anchor_frame_index", "negative_episode_id"} <= set(deduped.columns) else pl.lit(False)
    # The sub-strata of a kind share its turn: a rank within a sub-stratum is scaled by the kind's
    # number of sub-strata, so every (attribute, value, kind) still advances one triplet a round.
    group = ["attribute", "positive_value", "negative_kind"]
    ranked = deduped.with_columns(larger.alias("_larger"), form.alias("_form")).with_columns(
        (pl.col("_key").rank("ordinal").over([*group, "_larger", "_form"])
         * pl.struct("_larger", "_form").n_unique().over(group)).alias("_rank")
    )
    out = ranked.sort(["_rank", "_key"], maintain_order=True).head(max_per_domain).drop("_rank", "_key", "_larger", "_form")
    return out.drop("_changes_more") if "_changes_more" in out.columns else out



def select_per_split(negatives: pl.DataFrame, caps: dict[str, int], seed: int, deduped: bool = False) -> pl.DataFrame:
    """:func:`select_balanced` within each split, with that split's cap."""
    parts = [select_balanced(negatives.filter(pl.col("split") == split), cap, seed, deduped)
             for split, cap in sorted(caps.items())]
    return pl.concat(parts) if parts else negatives.head(0)


def reencode_jpeg(image: dict, quality: int, flip: bool) -> dict:
    """Decode a ``{bytes, path}`` JPEG, mirror it horizontally when ``flip``, encode it at ``quality``.

    A mirrored triplet sends **all four** of its images through this one path, so no image carries
    one more generation of compression than the others (a second JPEG pass on the mirrored pair
    alone made "the pair with fewer bytes" answer every mirror question). Keyframes are stored
    with a width that is a multiple of 16 (:func:`remot_pipeline.core.features.encode_jpeg`), so
    a mirrored frame's 8x8 blocks and 16x16 chroma blocks land on the grid: a flipped and an
    unflipped re-encode lose the same. The path is marked ``#hflip`` or ``#reencoded``.
    """
    bgr = cv2.imdecode(np.frombuffer(image["bytes"], np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode the keyframe {image['path']}")
    ok, buf = cv2.imencode(".jpg", cv2.flip(bgr, 1) if flip else bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"cannot re-encode {image['path']}")
    return {"bytes": buf.tobytes(), "path": image["path"] + ("#hflip" if flip else "#reencoded")}


ROLES = ("anchor", "positive", "negative_anchor", "negative")
IMAGE_COLUMNS = tuple(f"{r}_image" for r in ROLES)


def build_triplets(
    negatives: pa.Table, features: pa.Table, frames: pa.Table, episodes: pa.Table, max_per_domain: int, seed: int,
    bench_per_domain: int = 200, jpeg_quality: int = 90,
) -> StageResult:
    """Balanced triplets with the JPEGs of all four frames (anchor, positive, negative anchor,
    negative); mirrored negatives get mirrored images. :func:`plan_triplets` then
    :func:`finish_triplets` over all rows at once; the pipeline runs the second in bounded chunks."""
    plan, filtered = plan_triplets(negatives, features, frames, episodes, max_per_domain, seed, bench_per_domain)
    if plan is None:
        return StageResult(empty("triplets"), empty("quarantine"), 0, {})
    images = to_polars(features.select(["episode_id", "frame_index", "image"]))
    out = finish_triplets(plan, images, jpeg_quality)
    return StageResult(out, empty("quarantine"), negatives.num_rows, filtered)


#: The negatives' columns the balanced choice reads (labels and keys: no motion, no images).
CHOICE_COLUMNS = ["episode_id", "split", "attribute", "object_color", "positive_pair_id", "anchor_frame_index",
                  "positive_frame_index", "positive_value", "positive_magnitude", "negative_episode_id",
                  "negative_anchor_frame_index", "negative_frame_index", "negative_magnitude", "negative_kind",
                  "negative_pair_id"]
#: What names one negatives row (the negatives stage's total order).
NEGATIVE_KEY = ["episode_id", "positive_pair_id", "negative_kind", "attribute", "object_color", "negative_pair_id"]


def shard_candidates(candidates: pa.Table, features: pa.Table, seed: int) -> pl.DataFrame:
    """One shard's negatives (at least :data:`CHOICE_COLUMNS`) as choice candidates: whether the
    negative's view changes more than the positive's (``features``: the domain's keyframe
    descriptors, no images), deduplicated (:func:`dedup_candidates`)."""
    neg = to_polars(candidates.select(CHOICE_COLUMNS))
    neg = neg.with_columns(pl.Series("_changes_more", view_change(
        neg, features, "negative_anchor_frame_index", "negative_frame_index", "negative_episode_id")
        > view_change(neg, features, "anchor_frame_index", "positive_frame_index")))
    return dedup_candidates(neg, seed)


def choose_candidates(deduped: list[pl.DataFrame], max_per_domain: int, seed: int, bench_per_domain: int = 200
                      ) -> pl.DataFrame:
    """The balanced choice (:func:`select_per_split`) over every shard's :func:`shard_candidates`
    (in shard order): the chosen rows' :data:`NEGATIVE_KEY` and ``_pick``, their order. The same
    choice as over the whole domain at once: a dedup group never leaves its episode."""
    parts = [d for d in deduped if d.height]
    if not parts:
        return pl.DataFrame(schema={**{c: pl.String for c in NEGATIVE_KEY}, "_pick": pl.UInt32})
    pool = pl.concat(parts).sort("_key", maintain_order=True)
    chosen = select_per_split(pool, {"train": max_per_domain, "test": bench_per_domain}, seed, deduped=True)
    return chosen.select(NEGATIVE_KEY).with_row_index("_pick")


def choose_negatives(candidates: pa.Table, features: pa.Table, max_per_domain: int, seed: int,
                     bench_per_domain: int = 200) -> pl.DataFrame:
    """:func:`choose_candidates` of one table of negatives (one shard)."""
    return choose_candidates([shard_candidates(candidates, features, seed)], max_per_domain, seed, bench_per_domain)


def chosen_rows(negatives: pa.Table, chosen: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``negatives`` (all columns; one shard's, say) that ``chosen`` names, with ``_pick``."""
    return to_polars(negatives).join(chosen, on=NEGATIVE_KEY, how="inner", nulls_equal=True)


def plan_triplets(
    negatives: pa.Table, features: pa.Table, frames: pa.Table, episodes: pa.Table, max_per_domain: int, seed: int,
    bench_per_domain: int = 200,
) -> tuple[pl.DataFrame | None, dict[str, int]]:
    """The chosen triplets without their images, sorted by ``triplet_id``, and the rows filtered
    per rule. ``features`` needs no ``image`` column (descriptors and keys only): the plan of a
    whole domain is labels and locators, never pixels. (:func:`choose_negatives`,
    :func:`chosen_rows`, then :func:`plan_chosen`: the pipeline reads the full rows of the
    chosen negatives shard by shard.)"""
    if negatives.num_rows == 0:
        return None, {}
    chosen = choose_negatives(negatives, features, max_per_domain, seed, bench_per_domain)
    return plan_chosen(chosen_rows(negatives, chosen), negatives.num_rows, features, frames, episodes)


def plan_chosen(rows: pl.DataFrame, n_candidates: int, features: pa.Table, frames: pa.Table, episodes: pa.Table
                ) -> tuple[pl.DataFrame, dict[str, int]]:
    """The plan of the chosen negatives' full rows (``rows``, with ``_pick``, in any order) out of
    ``n_candidates``: their locators and timestamps, ``triplet_id``, sorted by it."""
    chosen = rows.sort("_pick").drop("_pick")
    keys = to_polars(features.select(["episode_id", "frame_index"]))
    fr = to_polars(frames.select(["episode_id", "frame_index", "timestamp_s", "media_path", "media_frame_index"]))
    eps = to_polars(episodes.select(["episode_id", "scene_id", "source_root"]))
    t = chosen.join(eps, on="episode_id", how="left", maintain_order="left").join(
        eps.select(pl.col("episode_id").alias("negative_episode_id"), pl.col("source_root").alias("negative_source_root")),
        on="negative_episode_id", how="left", maintain_order="left")
    for role in ROLES:
        key = f"{role}_frame_index"
        episode = "negative_episode_id" if role.startswith("negative") else "episode_id"
        t = t.join(keys.rename({"episode_id": episode, "frame_index": key}), on=[episode, key], how="inner",
                   maintain_order="left")
        t = t.join(
            fr.rename({"episode_id": episode, "frame_index": key, "timestamp_s": f"{role}_timestamp_s",
                       "media_path": f"{role}_media", "media_frame_index": f"{role}_media_index"}),
            on=[episode, key], how="inner", maintain_order="left",
        )
    parts = []
    for i, role in enumerate(ROLES):
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
    ).sort("triplet_id", maintain_order=True)
    filtered = {"not_selected_for_balance": n_candidates - chosen.height, "missing_keyframe": chosen.height - t.height}
    return t, filtered


def image_keys(plan: pl.DataFrame) -> pl.DataFrame:
    """Every ``(episode_id, frame_index)`` whose keyframe the plan's rows show, once."""
    cols = [plan.select(pl.col("negative_episode_id" if r.startswith("negative") else "episode_id").alias("episode_id"),
                        pl.col(f"{r}_frame_index").alias("frame_index")) for r in ROLES]
    return pl.concat(cols).unique(maintain_order=True)


def finish_triplets(plan: pl.DataFrame, images: pl.DataFrame, jpeg_quality: int = 90) -> pa.Table:
    """Rows of a plan with their four JPEGs (``images``: ``episode_id, frame_index, image``, at
    least every key :func:`image_keys` names), mirrored where the negative is, conformed.
    Row order is the plan's."""
    t = plan.with_row_index("_order")
    for role in ROLES:
        key = f"{role}_frame_index"
        episode = "negative_episode_id" if role.startswith("negative") else "episode_id"
        t = t.join(images.rename({"episode_id": episode, "frame_index": key, "image": f"{role}_image"}),
                   on=[episode, key], how="inner")
    if t.height != plan.height:
        raise ValueError(f"{plan.height - t.height} triplet row(s) miss a keyframe image; the images given do not "
                         "cover the plan's keys (image_keys)")
    t = t.sort("_order")
    flip = t["negative_transform"].to_numpy() == "hflip"
    for role in ROLES:  # a mirrored triplet: all four images through decode -> (flip) -> encode
        images_ = t[f"{role}_image"].to_list()
        mirrored = role.startswith("negative")
        t = t.with_columns(pl.Series(f"{role}_image", [reencode_jpeg(im, jpeg_quality, mirrored) if f else im
                                                       for im, f in zip(images_, flip)], dtype=t.schema[f"{role}_image"]))
    return conform(t.select(list(contract("triplets").columns)).to_arrow(), "triplets")
