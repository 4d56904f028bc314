"""Is the subject of a label in the images, and does it move enough to be seen?

Every label is about a *subject*: the camera (navigation and simulation camera attributes), the
robot's gripper (manipulation), or one object (simulation, named by its colour). A label is
only worth asking when, in both frames of its pair,

1. the subject is **in view**: at least ``min_visible_fraction`` of its projected disk (a sphere
   of the configured radius, projected with the episode's pinhole intrinsics) lies inside the
   image, and it is in front of the camera; and
2. its **image-space motion** clears a minimum in pixels of the stored keyframe (the JPEG the
   model sees, :func:`remot_pipeline.core.features.jpeg_size`), per kind of motion
   (:data:`MOTION_KIND`): a motion the eye cannot see is not a label.

Camera subjects are always "in view"; a camera rotation moves the image by ``f tan(angle)``
(yaw, pitch) or ``r_half_diagonal * angle`` (roll). A camera translation's image motion depends
on the scene's depth, which poses do not give: it is not gated here (its band's minimum and the
optical-flow check, ``triplets__label_flow_agreement``, cover it). ``camera_motion`` =
``stationary`` must be *below* what the eye can see: a rotation under ``still_px`` pixels and a
translation under ``still_translation_m``.

Pairs whose subject cannot be projected (no intrinsics, no camera pose for a robot's fixed
camera, an object not in the frame's object list) are kept and counted as ``unverified``.

All functions are batched over pairs: ``(N,)`` arrays in, ``(N,)`` arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from remot_pipeline.core.arrow import to_polars
from remot_pipeline.core.features import jpeg_size

#: attribute -> the subject whose motion produced its label.
SUBJECT = {
    **dict.fromkeys(["yaw", "pitch", "roll", "translation_forward", "translation_lateral", "translation_vertical",
                     "camera_motion", "camera_yaw", "camera_pitch", "camera_forward", "camera_lateral"], "camera"),
    **dict.fromkeys(["ee_lateral", "ee_vertical", "ee_depth", "gripper", "wrist_rotation", "phase"], "gripper"),
    **dict.fromkeys(["object_lateral", "object_depth", "object_rotation"], "object"),
}
#: attribute -> how its image-space motion is measured (the key of ``min_motion_px``); absent:
#: not gated by pixels (camera translation, phase, camera_motion).
MOTION_KIND = {
    "yaw": "camera_rotation", "pitch": "camera_rotation", "roll": "camera_rotation",
    "camera_yaw": "camera_rotation", "camera_pitch": "camera_rotation",
    "ee_lateral": "image_translation", "ee_vertical": "image_translation", "object_lateral": "image_translation",
    "ee_depth": "apparent_size", "object_depth": "apparent_size",
    "gripper": "gripper_opening",
    "wrist_rotation": "rotation_arc", "object_rotation": "rotation_arc",
}


@dataclass(frozen=True)
class VisibilityRules:
    """The thresholds, in the stored keyframe's pixels (see the README's "What a label means")."""

    min_visible_fraction: float = 0.7
    min_motion_px: dict[str, float] = field(default_factory=lambda: {
        "camera_rotation": 12.0, "image_translation": 12.0, "apparent_size": 4.0, "gripper_opening": 6.0,
        "rotation_arc": 6.0})
    gripper_radius_m: float = 0.05
    object_radius_m: float = 0.15
    still_px: float = 2.0
    still_translation_m: float = 0.02
    max_side_px: int = 320


# A fixed sample of the unit disk (rings of equal area): the visible fraction of a projected disk is
# the share of these points inside the image.
_R = np.sqrt((np.arange(8) + 0.5) / 8)
_T = np.linspace(0, 2 * np.pi, 24, endpoint=False)
DISK = np.stack([np.outer(_R, np.cos(_T)).ravel(), np.outer(_R, np.sin(_T)).ravel()], axis=1)  # (192, 2)


def project(points_cam: np.ndarray, fx, fy, cx, cy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, 3)`` points in OpenCV camera axes -> ``(u (N,), v (N,), z (N,))`` pixels and depth.

    >>> u, v, z = project(np.array([[0.0, 0.0, 2.0], [1.0, -0.5, 2.0]]), 100.0, 100.0, 50.0, 40.0)
    >>> u.tolist(), v.tolist()
    ([50.0, 100.0], [40.0, 15.0])
    """
    p = np.asarray(points_cam, dtype=np.float64)
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return fx * p[:, 0] / z + cx, fy * p[:, 1] / z + cy, z


