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
from remot_pipeline.core.features import view_change
from remot_pipeline.core.labels import attributes as domain_attributes
from remot_pipeline.core.labels import label, signed_magnitudes
from remot_pipeline.core.ledger import StageResult

#: Attributes whose value a horizontal mirror reverses.
MIRRORED = {"yaw", "roll", "translation_lateral", "camera_yaw", "camera_lateral", "object_lateral", "ee_lateral",
            "wrist_rotation", "object_rotation"}
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
        "ee_roll_image_cw_deg": neg("ee_roll_image_cw_deg"),
        "object_disp_a_m": vec("object_disp_a_m", _SIGN_X),
        # a spin about the vertical reverses its sense in a mirror (exact for a camera without roll)
        **({"object_yaw_ccw_deg": neg("object_yaw_ccw_deg")} if "object_yaw_ccw_deg" in cols else {}),
    })
    return pa.table(cols)


def _motion_struct(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.select("pair_id", pl.struct(MOTION_FIELDS).alias("motion"))


def _positives(lab: pl.DataFrame) -> pl.DataFrame:
    """The forward labelled pairs, as the positives of triplets."""
    return lab.filter(pl.col("frame_index_b") > pl.col("frame_index_a")).select(
        "episode_id", "domain", "split", "attribute", "unit", "object_color",
        pl.col("pair_id").alias("positive_pair_id"),
        pl.col("frame_index_a").alias("anchor_frame_index"),
        pl.col("frame_index_b").alias("positive_frame_index"),
        pl.col("value").alias("positive_value"),
        pl.col("magnitude").alias("positive_magnitude"),
    )


def _others(lab: pl.DataFrame) -> pl.DataFrame:
    """Every labelled pair (both directions), as a candidate negative."""
    return lab.select(
        "episode_id", "attribute", "object_color",
        pl.col("frame_index_a").alias("negative_anchor_frame_index"),
        pl.col("frame_index_b").alias("negative_frame_index"),
        pl.col("value").alias("negative_value"),
        pl.col("magnitude").alias("negative_magnitude"),
        pl.col("pair_id").alias("negative_pair_id"),
    )


#: The order of the negatives' rows (a total one: a pair may carry several attributes and subjects).
ORDER = ["episode_id", "positive_pair_id", "negative_kind", "attribute", "object_color", "negative_pair_id"]
#: The columns of ``labelled_pairs`` that negatives read (what a cross-episode search holds per pair).
LABEL_COLUMNS = ["episode_id", "domain", "split", "attribute", "unit", "object_color", "pair_id",
                 "frame_index_a", "frame_index_b", "value", "magnitude"]
#: Retrieval levels inside one episode: a shard computes them alone (:func:`build_negatives` with
#: ``levels=EPISODE_LEVELS``); the rest search across episodes (:func:`cross_episode_negatives`).
EPISODE_LEVELS = ("anchor", "episode")


def build_negatives(
    labelled: pa.Table, motion_pairs: pa.Table, features: pa.Table, episodes: pa.Table, domain: str,
    bands: dict | None = None, dominance_margin: float = 1.5, near_duplicate_max: float = 0.98,
    levels: tuple[str, ...] | None = None,
) -> StageResult:
    """Negatives of every kind for every forward labelled pair of ``labelled``.

    ``levels``: the retrieval levels searched (names of :data:`SEARCH_LEVELS`, default all of
    them). With only :data:`EPISODE_LEVELS`, everything here reads only the episodes given (a
    source shard computes its own), and a positive without a retrieval match is not filtered
    but *deferred*: it is left out of the ledger's rows in and counted in
    ``notes["retrieval_deferred"]``, for :func:`cross_episode_negatives` to search the scene and
    the domain (rows in = out + filtered still holds over the two)."""
    lab = to_polars(labelled)
    if lab.height == 0:
        return StageResult(empty("negatives"), empty("quarantine"), 0, {},
                           notes={"retrieval_resolved_by_level": {}, "retrieval_deferred": 0})
    positives = _positives(lab)
    motion = _motion_struct(to_polars(motion_pairs.select(["pair_id", *MOTION_FIELDS])))
    positives = positives.join(motion.rename({"pair_id": "positive_pair_id", "motion": "positive_motion"}),
                               on="positive_pair_id", how="left")
    other = _others(lab)
    reversal = positives.join(
        other, left_on=["episode_id", "attribute", "positive_frame_index", "anchor_frame_index"],
        right_on=["episode_id", "attribute", "negative_anchor_frame_index", "negative_frame_index"], how="inner",
    ).with_columns(
        pl.col("positive_frame_index").alias("negative_anchor_frame_index"),
        pl.col("anchor_frame_index").alias("negative_frame_index"),
    ).filter(pl.col("negative_value") != pl.col("positive_value"))
    reversal = _with_negative_motion(reversal, motion).with_columns(
        pl.lit("temporal_reversal").alias("negative_kind"), pl.lit("none").alias("negative_transform"),
        pl.lit(None, pl.Float64).alias("negative_similarity"))

    mirror = _mirrored(positives, motion_pairs, domain, bands, dominance_margin)
    chosen = [lv for lv in SEARCH_LEVELS if levels is None or lv[0] in levels]
    retrieval, resolved = _retrieved(positives, other, features, episodes, near_duplicate_max, chosen)
    retrieval = _with_negative_motion(retrieval, motion)
    reversal = reversal.with_columns(pl.col("episode_id").alias("negative_episode_id"))
    mirror = mirror.with_columns(pl.col("episode_id").alias("negative_episode_id"))

    cols = list(contract("negatives").columns)
    out = pl.concat([reversal.select(cols), mirror.select(cols), retrieval.select(cols)]).sort(ORDER, nulls_last=True)
    n_pos = positives.height
    n_flippable = positives.filter(pl.col("attribute").is_in(sorted(MIRRORED))).height
    deferred = 0 if levels is None or not set(LEVEL_NAMES) - set(levels) else n_pos - retrieval.height
    filtered = {
        "reverse_pair_not_other_value": n_pos - reversal.height,
        "attribute_not_mirrored": n_pos - n_flippable,
        "mirror_not_other_value": n_flippable - mirror.height,
        "no_retrieval_candidate": n_pos - retrieval.height - deferred,
    }
    return StageResult(conform(out.to_arrow(), "negatives"), empty("quarantine"), 3 * n_pos - deferred, filtered,
                       notes={"retrieval_resolved_by_level": resolved, "retrieval_deferred": deferred})


def _with_negative_motion(df: pl.DataFrame, motion: pl.DataFrame) -> pl.DataFrame:
    return df.join(motion.rename({"pair_id": "negative_pair_id", "motion": "negative_motion"}),
                   on="negative_pair_id", how="left")


def deferred_positives(labelled: pa.Table, negatives: pa.Table) -> pa.Table:
    """The forward pairs of ``labelled`` (one shard's) without a retrieval negative in
    ``negatives`` (that shard's): the positives :func:`cross_episode_negatives` searches."""
    lab = to_polars(labelled.select(LABEL_COLUMNS))
    found = to_polars(negatives.select(["positive_pair_id", "attribute", "object_color", "negative_kind"])).filter(
        pl.col("negative_kind") == "retrieval").select(pl.col("positive_pair_id").alias("pair_id"), "attribute",
                                                       "object_color")
    pending = lab.filter(pl.col("frame_index_b") > pl.col("frame_index_a")).join(
        found, on=["pair_id", "attribute", "object_color"], how="anti", nulls_equal=True, maintain_order="left")
    return pending.to_arrow()


def cross_episode_negatives(pending: pa.Table, labelled: pa.Table, features: pa.Table, episodes: pa.Table,
                            near_duplicate_max: float = 0.98) -> tuple[pl.DataFrame, dict]:
    """Retrieval for the positives a shard deferred (``pending``: rows of ``labelled_pairs``),
    across episodes: in the same scene, then the whole domain (the levels of
    :data:`SEARCH_LEVELS` after :data:`EPISODE_LEVELS`), among the domain's labelled pairs
    (``labelled``: at least :data:`LABEL_COLUMNS`, every shard's) with keyframe descriptors
    (``features``, no images). Returns the matches without motion (join it with
    :func:`finish_cross_episode`) and how many positives each level resolved."""
    if pending.num_rows == 0:
        return pl.DataFrame(), {name: 0 for name in LEVEL_NAMES if name not in EPISODE_LEVELS}
    positives = _positives(to_polars(pending.select(LABEL_COLUMNS)))
    other = _others(to_polars(labelled.select(LABEL_COLUMNS)))
    levels = [lv for lv in SEARCH_LEVELS if lv[0] not in EPISODE_LEVELS]
    return _retrieved(positives, other, features, episodes, near_duplicate_max, levels)


def finish_cross_episode(matches: pl.DataFrame, n_pending: int, motion_pairs: pa.Table, resolved: dict) -> StageResult:
    """:func:`cross_episode_negatives`' matches with both pairs' motion (``motion_pairs``: at
    least the rows of their pair ids), as the negatives stage's rows; the ledger counts the
    deferred positives in, the matches out, the rest as ``no_retrieval_candidate``."""
    notes = {"retrieval_resolved_by_level": resolved}
    if matches.height == 0:
        return StageResult(empty("negatives"), empty("quarantine"), n_pending,
                           {"no_retrieval_candidate": n_pending}, notes=notes)
    motion = _motion_struct(to_polars(motion_pairs.select(["pair_id", *MOTION_FIELDS])))
    out = _with_negative_motion(matches.join(
        motion.rename({"pair_id": "positive_pair_id", "motion": "positive_motion"}), on="positive_pair_id", how="left"),
        motion)
    cols = list(contract("negatives").columns)
    out = out.select(cols).sort(ORDER, nulls_last=True)
    return StageResult(conform(out.to_arrow(), "negatives"), empty("quarantine"), n_pending,
                       {"no_retrieval_candidate": n_pending - out.height}, notes=notes)


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
#: train triplet (and the reverse). ``anchor`` (pairs that start at the positive's own anchor, so
#: the question can show the anchor and two candidates) is tried first by half of the positives,
#: drawn by seed, so both multiple-choice forms occur.
SEARCH_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("anchor", ("episode_id", "_start")),
    ("episode", ("episode_id",)),
    ("scene", ("split", "scene_id")),
    ("domain", ("split",)),
)
LEVEL_NAMES = tuple(name for name, _ in SEARCH_LEVELS)
#: Candidates ranked per positive; among them the most similar one whose motion is larger (or
#: smaller, by a seeded bit) than the positive's is taken, so "the pair that changes more" is not
#: an answer.
RETRIEVAL_CANDIDATES = 8


