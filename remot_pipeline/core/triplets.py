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
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pyarrow as pa

from data_contracts import conform, contract, empty
from remot_pipeline.core.arrow import to_polars
from remot_pipeline.core.clips import DEFAULT_CLIP_FRAMES, between_frames, check_clip_frames
from remot_pipeline.core.features import decode_frames, encode_jpeg, view_change
from remot_pipeline.core.ledger import QuarantineLog, StageResult


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
    form = (retrieval & pl.col("_at_anchor")) if "_at_anchor" in deduped.columns else \
        (retrieval & _at_anchor()) if {"negative_anchor_frame_index", "negative_episode_id"} <= set(deduped.columns) \
        else pl.lit(False)
    # The sub-strata of a kind share its turn: a rank within a sub-stratum is scaled by the kind's
    # number of sub-strata, so every (attribute, value, kind) still advances one triplet a round.
    group = ["attribute", "positive_value", "negative_kind"]
    ranked = deduped.with_columns(larger.alias("_larger"), form.alias("_form")).with_columns(
        (pl.col("_key").rank("ordinal").over([*group, "_larger", "_form"])
         * pl.struct("_larger", "_form").n_unique().over(group)).alias("_rank")
    )
    out = ranked.sort(["_rank", "_key"], maintain_order=True).head(max_per_domain).drop("_rank", "_key", "_larger", "_form")
    return out.drop([c for c in ("_changes_more", "_at_anchor") if c in out.columns])


def _at_anchor() -> pl.Expr:
    """The negative pair starts at the positive's anchor frame (the anchor-plus-two-candidates form)."""
    return (pl.col("negative_anchor_frame_index") == pl.col("anchor_frame_index")) \
        & (pl.col("negative_episode_id") == pl.col("episode_id"))



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
#: A clip's frames between its pair's two (``clip_frames`` > 2): the positive's, the negative's.
CLIP_PAIRS = ("positive", "negative")
BETWEEN_IMAGE_COLUMNS = tuple(f"{w}_between_images" for w in CLIP_PAIRS)
IMAGE_COLUMNS = tuple(f"{r}_image" for r in ROLES) + BETWEEN_IMAGE_COLUMNS


def build_triplets(
    negatives: pa.Table, features: pa.Table, frames: pa.Table, episodes: pa.Table, max_per_domain: int, seed: int,
    bench_per_domain: int = 200, jpeg_quality: int = 90, clip_frames: int = DEFAULT_CLIP_FRAMES,
    data_root: Path | None = None, jpeg_max_side_px: int = 320,
) -> StageResult:
    """Balanced triplets with the JPEGs of all four frames (anchor, positive, negative anchor,
    negative); mirrored negatives get mirrored images. :func:`plan_triplets` then
    :func:`finish_triplets` over all rows at once; the pipeline runs the second in bounded chunks.
    With ``clip_frames`` > 2 the frames between each pair's two are decoded from the sources under
    ``data_root`` (:func:`decode_clip_frames`)."""
    plan, filtered = plan_triplets(negatives, features, frames, episodes, max_per_domain, seed, bench_per_domain,
                                   clip_frames)
    if plan is None:
        return StageResult(empty("triplets"), empty("quarantine"), 0, {})
    images = to_polars(features.select(["episode_id", "frame_index", "image"]))
    domain = frames.column("domain")[0].as_py() if frames.num_rows else ""
    plan, between, quarantine = decode_clip_frames(plan, frames, episodes, data_root, jpeg_max_side_px, jpeg_quality,
                                                   domain, clip_frames)
    out = finish_triplets(plan, images, jpeg_quality, between)
    return StageResult(out, quarantine, negatives.num_rows, filtered)


#: The negatives' columns the balanced choice reads (labels and keys: no motion, no images).
CHOICE_COLUMNS = ["episode_id", "split", "attribute", "positive_pair_id", "anchor_frame_index", "positive_frame_index",
                  "positive_value", "positive_magnitude", "negative_episode_id", "negative_anchor_frame_index",
                  "negative_frame_index", "negative_magnitude", "negative_kind"]