def visible_fraction(u, v, z, radius_m, fx, width_px, height_px) -> np.ndarray:
    """Share of a sphere's projected disk (centre ``u, v``, depth ``z``) inside the image, ``(N,)``.

    Behind the camera (``z <= 0.05 m``) is 0; NaN inputs give NaN (unknown).

    >>> visible_fraction(np.array([50.0, 0.0, 50.0]), np.array([40.0, 40.0, 40.0]), np.array([2.0, 2.0, -1.0]),
    ...                  0.1, 100.0, 100, 80).round(2).tolist()
    [1.0, 0.5, 0.0]
    """
    u, v, z = (np.asarray(x, dtype=np.float64) for x in (u, v, z))
    fx, width_px, height_px = (np.broadcast_to(np.asarray(x, dtype=np.float64), u.shape) for x in (fx, width_px, height_px))
    with np.errstate(divide="ignore", invalid="ignore"):
        r_px = fx * radius_m / z
    pu = u[:, None] + r_px[:, None] * DISK[None, :, 0]
    pv = v[:, None] + r_px[:, None] * DISK[None, :, 1]
    inside = (pu >= 0) & (pu <= width_px[:, None]) & (pv >= 0) & (pv <= height_px[:, None])
    out = inside.mean(axis=1)
    out = np.where(z <= 0.05, 0.0, out)
    return np.where(np.isnan(u) | np.isnan(v) | np.isnan(z), np.nan, out)


def _stack(values: list, width: int) -> np.ndarray:
    out = np.full((len(values), width), np.nan)
    for i, x in enumerate(values):
        if x is not None:
            out[i] = x
    return out


