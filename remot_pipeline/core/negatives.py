"""The triplet expert's N: negatives for positive pairs.

A *positive* is a labelled pair ``anchor -> positive`` forward in time. A *negative* is a pair
``negative_anchor -> negative`` that carries the **same attribute with the other value**. Its
label is always recomputed by the labeller from that pair's own motion, never assumed.

Geometric synthesis (T_geo):

* ``temporal_reversal``: the positive pair played backwards, ``positive -> anchor``. Its motion
  is the exact inverse (``rel(p, a) = inv(rel(a, p))``; the rotation vector is exactly negated).
  Taken from ``motion_pairs``, which holds both directions of every pair. For the gripper this
  is gripper reversal (opening <-> closing).
* ``mirror``: both frames flipped horizontally, ``hflip(anchor) -> hflip(positive)``. The motion
  is conjugated by the mirror ``M = diag(-1, 1, 1)`` in camera axes (:func:`mirror_motion`):
  yaw, roll, rightward translation, an object's or end effector's lateral motion and the wrist's
  rotation change sign; pitch, forward and vertical motion and the gripper do not, so only
  attributes that flip get a mirrored negative.

Retrieval (R):

* ``retrieval``: among the episode's labelled pairs ``c -> n`` with the other value, the one
  whose end view ``n`` is most similar to the positive's end view (a hard negative: the same
  view reached by the opposite motion), excluding near-duplicates (cosine similarity above
  ``near_duplicate_max``). When ``c`` is the anchor itself the triplet shares its anchor.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import conform, contract, empty
from data_contracts.fields import MOTION
from remot_pipeline.core.arrow import to_polars
from remot_pipeline.core.labels import attributes as domain_attributes
from remot_pipeline.core.labels import label, signed_magnitudes
from remot_pipeline.core.ledger import StageResult

#: Attributes whose value a horizontal mirror reverses.
MIRRORED = {"yaw", "roll", "translation_lateral", "camera_yaw", "object_lateral", "ee_lateral", "wrist_rotation"}
MOTION_FIELDS = [f.name for f in MOTION]
_SIGN_X = np.array([-1.0, 1.0, 1.0])


def mirror_motion(pairs: pa.Table) -> pa.Table:
    """The motion of ``hflip(a) -> hflip(b)`` for every row of a ``motion_pairs``-like table.

    With the mirror ``M = diag(-1, 1, 1)`` on camera axes, ``T' = M T M``: a translation becomes
    ``M t``, a rotation vector ``det(M) M r = (r_x, -r_y, -r_z)``. So yaw and roll change sign,
    pitch does not; displacements in camera axes flip x; the wrist's rotation seen in the image
    changes sense; base-frame displacements and the gripper are unchanged.
    """
    cols = {name: pairs.column(name) for name in pairs.column_names}

    def vec(name, sign):
        col = cols[name].combine_chunks()
        if col.null_count == len(col):
            return col
        flat = pc.list_flatten(col).to_numpy(zero_copy_only=False).reshape(-1, 3) * sign
        valid = col.is_valid()
        out = np.full((len(col), 3), np.nan)
        out[valid.to_numpy(zero_copy_only=False)] = flat
        arr = pa.FixedSizeListArray.from_arrays(pa.array(out.ravel()), 3)
        return pc.if_else(valid, arr, pa.nulls(len(col), arr.type))

    def neg(name):
        return pc.negate(cols[name])

    cols.update({
        "cam_translation_a_m": vec("cam_translation_a_m", _SIGN_X),
        "cam_rotvec_a_rad": vec("cam_rotvec_a_rad", np.array([1.0, -1.0, -1.0])),
        "yaw_left_deg": neg("yaw_left_deg"),
        "roll_cw_deg": neg("roll_cw_deg"),
        "ee_disp_cam_m": vec("ee_disp_cam_m", _SIGN_X),
        "ee_wrist_rot_deg": neg("ee_wrist_rot_deg"),
        "object_disp_a_m": vec("object_disp_a_m", _SIGN_X),
    })
    return pa.table(cols)


def _motion_struct(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.select("pair_id", pl.struct(MOTION_FIELDS).alias("motion"))


def build_negatives(
    labelled: pa.Table, motion_pairs: pa.Table, features: pa.Table, episodes: pa.Table, domain: str,
    bands: dict | None = None, dominance_margin: float = 1.5, near_duplicate_max: float = 0.98,
) -> StageResult:
    """Negatives of every kind for every forward labelled pair of one domain."""
    lab = to_polars(labelled)
    if lab.height == 0:
        return StageResult(empty("negatives"), empty("quarantine"), 0, {})
    positives = lab.filter(pl.col("frame_index_b") > pl.col("frame_index_a")).select(
        "episode_id", "domain", "split", "attribute", "unit", "object_color",
        pl.col("pair_id").alias("positive_pair_id"),
        pl.col("frame_index_a").alias("anchor_frame_index"),
        pl.col("frame_index_b").alias("positive_frame_index"),
        pl.col("value").alias("positive_value"),
        pl.col("magnitude").alias("positive_magnitude"),
    )
    motion = _motion_struct(to_polars(motion_pairs.select(["pair_id", *MOTION_FIELDS])))
    positives = positives.join(motion.rename({"pair_id": "positive_pair_id", "motion": "positive_motion"}),
                               on="positive_pair_id", how="left")
    other = lab.select(
        "episode_id", "attribute",
        pl.col("frame_index_a").alias("negative_anchor_frame_index"),
        pl.col("frame_index_b").alias("negative_frame_index"),
        pl.col("value").alias("negative_value"),
        pl.col("magnitude").alias("negative_magnitude"),
        pl.col("pair_id").alias("negative_pair_id"),
    )
    with_motion = lambda df: df.join(  # noqa: E731
        motion.rename({"pair_id": "negative_pair_id", "motion": "negative_motion"}), on="negative_pair_id", how="left")

    reversal = positives.join(
        other, left_on=["episode_id", "attribute", "positive_frame_index", "anchor_frame_index"],
        right_on=["episode_id", "attribute", "negative_anchor_frame_index", "negative_frame_index"], how="inner",
    ).with_columns(
        pl.col("positive_frame_index").alias("negative_anchor_frame_index"),
        pl.col("anchor_frame_index").alias("negative_frame_index"),
    ).filter(pl.col("negative_value") != pl.col("positive_value"))
    reversal = with_motion(reversal).with_columns(
        pl.lit("temporal_reversal").alias("negative_kind"), pl.lit("none").alias("negative_transform"),
        pl.lit(None, pl.Float64).alias("negative_similarity"))

    mirror = _mirrored(positives, motion_pairs, domain, bands, dominance_margin)
    retrieval, resolved = _retrieved(positives, other, features, episodes, near_duplicate_max)
    retrieval = with_motion(retrieval)
    reversal = reversal.with_columns(pl.col("episode_id").alias("negative_episode_id"))
    mirror = mirror.with_columns(pl.col("episode_id").alias("negative_episode_id"))

    cols = list(contract("negatives").columns)
    out = pl.concat([reversal.select(cols), mirror.select(cols), retrieval.select(cols)]).sort(
        ["episode_id", "positive_pair_id", "negative_kind"])
    n_pos = positives.height
    n_flippable = positives.filter(pl.col("attribute").is_in(sorted(MIRRORED))).height
    filtered = {
        "reverse_pair_not_other_value": n_pos - reversal.height,
        "attribute_not_mirrored": n_pos - n_flippable,
        "mirror_not_other_value": n_flippable - mirror.height,
        "no_retrieval_candidate": n_pos - retrieval.height,
    }
    return StageResult(conform(out.to_arrow(), "negatives"), empty("quarantine"), 3 * n_pos, filtered,
                       notes={"retrieval_resolved_by_level": resolved})


def _mirrored(positives: pl.DataFrame, motion_pairs: pa.Table, domain: str, bands, margin) -> pl.DataFrame:
    """Mirror negatives: the positive pair's motion mirrored, relabelled by the labeller."""
    flippable = positives.filter(pl.col("attribute").is_in(sorted(MIRRORED)))
    if flippable.height == 0:
        return flippable.with_columns(
            pl.lit(None, pl.String).alias("negative_value"), pl.lit(None, pl.Float64).alias("negative_magnitude"),
            pl.lit(None, pl.String).alias("negative_pair_id"), pl.col("anchor_frame_index").alias("negative_anchor_frame_index"),
            pl.col("positive_frame_index").alias("negative_frame_index"), pl.lit("mirror").alias("negative_kind"),
            pl.lit("hflip").alias("negative_transform"), pl.lit(None, pl.Float64).alias("negative_similarity"),
            pl.col("positive_motion").alias("negative_motion"))
    ids = pa.array(flippable["positive_pair_id"].to_list(), pa.string())
    base = motion_pairs.take(pc.index_in(ids, motion_pairs.column("pair_id")))
    mirrored = mirror_motion(base)
    attrs = domain_attributes(domain, bands)
    mags = signed_magnitudes(mirrored, attrs)
    keep, which, _, _ = label(mags, attrs, margin)
    names = np.array([a.name for a in attrs], dtype=object)
    signed = mags[np.arange(len(which)), which]
    value = np.where(signed > 0, np.array([a.values[0] for a in attrs], dtype=object)[which],
                     np.array([a.values[1] for a in attrs], dtype=object)[which])
    mirrored_motion = to_polars(mirrored.select(MOTION_FIELDS)).select(pl.struct(MOTION_FIELDS).alias("negative_motion"))
    df = pl.concat([flippable, mirrored_motion], how="horizontal").with_columns(
        pl.Series("_keep", keep & (names[which] == np.asarray(flippable["attribute"].to_list(), dtype=object))),
        pl.Series("negative_value", value.tolist(), dtype=pl.String),
        pl.Series("negative_magnitude", signed.astype(np.float64)),
    )
    return df.filter(pl.col("_keep") & (pl.col("negative_value") != pl.col("positive_value"))).with_columns(
        (pl.col("positive_pair_id") + "|hflip").alias("negative_pair_id"),
        pl.col("anchor_frame_index").alias("negative_anchor_frame_index"),
        pl.col("positive_frame_index").alias("negative_frame_index"),
        pl.lit("mirror").alias("negative_kind"), pl.lit("hflip").alias("negative_transform"),
        pl.lit(None, pl.Float64).alias("negative_similarity"),
    ).drop("_keep")