#: What the balanced choice keeps of a deduplicated candidate (:func:`shard_candidates`): its
#: strata, magnitudes, seeded key and row; no ids (the chosen rows are read back by row).
POOL_COLUMNS = ["split", "attribute", "positive_value", "negative_kind", "positive_magnitude", "negative_magnitude",
                "_key", "_changes_more", "_at_anchor", "_row"]


def shard_candidates(candidates: pa.Table, features: pa.Table, seed: int) -> pl.DataFrame:
    """One shard's negatives (at least :data:`CHOICE_COLUMNS`, in the shard's row order) as choice
    candidates: deduplicated (:func:`dedup_candidates`), with whether the negative's view changes
    more than the positive's (``features``: the domain's keyframe descriptors, no images), whether
    it starts at the anchor, and ``_row``, the candidate's row in ``candidates``. Only
    :data:`POOL_COLUMNS` are kept (about a third of a candidate's labels and ids): a domain's
    pool of candidates is what the triplets step holds whole."""
    neg = to_polars(candidates.select(CHOICE_COLUMNS)).with_row_index("_row")
    neg = neg.with_columns(pl.Series("_changes_more", view_change(
        neg, features, "negative_anchor_frame_index", "negative_frame_index", "negative_episode_id")
        > view_change(neg, features, "anchor_frame_index", "positive_frame_index")), _at_anchor().alias("_at_anchor"))
    return dedup_candidates(neg, seed).select(POOL_COLUMNS)


def choose_candidates(deduped: list[pl.DataFrame], max_per_domain: int, seed: int, bench_per_domain: int = 200
                      ) -> pl.DataFrame:
    """The balanced choice (:func:`select_per_split`) over every shard's :func:`shard_candidates`
    (in shard order): the chosen rows' shard (its position in ``deduped``), row in it and
    ``_pick``, their order. The same choice as over the whole domain at once: a dedup group never
    leaves its episode."""
    parts = [d.with_columns(pl.lit(i, pl.UInt32).alias("_shard")) for i, d in enumerate(deduped) if d.height]
    if not parts:
        return pl.DataFrame(schema={"_shard": pl.UInt32, "_row": pl.UInt32, "_pick": pl.UInt32})
    pool = pl.concat(parts).sort("_key", maintain_order=True)
    del parts
    chosen = select_per_split(pool, {"train": max_per_domain, "test": bench_per_domain}, seed, deduped=True)
    return chosen.select(pl.col("_shard"), pl.col("_row").cast(pl.UInt32)).with_row_index("_pick")


def choose_negatives(candidates: pa.Table, features: pa.Table, max_per_domain: int, seed: int,
                     bench_per_domain: int = 200) -> pl.DataFrame:
    """:func:`choose_candidates` of one table of negatives (one shard: ``_shard`` 0)."""
    return choose_candidates([shard_candidates(candidates, features, seed)], max_per_domain, seed, bench_per_domain)


def chosen_rows(negatives: pa.Table, chosen: pl.DataFrame, shard: int = 0) -> pl.DataFrame:
    """The rows of ``negatives`` (all columns; shard ``shard``'s, in the order
    :func:`shard_candidates` read them) that ``chosen`` names, with ``_pick``."""
    mine = chosen.filter(pl.col("_shard") == shard)
    rows = to_polars(negatives.take(pa.array(mine["_row"].to_numpy(), pa.int64())))
    return rows.with_columns(mine["_pick"])


def plan_triplets(
    negatives: pa.Table, features: pa.Table, frames: pa.Table, episodes: pa.Table, max_per_domain: int, seed: int,
    bench_per_domain: int = 200, clip_frames: int = DEFAULT_CLIP_FRAMES,
) -> tuple[pl.DataFrame | None, dict[str, int]]:
    """The chosen triplets without their images, sorted by ``triplet_id``, and the rows filtered
    per rule. ``features`` needs no ``image`` column (descriptors and keys only): the plan of a
    whole domain is labels and locators, never pixels. (:func:`choose_negatives`,
    :func:`chosen_rows`, then :func:`plan_chosen`: the pipeline reads the full rows of the
    chosen negatives shard by shard.)"""
    if negatives.num_rows == 0:
        return None, {}
    chosen = choose_negatives(negatives, features, max_per_domain, seed, bench_per_domain)
    return plan_chosen(chosen_rows(negatives, chosen, 0), negatives.num_rows, features, frames, episodes, clip_frames)