def subject_evidence(labelled: pa.Table, frames: pa.Table, episodes: pa.Table, rules: VisibilityRules) -> pl.DataFrame:
    """Per labelled pair: ``visible_fraction`` (the minimum over its two frames; NaN when it
    cannot be projected), ``motion_px`` (NaN when not measured) and ``still_ok`` (for
    ``camera_motion`` = ``stationary``: below the visibility threshold), in the input's order."""
    lab = to_polars(labelled.select(["episode_id", "frame_index_a", "frame_index_b", "attribute", "value", "magnitude",
                                     "object_color"])).with_row_index("_row")
    n = lab.height
    eps = to_polars(episodes.select(["episode_id", "width_px", "height_px", "fx_px", "fy_px", "cx_px", "cy_px"]))
    fr = to_polars(frames.select(["episode_id", "frame_index", "cam2world", "ee_pos_base_m", "gripper_width_m",
                                  "objects"])).with_row_index("_frame")
    ja = lab.join(fr.select("episode_id", pl.col("frame_index").alias("frame_index_a"), pl.col("_frame").alias("_fa")),
                  on=["episode_id", "frame_index_a"], how="left", maintain_order="left")
    ja = ja.join(fr.select("episode_id", pl.col("frame_index").alias("frame_index_b"), pl.col("_frame").alias("_fb")),
                 on=["episode_id", "frame_index_b"], how="left", maintain_order="left")
    ja = ja.join(eps, on="episode_id", how="left", maintain_order="left").sort("_row")
    fa, fb = ja["_fa"].to_numpy(), ja["_fb"].to_numpy()
    cam = _stack(fr["cam2world"].to_list(), 16).reshape(-1, 4, 4)
    ee = _stack(fr["ee_pos_base_m"].to_list(), 3)
    width = fr["gripper_width_m"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    objects = fr["objects"].to_list()
    w0, h0 = ja["width_px"].cast(pl.Float64).to_numpy(), ja["height_px"].cast(pl.Float64).to_numpy()
    scale = np.array([jpeg_size(int(w), int(h), rules.max_side_px)[0] / w if w > 0 else np.nan for w, h in zip(w0, h0)])
    fx, fy, cx, cy = (ja[c].cast(pl.Float64).fill_null(np.nan).to_numpy() * scale for c in ("fx_px", "fy_px", "cx_px", "cy_px"))
    width_px, height_px = w0 * scale, h0 * scale
    attr = ja["attribute"].to_numpy()
    subject = np.array([SUBJECT.get(a, "camera") for a in attr])
    mag = np.abs(ja["magnitude"].to_numpy())

    visible = np.full(n, np.nan)
    motion = np.full(n, np.nan)
    visible[subject == "camera"] = 1.0

    # camera rotations: f tan(angle), roll: half-diagonal x angle
    rot = np.isin(attr, ["yaw", "pitch", "camera_yaw", "camera_pitch"])
    motion[rot] = fx[rot] * np.tan(np.radians(mag[rot]))
    roll = attr == "roll"
    motion[roll] = 0.5 * np.hypot(width_px[roll], height_px[roll]) * np.radians(mag[roll])

    # points in camera a (world -> camera a), for the gripper and the object
    def in_camera(points_world: np.ndarray, frame_rows: np.ndarray) -> np.ndarray:
        c = cam[frame_rows]
        r, t = c[:, :3, :3], c[:, :3, 3]
        return np.einsum("nji,nj->ni", r, points_world - t)

    g = subject == "gripper"
    if g.any():
        pa_ = in_camera(ee[fa[g]], fa[g])
        pb_ = in_camera(ee[fb[g]], fb[g])  # the robot's camera is fixed: camera b = camera a
        ua, va, za = project(pa_, fx[g], fy[g], cx[g], cy[g])
        ub, vb, zb = project(pb_, fx[g], fy[g], cx[g], cy[g])
        radius = rules.gripper_radius_m
        visible[g] = np.minimum(visible_fraction(ua, va, za, radius, fx[g], width_px[g], height_px[g]),
                                visible_fraction(ub, vb, zb, radius, fx[g], width_px[g], height_px[g]))
        a_g = attr[g]
        m = np.where(np.isin(a_g, ["ee_lateral", "ee_vertical"]), np.hypot(ub - ua, vb - va), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(a_g == "ee_depth", 2 * fx[g] * radius * np.abs(1 / zb - 1 / za), m)
            zm = 0.5 * (za + zb)
            dw = np.abs(width[fb[g]] - width[fa[g]])
            m = np.where(a_g == "gripper", fx[g] * dw / zm, m)
            m = np.where(a_g == "wrist_rotation", fx[g] * radius / zm * np.radians(mag[g]), m)
        motion[g] = m

    o = subject == "object"
    if o.any():
        colors = ja["object_color"].to_list()
        idx = np.flatnonzero(o)
        pos_a = np.full((idx.size, 3), np.nan)
        pos_b = np.full((idx.size, 3), np.nan)
        for k, i in enumerate(idx):
            for dest, f in ((pos_a, fa[i]), (pos_b, fb[i])):
                for ob in objects[f] or []:
                    if ob["color_name"] == colors[i]:
                        dest[k] = np.asarray(ob["obj2world"], dtype=np.float64).reshape(4, 4)[:3, 3]
                        break
        radius = rules.object_radius_m
        in_a = in_camera(pos_a, fa[o])  # where it was, seen from camera a
        moved_a = in_camera(pos_b, fa[o])  # where it went, seen from camera a: its own motion only
        in_b = in_camera(pos_b, fb[o])  # where it is in frame b's own view
        ua, va, za = project(in_a, fx[o], fy[o], cx[o], cy[o])
        um, vm, zm = project(moved_a, fx[o], fy[o], cx[o], cy[o])
        ub, vb, zb = project(in_b, fx[o], fy[o], cx[o], cy[o])
        va_, vb_ = (visible_fraction(ua, va, za, radius, fx[o], width_px[o], height_px[o]),
                    visible_fraction(ub, vb, zb, radius, fx[o], width_px[o], height_px[o]))
        visible[o] = np.where(np.isnan(va_) | np.isnan(vb_), np.nan, np.minimum(va_, vb_))
        a_o = attr[o]
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(a_o == "object_lateral", np.hypot(um - ua, vm - va), np.nan)
            m = np.where(a_o == "object_depth", 2 * fx[o] * radius * np.abs(1 / zm - 1 / za), m)
            m = np.where(a_o == "object_rotation", fx[o] * radius / za * np.radians(mag[o]), m)
        motion[o] = m

    # stationary: the relative camera motion below what the eye can see
    still_ok = np.ones(n, dtype=bool)
    st = (attr == "camera_motion") & (ja["value"].to_numpy() == "stationary")
    if st.any():
        ca, cb = cam[fa[st]], cam[fb[st]]
        rel = np.einsum("nji,njk->nik", ca, cb)  # inv(a) @ b for rigid a (rotation part)
        r = rel[:, :3, :3]
        angle = np.arccos(np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1, 1))
        shift = np.linalg.norm(cb[:, :3, 3] - ca[:, :3, 3], axis=1)
        px = np.where(np.isnan(fx[st]), np.nan, fx[st] * np.tan(angle))
        still_ok[st] = ~((px >= rules.still_px) | (shift >= rules.still_translation_m))
    return pl.DataFrame({"visible_fraction": visible, "motion_px": motion, "still_ok": still_ok})


def gate(labelled: pa.Table, frames: pa.Table, episodes: pa.Table, rules: VisibilityRules
         ) -> tuple[pa.Table, dict[str, int], dict[str, int]]:
    """Keep the labelled pairs whose subject is visible and moves visibly.

    Returns ``(kept rows, filtered counts per rule, notes)``; ``notes`` counts the pairs that could
    not be verified (kept) per subject.
    """
    if labelled.num_rows == 0:
        return labelled, {"subject_not_in_view": 0, "motion_below_visible_px": 0, "stationary_but_visible_motion": 0}, {}
    ev = subject_evidence(labelled, frames, episodes, rules)
    attr = np.asarray(labelled.column("attribute").to_pylist(), dtype=object)
    vis = ev["visible_fraction"].to_numpy()
    px = ev["motion_px"].to_numpy()
    value = np.asarray(labelled.column("value").to_pylist(), dtype=object)
    minimum = np.array([0.0 if v == "holding" else rules.min_motion_px.get(MOTION_KIND.get(a, ""), 0.0)
                        for a, v in zip(attr, value)])
    not_in_view = vis < rules.min_visible_fraction  # NaN compares False: unverified is kept
    too_small = ~not_in_view & (px < minimum)
    not_still = ~not_in_view & ~too_small & ~ev["still_ok"].to_numpy()
    keep = ~(not_in_view | too_small | not_still)
    subjects = np.array([SUBJECT.get(a, "camera") for a in attr])
    unverified = {f"unverified_{s}": int(((subjects == s) & np.isnan(vis)).sum()) for s in ("gripper", "object")}
    filtered = {"subject_not_in_view": int(not_in_view.sum()), "motion_below_visible_px": int(too_small.sum()),
                "stationary_but_visible_motion": int(not_still.sum())}
    return labelled.filter(pa.array(keep)), filtered, unverified