def _seed_bit(*parts: object) -> int:
    from remot_pipeline.core.triplets import stable_key

    return int(stable_key(*parts)[:8], 16) & 1


def _retrieved(positives: pl.DataFrame, other: pl.DataFrame, features: pa.Table, episodes: pa.Table,
               near_duplicate_max: float, levels=SEARCH_LEVELS, k: int = RETRIEVAL_CANDIDATES
               ) -> tuple[pl.DataFrame, dict[str, int]]:
    """Hard negatives: a pair ``c -> n`` with the other value whose end view ``n`` looks most like
    the positive's end view (cosine similarity of descriptors, below the near-duplicate bound):
    the same view reached by the opposite motion, so the image alone cannot tell them apart.

    **The same subject**: for an object's motion the negative pair's labelled motion is that of an
    object with the same colour (the question names it), so "the red object moved left" is about
    the red object in every pair it shows. Camera and gripper attributes have one subject.

    Searched at the positive's anchor (for half of the positives), then in the same episode,
    the same scene, the whole domain (:data:`SEARCH_LEVELS`), one grouped exact search per
    level (:func:`remot_pipeline.core.retrieval.grouped_top_k`): a group is (scope, attribute,
    subject, value) and conflicts with the same scope, attribute and subject's other value.
    Among the ``k`` most similar candidates the first whose magnitude is larger than the
    positive's (or smaller: a seeded bit per positive) is taken, else the most similar. Returns
    the matches and how many positives each level resolved. ``levels``: the levels searched
    (a subset of :data:`SEARCH_LEVELS`, in its order). Candidates keep the order of ``other``
    (ties go to the earlier one), so pairs concatenated shard by shard, in shard order, rank as
    in one domain-wide table (within an episode the order is the episode's own).
    """
    from remot_pipeline.core.retrieval import grouped_top_k

    feat = to_polars(features.select(["episode_id", "frame_index"])).with_row_index("row")
    desc = np.asarray(features.column("descriptor").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    desc = desc.reshape(features.num_rows, -1) if features.num_rows else desc.reshape(0, 1)
    eps = to_polars(episodes.select(["episode_id", "scene_id", "split"]))
    subject = lambda df: (pl.col("object_color").fill_null("") if "object_color" in df.columns  # noqa: E731
                          else pl.lit("")).alias("_subject")
    positives = positives.with_columns(subject(positives), pl.col("anchor_frame_index").alias("_start"))
    other = other.with_columns(subject(other), pl.col("negative_anchor_frame_index").alias("_start"))
    queries = positives.join(feat.rename({"frame_index": "positive_frame_index"}), on=["episode_id", "positive_frame_index"],
                             how="inner", maintain_order="left").join(eps.drop("split"), on="episode_id", how="left",
                                                                      maintain_order="left")
    ids = queries["positive_pair_id"].to_list() if "positive_pair_id" in queries.columns else list(range(queries.height))
    queries = queries.with_row_index("_qid").with_columns(pl.Series("_want_larger", [_seed_bit(i, "larger") for i in ids], dtype=pl.Int8),
                                   pl.Series("_anchor_form", [_seed_bit(i, "anchor-form") for i in ids], dtype=pl.Int8))
    base = (other.join(feat.rename({"frame_index": "negative_frame_index"}), on=["episode_id", "negative_frame_index"],
                       how="inner", maintain_order="left")
            .join(eps, on="episode_id", how="left", maintain_order="left"))
    # How much each pair's view changes (a proxy of the global pixel change), balanced against the answer below.
    # (0 where a frame has no descriptor: it cannot be said to change more).
    change = lambda df, a, b: np.nan_to_num(view_change(df, features, a, b), nan=0.0)  # noqa: E731
    queries = queries.with_columns(pl.Series("_change", change(queries, "anchor_frame_index", "positive_frame_index")))
    base = base.with_columns(pl.Series("_change", change(base, "negative_anchor_frame_index", "negative_frame_index")))
    found_parts, resolved = [], {}
    pending = queries
    for level, scope in levels:
        searched = pending.filter(pl.col("_anchor_form") == 1) if level == "anchor" else pending
        if searched.height == 0 or base.height == 0:
            resolved[level] = 0
            continue
        # first among the pairs whose motion is strictly larger (or smaller: the seeded bit) than
        # the positive's, then, for the rest, among all (preferring the wanted side)
        strict, rest = _search_level(searched, base, desc, list(scope), near_duplicate_max, grouped_top_k, 1, strict=True)
        relaxed, _ = _search_level(rest, base, desc, list(scope), near_duplicate_max, grouped_top_k, k) \
            if rest.height else (strict.head(0), rest)
        matched = pl.concat([strict, relaxed], how="diagonal_relaxed")
        resolved[level] = matched.height
        found_parts.append(matched)
        done = set(matched["_qid"].to_list()) if matched.height else set()
        pending = pending.filter(~pl.col("_qid").is_in(sorted(done))) if done else pending
    drop = ["_subject", "_start", "_want_larger", "_anchor_form", "_qid", "object_color_right", "_change"]
    if not found_parts:
        empty_ = positives.head(0).with_columns(
            pl.lit(None, pl.String).alias("negative_episode_id"),
            pl.lit(None, pl.Int64).alias("negative_anchor_frame_index"), pl.lit(None, pl.Int64).alias("negative_frame_index"),
            pl.lit(None, pl.String).alias("negative_value"), pl.lit(None, pl.Float64).alias("negative_magnitude"),
            pl.lit(None, pl.String).alias("negative_pair_id"), pl.lit(None, pl.Float64).alias("negative_similarity"))
        found_parts = [empty_]
    out = pl.concat(found_parts, how="diagonal_relaxed").with_columns(
        pl.lit("retrieval").alias("negative_kind"), pl.lit("none").alias("negative_transform"))
    return out.drop([c for c in drop if c in out.columns]), resolved


#: Magnitude buckets per factor of two (a bucket spans a ratio of 2 ** (1/4) = 1.19).
_BUCKETS_PER_OCTAVE = 4


def _bucket(magnitude: pl.Expr) -> pl.Expr:
    return (magnitude.abs() + 1e-12).log(2).mul(_BUCKETS_PER_OCTAVE).floor().cast(pl.Int64)


def _search_level(queries: pl.DataFrame, base: pl.DataFrame, desc: np.ndarray, scope: list[str],
                  near_duplicate_max: float, grouped_top_k, k: int = RETRIEVAL_CANDIDATES, strict: bool = False
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One grouped search within ``scope``; returns (matched rows, queries still without a match).

    ``strict``: a query may only match pairs whose magnitude and view change (``_change``) both lie
    in strictly larger buckets than its own (or both strictly smaller, by its ``_want_larger``
    bit), so the match's motion is larger (or smaller) for sure; the most similar such pair is
    taken."""
    if "_qid" not in queries.columns:
        queries = queries.with_row_index("_qid")
    key = [*scope, "attribute", "_subject"]
    strict = strict and "positive_magnitude" in queries.columns and "_want_larger" in queries.columns
    if strict:
        q_key = queries.select(*key, pl.col("positive_value").alias("value"),
                               _bucket(pl.col("positive_magnitude")).alias("_b"), _bucket(pl.col("_change")).alias("_c"),
                               pl.col("_want_larger").alias("_w"))
        b_key = base.select(*key, pl.col("negative_value").alias("value"), _bucket(pl.col("negative_magnitude")).alias("_b"),
                            _bucket(pl.col("_change")).alias("_c"))
        q_keys = q_key.unique(maintain_order=True).with_row_index("group")
        b_keys = b_key.unique(maintain_order=True).with_row_index("group")
        q_group = q_key.join(q_keys, on=q_key.columns, how="left", maintain_order="left")["group"].to_numpy()
        b_group = b_key.join(b_keys, on=b_key.columns, how="left", maintain_order="left")["group"].to_numpy()
        by_scope: dict[tuple, list[tuple[int, str, int, int]]] = {}
        for g, *rest, value, bucket, chg in b_keys.select("group", *key, "value", "_b", "_c").iter_rows():
            by_scope.setdefault(tuple(rest), []).append((int(g), value, bucket, chg))
        conflicts = {}
        for g, *rest, value, bucket, chg, want in q_keys.select("group", *key, "value", "_b", "_c", "_w").iter_rows():
            conflicts[int(g)] = [h for h, v, b, c in by_scope.get(tuple(rest), [])
                                 if v != value and ((b > bucket and c > chg) if want else (b < bucket and c < chg))]
    else:
        q_key = queries.select(*key, pl.col("positive_value").alias("value"))
        b_key = base.select(*key, pl.col("negative_value").alias("value"))
        keys = pl.concat([q_key, b_key]).unique(maintain_order=True).with_row_index("group")
        q_group = q_key.join(keys, on=[*key, "value"], how="left", maintain_order="left")["group"].to_numpy()
        b_group = b_key.join(keys, on=[*key, "value"], how="left", maintain_order="left")["group"].to_numpy()
        members_of: dict[tuple, list[int]] = {}
        for g, *rest in keys.select("group", *key).iter_rows():
            members_of.setdefault(tuple(rest), []).append(int(g))
        conflicts = {g: [h for h in members if h != g] for members in members_of.values() for g in members}
    idx, sim = grouped_top_k(desc[queries["row"].to_numpy()], q_group.astype(np.int64), desc[base["row"].to_numpy()],
                             b_group.astype(np.int64), conflicts, k=k, max_similarity=near_duplicate_max)
    valid = idx >= 0
    found = valid[:, 0]
    # Prefer, among the k candidates, the first whose view changes more (or less: the seeded bit) than
    # the positive's and whose magnitude is larger (or smaller); then one that agrees on the view
    # change alone; else the most similar.
    cand = np.where(valid, idx, 0)
    want = queries["_want_larger"].to_numpy().astype(bool)[:, None] if "_want_larger" in queries.columns \
        else np.ones((queries.height, 1), bool)
    more_change = base["_change"].to_numpy()[cand] > queries["_change"].to_numpy()[:, None] \
        if "_change" in queries.columns else np.zeros(idx.shape, bool)
    ok_change = valid & (more_change == want)
    ok = ok_change
    if "positive_magnitude" in queries.columns:
        neg_mag = np.abs(base["negative_magnitude"].to_numpy().astype(np.float64))
        larger = neg_mag[cand] > np.abs(queries["positive_magnitude"].to_numpy().astype(np.float64))[:, None]
        ok = ok_change & (larger == want)
    pick = np.where(ok.any(axis=1), ok.argmax(axis=1), np.where(ok_change.any(axis=1), ok_change.argmax(axis=1), 0))
    rows = np.arange(queries.height)
    chosen_idx, chosen_sim = idx[rows, pick], sim[rows, pick]
    chosen = base.select(
        pl.col("episode_id").alias("negative_episode_id"), "negative_anchor_frame_index", "negative_frame_index",
        "negative_value", "negative_magnitude", "negative_pair_id")[chosen_idx[found].tolist()]
    matched = pl.concat([queries.filter(pl.Series(found)).drop("row", "scene_id"), chosen], how="horizontal").with_columns(
        pl.Series("negative_similarity", chosen_sim[found].astype(np.float64)))
    return matched, queries.filter(~pl.Series(found))


def retrieval_vs_random(negatives: pa.Table, features: pa.Table, seed: int = 0,
                        block: int = 16384) -> tuple[np.ndarray, np.ndarray]:
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
    random_rows = np.array([rng.choice(rows_by_episode[e]) for e in pos["episode_id"].to_list()], np.int64)
    rows = pos["row"].to_numpy()
    random_sim = np.empty(len(rows), np.float64)
    for s in range(0, len(rows), block):  # gathered descriptors a block at a time: memory flat in n
        random_sim[s:s + block] = np.einsum("nd,nd->n", desc[rows[s:s + block]], desc[random_rows[s:s + block]])
    return pos["negative_similarity"].to_numpy(), random_sim