def plan_chosen(rows: pl.DataFrame, n_candidates: int, features: pa.Table, frames: pa.Table, episodes: pa.Table,
                clip_frames: int = DEFAULT_CLIP_FRAMES) -> tuple[pl.DataFrame, dict[str, int]]:
    """The plan of the chosen negatives' full rows (``rows``, with ``_pick``, in any order) out of
    ``n_candidates``: their locators and timestamps, each pair's clip frames between its two
    (:func:`between_columns`), ``triplet_id``, sorted by it."""
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
    t = t.with_columns(between_columns(t, fr, clip_frames))
    filtered = {"not_selected_for_balance": n_candidates - chosen.height, "missing_keyframe": chosen.height - t.height}
    return t, filtered


def between_columns(plan: pl.DataFrame, frames: pl.DataFrame, clip_frames: int) -> list[pl.Series]:
    """``{positive,negative}_between_{frame_index,timestamp_s}`` of a plan's rows: the frames each
    pair's clip plays between its two (:func:`remot_pipeline.core.clips.between_frames` over the
    pair's episode, ``frames``: ``episode_id, frame_index, timestamp_s``); empty lists for
    ``clip_frames`` 2."""
    k = check_clip_frames(clip_frames)
    ends = {"positive": ("episode_id", "anchor_frame_index", "positive_frame_index"),
            "negative": ("negative_episode_id", "negative_anchor_frame_index", "negative_frame_index")}
    out: dict[str, list] = {f"{w}_between_{c}": [] for w in CLIP_PAIRS for c in ("frame_index", "timestamp_s")}
    if k > 2 and plan.height:
        wanted = pl.concat([plan[ends[w][0]].alias("episode_id") for w in CLIP_PAIRS]).unique()
        by_episode = {e: (part["frame_index"].to_numpy(), part["timestamp_s"].to_numpy())
                      for (e,), part in frames.filter(pl.col("episode_id").is_in(wanted.implode()))
                      .sort(["episode_id", "timestamp_s"]).partition_by("episode_id", as_dict=True).items()}
        position = {e: {int(f): i for i, f in enumerate(fi)} for e, (fi, _) in by_episode.items()}
        for w in CLIP_PAIRS:
            episode, first, last = ends[w]
            for e, a, b in zip(plan[episode], plan[first], plan[last]):
                fi, ts = by_episode[e]
                pick = between_frames(ts, position[e][a], position[e][b], k)
                out[f"{w}_between_frame_index"].append(fi[pick].tolist())
                out[f"{w}_between_timestamp_s"].append(ts[pick].tolist())
    else:
        out = {name: [[]] * plan.height for name in out}
    return [pl.Series(name, values, dtype=pl.List(pl.Int64 if name.endswith("frame_index") else pl.Float64))
            for name, values in out.items()]


