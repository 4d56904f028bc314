"""The triplet expert's phi: attribute-specific magnitude bands and a dominance margin.

Every domain declares its attributes as signed magnitudes computed from ``motion_pairs``
columns. A pair is labelled with attribute X when

1. X has the largest *normalised* magnitude ``|m| / band_min`` among all of the domain's
   attributes (competitors declared ``labelled=False``, which are never labels themselves,
   take part here too),
2. ``band_min <= |m_X| <= band_max``, and
3. ``norm_X >= dominance_margin * norm_second`` (a 12 deg yaw with a 9 deg pitch is not "yaw").

The value is the attribute's first value name when the signed magnitude is positive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import conform, empty
from remot_pipeline.core.ledger import StageResult


#: Magnitude bands per family of attribute, ``(min, max)`` in the family's unit. Rotation is
#: ReMoT's [10, 50] deg. The dominance margin compares magnitudes divided by their band minimum,
#: so the minima must be visually comparable: a 0.5 m sideways step seen at about 3 m shifts
#: the view by about 10 deg, like the rotation minimum (with 0.3 m, a 0.4 m step with a 9 deg
#: counter-turn was labelled "moved right" while the image mostly showed the turn: the flow check
#: caught it). So the camera band is 0.5-3 m, and for the same reason an object's own motion must
#: be at least 0.35 m (0.2 m let small slides under a camera pan through, where the pan dominates
#: the image). An end effector moves 5-50 cm in a pick-and-place. The gripper minimum is what the
#: image can show: a manipulation camera sees the fingers from about 0.6 m, where fx ~ 200 px puts
#: 1 cm at ~3.5 px, so a 2 cm change (~7 px, the width of one finger) is lost in the blur and
#: JPEG of a 256 px frame, while 4 cm (~14 px, half of a typical 8-11 cm stroke) clearly opens or
#: closes the gap between the fingers. (The same 10 deg rotation minimum applies to an object's
#: own turn and to the gripper's in-image rotation.)
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "rotation_deg": (10.0, 50.0),
    "camera_translation_m": (0.5, 3.0),
    "ee_translation_m": (0.05, 0.5),
    "gripper_m": (0.04, 0.2),
    "object_translation_m": (0.35, 3.0),
}


@dataclass(frozen=True)
class Attribute:
    name: str
    column: str  # motion_pairs column
    component: int | None  # index into a VEC3 column, None for a scalar
    sign: float  # multiplies the component so that positive means values[0]
    values: tuple[str, str]
    family: str  # key of the bands table
    labelled: bool = True
    band_min: float = 0.0
    band_max: float = 0.0

    @property
    def unit(self) -> str:
        return self.family.rsplit("_", 1)[-1]


_SPECS: dict[str, tuple[Attribute, ...]] = {
    "navigation": (
        Attribute("yaw", "yaw_left_deg", None, 1.0, ("left", "right"), "rotation_deg"),
        Attribute("pitch", "pitch_up_deg", None, 1.0, ("up", "down"), "rotation_deg"),
        Attribute("roll", "roll_cw_deg", None, 1.0, ("clockwise", "counterclockwise"), "rotation_deg"),
        Attribute("translation_forward", "cam_translation_a_m", 2, 1.0, ("forward", "backward"), "camera_translation_m"),
        Attribute("translation_lateral", "cam_translation_a_m", 0, 1.0, ("right", "left"), "camera_translation_m"),
        Attribute("translation_vertical", "cam_translation_a_m", 1, -1.0, ("up", "down"), "camera_translation_m"),
    ),
    "manipulation": (
        Attribute("ee_lateral", "ee_disp_cam_m", 0, 1.0, ("right", "left"), "ee_translation_m"),
        Attribute("ee_vertical", "ee_disp_base_m", 2, 1.0, ("up", "down"), "ee_translation_m"),
        Attribute("ee_depth", "ee_disp_cam_m", 2, 1.0, ("away", "toward"), "ee_translation_m"),
        Attribute("gripper", "gripper_delta_m", None, 1.0, ("opening", "closing"), "gripper_m"),
        # In-image rotation of the gripper about the fixed camera's optical axis (what the camera sees).
        Attribute("wrist_rotation", "ee_roll_image_cw_deg", None, 1.0, ("clockwise", "counterclockwise"), "rotation_deg"),
    ),
    "simulation": (
        Attribute("camera_yaw", "yaw_left_deg", None, 1.0, ("left", "right"), "rotation_deg"),
        Attribute("camera_pitch", "pitch_up_deg", None, 1.0, ("up", "down"), "rotation_deg"),
        Attribute("camera_forward", "cam_translation_a_m", 2, 1.0, ("forward", "backward"), "camera_translation_m"),
        Attribute("camera_lateral", "cam_translation_a_m", 0, 1.0, ("right", "left"), "camera_translation_m"),
        Attribute("object_lateral", "object_disp_a_m", 0, 1.0, ("right", "left"), "object_translation_m"),
        Attribute("object_depth", "object_disp_a_m", 2, 1.0, ("away", "toward"), "object_translation_m"),
        # The moving object's own turn about the world vertical, seen from above (camera motion removed).
        Attribute("object_rotation", "object_yaw_ccw_deg", None, 1.0, ("counterclockwise", "clockwise"), "rotation_deg"),
    ),
}


def attributes(domain: str, bands: dict[str, tuple[float, float]] | None = None) -> tuple[Attribute, ...]:
    """The domain's attributes with their bands filled in (defaults overridden by ``bands``)."""
    table = {**DEFAULT_BANDS, **(bands or {})}
    for family, (lo, hi) in table.items():
        if not 0 < lo < hi:
            raise ValueError(f"band {family!r} must satisfy 0 < min < max, got ({lo}, {hi})")
    return tuple(replace(a, band_min=table[a.family][0], band_max=table[a.family][1]) for a in _SPECS[domain])


ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {d: attributes(d) for d in _SPECS}