#: Retrieval search spaces, narrowest first: a positive takes its negative from the first level
#: that has one. Every level stays inside the positive's split, so no test episode ever feeds a
#: train triplet (and the reverse).
SEARCH_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("episode", ("episode_id",)),
    ("scene", ("split", "scene_id")),
    ("domain", ("split",)),
)


def _retrieved(positives: pl.DataFrame, other: pl.DataFrame, features: pa.Table, episodes: pa.Table,
               near_duplicate_max: float) -> tuple[pl.DataFrame, dict[str, int]]:
    """Hard negatives: a pair ``c -> n`` with the other value whose end view ``n`` looks most like
    the positive's end view (cosine similarity of descriptors, below the near-duplicate bound):
    the same view reached by the opposite motion, so the image alone cannot tell them apart.

    Searched in the same episode, then the same scene, then the whole domain (:data:`SEARCH_LEVELS`),
    one grouped exact search per level (:func:`remot_pipeline.core.retrieval.grouped_top_k`): a
    group is (scope, attribute, value) and conflicts with the same scope and attribute's other
    value. Returns the matches and how many positives each level resolved.
    """
    from remot_pipeline.core.retrieval import grouped_top_k

    feat = to_polars(features.select(["episode_id", "frame_index"])).with_row_index("row")
    desc = np.asarray(features.column("descriptor").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    desc = desc.reshape(features.num_rows, -1) if features.num_rows else desc.reshape(0, 1)
    eps = to_polars(episodes.select(["episode_id", "scene_id", "split"]))
    queries = positives.join(feat.rename({"frame_index": "positive_frame_index"}), on=["episode_id", "positive_frame_index"],
                             how="inner").join(eps.drop("split"), on="episode_id", how="left")
    base = (other.join(feat.rename({"frame_index": "negative_frame_index"}), on=["episode_id", "negative_frame_index"], how="inner")
            .join(eps, on="episode_id", how="left"))
    found_parts, resolved = [], {}
    pending = queries
    for level, scope in SEARCH_LEVELS:
        if pending.height == 0 or base.height == 0:
            resolved[level] = 0
            continue
        matched, pending = _search_level(pending, base, desc, list(scope), near_duplicate_max, grouped_top_k)
        resolved[level] = matched.height
        found_parts.append(matched)
    if not found_parts:
        empty_ = positives.head(0).with_columns(
            pl.lit(None, pl.String).alias("negative_episode_id"),
            pl.lit(None, pl.Int64).alias("negative_anchor_frame_index"), pl.lit(None, pl.Int64).alias("negative_frame_index"),
            pl.lit(None, pl.String).alias("negative_value"), pl.lit(None, pl.Float64).alias("negative_magnitude"),
            pl.lit(None, pl.String).alias("negative_pair_id"), pl.lit(None, pl.Float64).alias("negative_similarity"))
        found_parts = [empty_]
    out = pl.concat(found_parts, how="diagonal_relaxed").with_columns(
        pl.lit("retrieval").alias("negative_kind"), pl.lit("none").alias("negative_transform"))
    return out, resolved


def _search_level(queries: pl.DataFrame, base: pl.DataFrame, desc: np.ndarray, scope: list[str],
                  near_duplicate_max: float, grouped_top_k) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One grouped search within ``scope``; returns (matched rows, queries still without a match)."""
    q_key = queries.select(*scope, "attribute", pl.col("positive_value").alias("value"))
    b_key = base.select(*scope, "attribute", pl.col("negative_value").alias("value"))
    keys = pl.concat([q_key, b_key]).unique(maintain_order=True).with_row_index("group")
    q_group = q_key.join(keys, on=[*scope, "attribute", "value"], how="left", maintain_order="left")["group"].to_numpy()
    b_group = b_key.join(keys, on=[*scope, "attribute", "value"], how="left", maintain_order="left")["group"].to_numpy()
    by_scope: dict[tuple, list[int]] = {}
    rows = keys.select("group", *scope, "attribute").iter_rows()
    for g, *rest in rows:
        by_scope.setdefault(tuple(rest), []).append(int(g))
    conflicts = {g: [h for h in members if h != g] for members in by_scope.values() for g in members}
    idx, sim = grouped_top_k(desc[queries["row"].to_numpy()], q_group.astype(np.int64), desc[base["row"].to_numpy()],
                             b_group.astype(np.int64), conflicts, k=1, max_similarity=near_duplicate_max)
    found = idx[:, 0] >= 0
    chosen = base.select(
        pl.col("episode_id").alias("negative_episode_id"), "negative_anchor_frame_index", "negative_frame_index",
        "negative_value", "negative_magnitude", "negative_pair_id")[idx[found, 0].tolist()]
    matched = pl.concat([queries.filter(pl.Series(found)).drop("row", "scene_id"), chosen], how="horizontal").with_columns(
        pl.Series("negative_similarity", sim[found, 0].astype(np.float64)))
    return matched, queries.filter(~pl.Series(found))


def retrieval_vs_random(negatives: pa.Table, features: pa.Table, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Similarities to the positive of (retrieved negatives, one random frame of the same episode each).

    The baseline a retrieved negative must beat: a frame drawn uniformly from the episode.
    """
    neg = negatives.filter(pc.equal(negatives.column("negative_kind"), "retrieval"))
    if neg.num_rows == 0 or features.num_rows == 0:
        return np.zeros(0), np.zeros(0)
    feat = to_polars(features.select(["episode_id", "frame_index"])).with_row_index("row")
    desc = np.asarray(features.column("descriptor").combine_chunks().flatten().to_numpy(), dtype=np.float32).reshape(features.num_rows, -1)
    pos = to_polars(neg.select(["episode_id", "positive_frame_index", "negative_similarity"])).join(
        feat.rename({"frame_index": "positive_frame_index"}), on=["episode_id", "positive_frame_index"], how="inner")
    rng = np.random.default_rng(seed)
    rows_by_episode = {e: g["row"].to_numpy() for (e,), g in feat.group_by("episode_id")}
    random_rows = np.array([rng.choice(rows_by_episode[e]) for e in pos["episode_id"].to_list()])
    random_sim = np.einsum("nd,nd->n", desc[pos["row"].to_numpy()], desc[random_rows])
    return pos["negative_similarity"].to_numpy(), random_sim.astype(np.float64)