def decode_clip_frames(plan: pl.DataFrame, frames: pa.Table, episodes: pa.Table, data_root: Path | None,
                       max_side_px: int, quality: int, domain: str, clip_frames: int
                       ) -> tuple[pl.DataFrame, pl.DataFrame | None, pa.Table]:
    """Decode the frames a plan's clips play between their pairs' two (``clip_frames`` > 2) from
    the sources, as keyframes are (:func:`remot_pipeline.core.features.encode_jpeg`, same size and
    quality). A row whose clip frame does not decode is quarantined (``frame_undecodable``, the
    file named) and left out of the plan. Returns ``(plan, images, quarantine)``; ``images`` is
    ``episode_id, frame_index, image`` (None for ``clip_frames`` 2)."""
    q = QuarantineLog("triplets", domain)
    if check_clip_frames(clip_frames) == 2 or not plan.height:
        return plan, None, q.table()
    if data_root is None:
        raise ValueError("clip_frames > 2 decodes the frames between each pair from the sources: pass data_root")
    keys = pl.concat([plan.select(pl.col(e).alias("episode_id"), pl.col(f"{w}_between_frame_index").alias("frame_index"))
                      for w, e in (("positive", "episode_id"), ("negative", "negative_episode_id"))]
                     ).explode("frame_index").drop_nulls().unique()
    fr = to_polars(frames.select(["episode_id", "frame_index", "media_path", "media_frame_index"])).filter(
        pl.col("episode_id").is_in(keys["episode_id"].unique().implode()))
    roots = dict(zip(episodes.column("episode_id").to_pylist(), episodes.column("source_root").to_pylist()))
    rows, failed = [], {}
    media = {e: part for (e,), part in fr.partition_by("episode_id", as_dict=True).items()}
    for (e,), part in keys.partition_by("episode_id", as_dict=True).items():
        wanted = part["frame_index"].to_list()
        got: dict = {}
        if e in media:
            got, failures, _ = decode_frames(media[e].to_arrow(), wanted, Path(data_root) / roots[e])
            failed.update({(e, f): (file, detail) for f, file, detail in failures})
        rows += [{"episode_id": e, "frame_index": f,
                  "image": {"bytes": encode_jpeg(rgb, max_side_px, quality), "path": f"{e}/frame_{f:06d}.jpg"}}
                 for f, rgb in got.items()]
        failed.update({(e, f): ("", "the frame has no media (a pose-only source) or no frames row")
                       for f in wanted if f not in got and (e, f) not in failed})
    bad = np.zeros(plan.height, dtype=bool)
    for w, e in (("positive", "episode_id"), ("negative", "negative_episode_id")):
        for i, (ep, fs, tid) in enumerate(zip(plan[e], plan[f"{w}_between_frame_index"], plan["triplet_id"])):
            miss = next(((ep, f) for f in fs if (ep, f) in failed), None)
            if miss is not None and not bad[i]:
                bad[i] = True
                file, detail = failed[miss]
                q.add("frame_undecodable", f"triplet {tid}: clip frame {miss[1]} of {ep}: {detail}", file=file,
                      episode_id=ep, frame_index=miss[1])
    images = pl.DataFrame(rows, schema={"episode_id": pl.String, "frame_index": pl.Int64,
                                        "image": pl.Struct({"bytes": pl.Binary, "path": pl.String})})
    return plan.filter(pl.Series(~bad)), images, q.table()


def image_keys(plan: pl.DataFrame) -> pl.DataFrame:
    """Every ``(episode_id, frame_index)`` whose keyframe the plan's rows show, once."""
    cols = [plan.select(pl.col("negative_episode_id" if r.startswith("negative") else "episode_id").alias("episode_id"),
                        pl.col(f"{r}_frame_index").alias("frame_index")) for r in ROLES]
    return pl.concat(cols).unique(maintain_order=True)


def finish_triplets(plan: pl.DataFrame, images: pl.DataFrame, jpeg_quality: int = 90,
                    between: pl.DataFrame | None = None) -> pa.Table:
    """Rows of a plan with their four JPEGs (``images``: ``episode_id, frame_index, image``, at
    least every key :func:`image_keys` names) and their clips' frames between (``between``, the
    same layout, from :func:`decode_clip_frames`; None when the plan's clips have none), mirrored where
    the negative is, conformed. Row order is the plan's."""
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
    for role in ROLES:  # a mirrored triplet: all its images through decode -> (flip) -> encode
        images_ = t[f"{role}_image"].to_list()
        mirrored = role.startswith("negative")
        t = t.with_columns(pl.Series(f"{role}_image", [reencode_jpeg(im, jpeg_quality, mirrored) if f else im
                                                       for im, f in zip(images_, flip)], dtype=t.schema[f"{role}_image"]))
    lookup = {} if between is None else dict(zip(zip(between["episode_id"], between["frame_index"]), between["image"]))
    for w, episode in (("positive", "episode_id"), ("negative", "negative_episode_id")):
        clips = []
        for e, fs, f in zip(t[episode], t[f"{w}_between_frame_index"], flip):
            try:
                ims = [lookup[(e, i)] for i in fs]
            except KeyError as exc:
                raise ValueError(f"a triplet's clip frame {exc.args[0]} has no decoded image (decode_clip_frames)") from None
            clips.append([reencode_jpeg(im, jpeg_quality, w == "negative") for im in ims] if f else ims)
        t = t.with_columns(pl.Series(f"{w}_between_images", clips,
                                     dtype=pl.List(pl.Struct({"bytes": pl.Binary, "path": pl.String}))))
    return conform(t.select(list(contract("triplets").columns)).to_arrow(), "triplets")