def signed_magnitudes(pairs: pa.Table, attributes: tuple[Attribute, ...]) -> np.ndarray:
    """``(N, A)`` signed magnitudes; NaN where a signal is absent (null column)."""
    n = pairs.num_rows
    out = np.full((n, len(attributes)), np.nan)
    for j, attr in enumerate(attributes):
        col = pairs.column(attr.column).combine_chunks()
        if attr.component is None:
            vals = col.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            valid = col.is_valid().to_numpy(zero_copy_only=False)
            vals = np.full(n, np.nan)
            if valid.any():
                flat = pc.list_flatten(col.filter(pa.array(valid))).to_numpy(zero_copy_only=False).reshape(-1, 3)
                vals[valid] = flat[:, attr.component]
        out[:, j] = attr.sign * vals
    return out


def label(
    magnitudes: np.ndarray, attributes: tuple[Attribute, ...], dominance_margin: float, block: int = 32768
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Vectorised labelling of ``(N, A)`` signed magnitudes (or a list of A columns of length N).

    Returns ``(keep (N,), attribute index (N,), dominance ratio (N,), filtered counts per rule)``.
    Rows are processed in cache-sized blocks; each block is one pass over the attribute columns.

    >>> attrs = ATTRIBUTES["navigation"][:2]  # yaw, pitch
    >>> keep, which, ratio, f = label(np.array([[12.0, 9.0], [30.0, 2.0], [-60.0, 0.0], [3.0, 1.0]]), attrs, 1.5)
    >>> keep.tolist(), which.tolist(), f
    ([False, True, False, False], [0, 0, 0, 0], {'no_signal': 0, 'not_dominant': 1, 'below_band': 1, 'above_band': 1, 'unlabelled_attribute': 0})
    """
    columns = [np.asarray(c, dtype=np.float64) for c in (magnitudes.T if isinstance(magnitudes, np.ndarray) else magnitudes)]
    n = columns[0].shape[0] if columns else 0
    inv_lo = np.array([1.0 / a.band_min for a in attributes])
    lo = np.array([a.band_min for a in attributes])
    hi = np.array([a.band_max for a in attributes])
    labelled = np.array([a.labelled for a in attributes])
    keep = np.empty(n, dtype=bool)
    best = np.empty(n, dtype=np.int64)
    ratio = np.empty(n)
    counts = np.zeros(5, dtype=np.int64)
    for s in range(0, n, block):
        e = min(n, s + block)
        k, b, r, c = _label_block([col[s:e] for col in columns], inv_lo, lo, hi, labelled, dominance_margin)
        keep[s:e], best[s:e], ratio[s:e] = k, b, r
        counts += c
    names = ("no_signal", "not_dominant", "below_band", "above_band", "unlabelled_attribute")
    return keep, best, ratio, dict(zip(names, map(int, counts)))


def _label_block(columns, inv_lo, lo, hi, labelled, margin):
    n = columns[0].shape[0]
    top = np.full(n, -np.inf)
    second = np.full(n, -np.inf)
    best = np.zeros(n, dtype=np.int64)
    for j, col in enumerate(columns):  # one pass keeps the two largest normalised magnitudes
        norm = np.abs(col * inv_lo[j])
        best = np.where(norm > top, j, best)
        # NaN (an absent signal): minimum propagates it and fmax then ignores it.
        second = np.fmax(second, np.minimum(top, norm))
        top = np.fmax(top, norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(second > 0, top / second, np.inf)
    no_signal = top == -np.inf
    below = ~no_signal & (top < 1.0)  # |m| < band_min, since top = |m| / band_min
    above = ~below & (top > (hi / lo)[best])
    not_dominant = ~below & ~above & (ratio < margin)
    unlabelled = ~no_signal & ~below & ~above & ~not_dominant & ~labelled[best]
    keep = ~(no_signal | below | above | not_dominant | unlabelled)
    counts = np.array([no_signal.sum(), (not_dominant & ~no_signal).sum(), below.sum(), above.sum(), unlabelled.sum()])
    return keep, best, ratio, counts


#: Domains whose camera can stand still or move (the ``camera_motion`` attribute).
STILLNESS_DOMAINS = ("navigation",)


def stillness(magnitudes: np.ndarray, attributes: tuple[Attribute, ...], still_fraction: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(stationary (N,), moving (N,), largest normalised magnitude (N,))``.

    Stationary: every attribute below ``still_fraction`` of its band minimum (with the defaults,
    under 2 deg and 0.1 m). Moving: some attribute inside its band. Pairs in between are neither.

    >>> still, moving, top = stillness(np.array([[1.0, 0.05], [15.0, 0.0], [5.0, 0.0]]), ATTRIBUTES["navigation"][:4:3], 0.2)
    >>> still.tolist(), moving.tolist()
    ([True, False, False], [False, True, False])
    """
    lo = np.array([a.band_min for a in attributes])
    hi = np.array([a.band_max for a in attributes])
    a = np.abs(magnitudes)
    norm = np.where(np.isnan(a), 0.0, a / lo)
    top = norm.max(axis=1)
    in_band = ((a >= lo) & (a <= hi)).any(axis=1)
    return top < still_fraction, in_band, top


def label_pairs(pairs: pa.Table, domain: str, dominance_margin: float = 1.5,
                bands: dict[str, tuple[float, float]] | None = None, still_fraction: float = 0.2) -> StageResult:
    """Label one domain's motion pairs; every unlabelled pair is counted under its rule.

    The directional attributes first (one label at most per pair); then, in the stillness
    domains, ``camera_motion`` (stationary / moving) and, in manipulation, the categorical
    ``phase`` and gripper ``holding``. The ledger counts each pair once per pass.
    """
    attrs = attributes(domain, bands)
    if pairs.num_rows == 0:
        return StageResult(empty("labelled_pairs"), empty("quarantine"), 0, {})
    mags = signed_magnitudes(pairs, attrs)
    keep, which, ratio, filtered = label(mags, attrs, dominance_margin)
    idx = np.flatnonzero(keep)
    chosen = which[idx]
    signed = mags[idx, chosen]
    names = np.array([a.name for a in attrs], dtype=object)
    pos = np.array([a.values[0] for a in attrs], dtype=object)
    neg = np.array([a.values[1] for a in attrs], dtype=object)
    units = np.array([a.unit for a in attrs], dtype=object)
    kept = pairs.take(pa.array(idx))
    tables = [_labelled(kept, names[chosen], np.where(signed > 0, pos[chosen], neg[chosen]), signed, units[chosen],
                        ratio[idx], [c if n.startswith("object_") else None
                                     for c, n in zip(kept.column("object_color").to_pylist(), names[chosen].tolist())])]
    rows_in = pairs.num_rows
    if domain in STILLNESS_DOMAINS:
        still, moving, top = stillness(mags, attrs, still_fraction)
        sel = np.flatnonzero(still | moving)
        kept = pairs.take(pa.array(sel))
        value = np.where(still[sel], "stationary", "moving").astype(object)
        n = sel.size
        tables.append(_labelled(kept, np.array(["camera_motion"] * n, dtype=object), value,
                                # moving: the largest normalised magnitude (>= 1); stationary: minus the
                                # margin below the stillness threshold (< 0), so the sign is the value
                                np.where(still[sel], top[sel] - still_fraction, top[sel]),
                                np.array(["ratio"] * n, dtype=object),
                                np.full(n, np.inf), [None] * n))
        rows_in += pairs.num_rows
        filtered["camera_motion_neither_still_nor_in_band"] = int(pairs.num_rows - n)
    if domain in CATEGORICAL_DOMAINS:
        for attribute, sel, value, magnitude, unit in _categorical(pairs):
            kept = pairs.take(pa.array(sel))
            n = sel.size
            tables.append(_labelled(kept, np.array([attribute] * n, dtype=object), value, magnitude,
                                    np.array([unit] * n, dtype=object), np.full(n, np.inf), [None] * n))
            rows_in += pairs.num_rows
            filtered[f"{attribute}_unlabelled"] = int(pairs.num_rows - n)
    table = pa.concat_tables(tables)
    return StageResult(conform(table, "labelled_pairs"), empty("quarantine"), rows_in, filtered)


#: Domains with categorical passes (the manipulation phase and the gripper holding its object).
CATEGORICAL_DOMAINS = ("manipulation",)


def _categorical(pairs: pa.Table):
    """``(attribute, selected rows, value, magnitude, unit)`` for each categorical pass.

    ``phase``: approach / grasp / lift / place from ``motion_pairs.phase`` (forward pairs);
    magnitude 1. ``gripper`` = ``holding`` from ``motion_pairs.gripper_holding``; its magnitude is
    the (small) width change. Their negatives are pairs with any other value of the attribute.
    """
    phase = pairs.column("phase").to_numpy(zero_copy_only=False)
    sel = np.flatnonzero(np.array([p is not None for p in phase]))
    yield "phase", sel, phase[sel], np.ones(sel.size), "fraction"
    hold = pairs.column("gripper_holding").fill_null(False).to_numpy(zero_copy_only=False)
    sel = np.flatnonzero(hold)
    delta = pairs.column("gripper_delta_m").fill_null(0.0).to_numpy(zero_copy_only=False)
    yield "gripper", sel, np.array(["holding"] * sel.size, dtype=object), delta[sel], "m"


def _labelled(kept: pa.Table, attribute, value, magnitude, unit, ratio, object_color) -> pa.Table:
    return pa.table(
        {
            **{c: kept.column(c) for c in ("episode_id", "domain", "split", "pair_id", "frame_index_a", "frame_index_b")},
            "attribute": pa.array(list(attribute), pa.string()),
            "value": pa.array(list(value), pa.string()),
            "magnitude": pa.array(np.asarray(magnitude, dtype=np.float64)),
            "unit": pa.array(list(unit), pa.string()),
            "dominance_ratio": pa.array(np.asarray(ratio, dtype=np.float64)),
            "object_color": pa.array(list(object_color), pa.string()),
        }
    )
