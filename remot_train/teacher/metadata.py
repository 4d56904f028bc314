"""The default teacher: triplet metadata plus OpenCV, no model.

For each pair of images the question shows (1->2; 1->2 and 1->3; or 1->2 and 3->4), the
:class:`MetadataTeacher` finds one box where the evidence is and puts the **same box on both
images of the pair**, then writes guidance that says where to look and which cue to compare.
How the box is found depends on the attribute's family:

* **camera ego-motion** (yaw, pitch, roll, camera translation, camera_motion): the whole frame
  moves, so the box is the window with the most *consistent* flow and the most texture. DIS
  optical flow is computed both ways (a->b and b->a) on a ~160 px copy; a pixel is reliable
  when the two flows cancel (forward-backward check); a window's score is its flow coherence
  (|mean flow| / mean |flow| over reliable pixels) x its reliable fraction x its texture
  (Sobel magnitude, mean of both images) x sqrt(its relative speed). Reliability is the
  minimum of both directions, so content leaving the view at one edge and content entering at
  the other are treated alike. For horizontal attributes (yaw, lateral translation) the window
  is centred horizontally and slides vertically; for vertical ones (pitch, vertical
  translation) it is centred vertically and slides horizontally; otherwise it slides over a
  grid. Window size: 40% of each side.
* **gripper / end effector / phase** (ee_*, gripper, wrist_rotation, phase): the box covers the
  region of largest motion relative to the background: the residual flow after removing the
  median (camera) flow, both ways, plus the photometric difference after compensating that
  median shift; the strongest connected components (>= 25% of the top one's mass), padded.
* **objects** (object_lateral, object_depth): the named colour's pixels (HSV hue window, e.g.
  "red") that also move relative to the background (motion saliency as for the gripper family)
  in either image: a floor spot of the same colour moves only with the camera. Without moving
  pixels of that colour, its compact blob that moves most in each image; without a usable
  colour, as the gripper family.

A family's method that finds nothing (a flat image, no motion, flow too unreliable) falls back
to the most textured window centred in one axis. **The box does not encode the direction**:
every score is symmetric in the two images of a pair (swapping them, as a time-reversed negative
does, gives the same box), one box serves both images, and the text is built only from words
outside the attribute's value vocabulary (left/right for yaw, opened/closed for the gripper,
...). Where a thing is can still correlate with a label through the data itself (on the first
release, over its true/false questions, each of the box's centre and size vs the pair's value
has an AUC within 0.42-0.58 for 10 of 15 attributes; phase (0.15: where the gripper is in each
phase), wrist rotation (0.32), roll (0.33, 18 questions), camera_motion and ee_depth (0.36-0.64)
are further off); ``EvidencePatch.as_observation(coordinates=False)`` leaves the numbers out.

Timestamps are display-relative: image k's time is |t_k - t_first| within its pair, never the
episode's raw time (a reversed negative would show a decreasing time).

The error class comes from :func:`~remot_train.teacher.errors.classify_error`; it changes the
text: *temporal* leads with the reading order of the pairs, *spatial* with the region and cue,
*misconception* with what the attribute means visually.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from remot_train.teacher.base import BaseTeacher
from remot_train.teacher.errors import classify_error
from remot_train.teacher.images import crops_for, image_roles, sample_images
from remot_train.teacher.leak import COMPARISON_WORDS, attribute_vocabulary, displayed_pairs, find_words
from remot_train.teacher.patch import EvidencePatch

EGO_HORIZONTAL = frozenset({"yaw", "camera_yaw", "translation_lateral", "camera_lateral"})
EGO_VERTICAL = frozenset({"pitch", "camera_pitch", "translation_vertical"})
EGO_FREE = frozenset({"roll", "translation_forward", "camera_forward", "camera_motion"})
MOVING = frozenset({"ee_lateral", "ee_vertical", "ee_depth", "gripper", "wrist_rotation", "phase"})
OBJECTS = frozenset({"object_lateral", "object_depth"})

#: OpenCV hue (0..180) of the colour names the synthetic world and common datasets use.
HUES = {"red": 0, "orange": 19, "yellow": 30, "green": 60, "cyan": 90, "blue": 120, "violet": 140,
        "purple": 150, "magenta": 150}

_STRUCT = "a strongly textured structure (edges, corners, spots)"
_GRIPPER = "the robot's gripper"

#: attribute -> (what to look at, the cue to compare, what the motion looks like). ``{obj}`` is
#: the object's description ("the red object"). No text may contain a value word of its attribute.
CUES: dict[str, tuple[str, str, str]] = {
    "yaw": (_STRUCT, "horizontal position",
            "A turn of the camera slides the whole scene sideways across the image, opposite to the turn."),
    "translation_lateral": (_STRUCT, "horizontal position",
                            "A sideways step of the camera slides the scene across the image opposite to the step."),
    "pitch": (_STRUCT, "vertical position",
              "Tilting the camera slides the whole scene vertically across the image, opposite to the tilt."),
    "translation_vertical": (_STRUCT, "vertical position",
                             "Raising or lowering the camera slides the scene vertically across the image, "
                             "opposite to the camera's motion."),
    "roll": ("straight edges (horizon, wall and floor edges)", "slant",
             "Rolling the camera about its viewing axis rotates the whole image about its centre, "
             "so straight edges change their slant."),
    "translation_forward": (_STRUCT, "apparent size and distance from the image centre",
                            "Moving the camera along its viewing direction makes the scene expand from, or "
                            "contract to, the image centre."),
    "camera_motion": (_STRUCT, "position in the image",
                      "Any camera motion changes where the scene's structures appear in the image."),
    "ee_lateral": (_GRIPPER, "horizontal position relative to the fixed background",
                   "The gripper's own sideways motion shows as a change of its horizontal position against "
                   "the fixed table and background."),
    "ee_vertical": (_GRIPPER, "height above the table",
                    "The gripper's own vertical motion shows as a change of its height above the table."),
    "ee_depth": (_GRIPPER, "apparent size (how much of the image it covers)",
                 "The gripper's distance from the camera shows as its apparent size."),
    "gripper": ("the gripper's two fingers", "gap between the fingers",
                "The gripper's state shows as the spacing of its fingers."),
    "wrist_rotation": ("the gripper's fingers", "orientation (the angle of their long edges)",
                       "A rotation of the wrist turns the fingers' long edges about the vertical axis."),
    "phase": (_GRIPPER, "position relative to the block, whether the block is between the fingers, and "
              "whether the block rests on the table",
              "The stage of the task shows in where the gripper is relative to the block and "
              "whether it carries it."),
    "object_lateral": ("{obj}", "horizontal position relative to the floor texture",
                       "The object's own motion is its shift against the fixed floor; a camera pan shifts "
                       "everything together and does not count."),
    "object_depth": ("{obj}", "apparent size and height in the image",
                     "The object's distance from the camera shows as its apparent size and its height in "
                     "the image."),
}
CUES["camera_yaw"] = CUES["yaw"]
CUES["camera_lateral"] = CUES["translation_lateral"]
CUES["camera_pitch"] = CUES["pitch"]
CUES["camera_forward"] = CUES["translation_forward"]
_DEFAULT_CUE = ("the content", "position and shape", "Compare how the content changes between the two images.")


@dataclass
class BoxInfo:
    """How one pair's box was found (for inspection): ``method`` is ego | motion | colour | texture."""

    pair: tuple[int, int]
    box: tuple[float, float, float, float]
    method: str


# --- low-level image measures -------------------------------------------------------------------
def _grey(image: Image.Image, side: int, size: tuple[int, int] | None = None) -> np.ndarray:
    grey = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    if size is None:
        h, w = grey.shape
        s = side / max(h, w)
        size = (max(8, round(w * s)), max(8, round(h * s)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _rgb(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(np.asarray(image.convert("RGB")), size, interpolation=cv2.INTER_AREA)


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)


def _fb_reliability(fab: np.ndarray, fba: np.ndarray) -> np.ndarray:
    """1 where following a->b then b->a returns near the start (forward-backward check), else 0."""
    h, w = fab.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + fab[..., 0], ys + fab[..., 1]
    back = cv2.remap(fba, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(1e3, 1e3))
    err = np.linalg.norm(fab + back, axis=-1)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    tol = 1.0 + 0.15 * np.linalg.norm(fab, axis=-1)
    return ((err < tol) & inside).astype(np.float32)


def _texture(grey: np.ndarray) -> np.ndarray:
    g = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def _window_sums(arr: np.ndarray, ys: np.ndarray, xs: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """Sums of ``arr`` over windows with top-left corners at (ys[i], xs[j]): ``(len(ys), len(xs))``."""
    ii = cv2.integral(np.ascontiguousarray(arr, dtype=np.float64))
    y0, x0 = ys[:, None], xs[None, :]
    return ii[y0 + bh, x0 + bw] - ii[y0, x0 + bw] - ii[y0 + bh, x0] + ii[y0, x0]


def _positions(extent: int, size: int, centred: bool, steps: int = 7) -> np.ndarray:
    if centred or size >= extent:
        return np.array([max(0, (extent - size) // 2)])
    return np.unique(np.linspace(0, extent - size, steps).round().astype(int))


def _normalise_box(x0, y0, x1, y1, w, h) -> tuple[float, float, float, float]:
    return (float(x0) / w, float(y0) / h, float(x1) / w, float(y1) / h)


def _pad_box(box, pad: float = 0.25, min_size: float = 0.2) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw = max((x1 - x0) * (1 + 2 * pad), min_size) / 2
    hh = max((y1 - y0) * (1 + 2 * pad), min_size) / 2
    hw, hh = min(hw, 0.5), min(hh, 0.5)
    cx, cy = min(max(cx, hw), 1 - hw), min(max(cy, hh), 1 - hh)  # shift inside rather than shrink
    return (round(cx - hw, 4), round(cy - hh, 4), round(cx + hw, 4), round(cy + hh, 4))


# --- the three box finders ----------------------------------------------------------------------
Box = tuple[float, float, float, float]


def ego_box(a: np.ndarray, b: np.ndarray, axis: str | None, frac: float = 0.4) -> Box | None:
    """The window with the most consistent flow and texture (module doc). ``axis``: ``"x"`` keeps
    the window centred horizontally, ``"y"`` vertically, None lets it slide freely."""
    fab, fba = _flow(a, b), _flow(b, a)
    rel = np.minimum(_fb_reliability(fab, fba), _fb_reliability(fba, fab))
    h, w = a.shape
    bh, bw = max(4, round(frac * h)), max(4, round(frac * w))
    ys = _positions(h, bh, centred=axis == "y")
    xs = _positions(w, bw, centred=axis == "x")
    speed = 0.5 * (np.linalg.norm(fab, axis=-1) + np.linalg.norm(fba, axis=-1))
    tex = 0.5 * (_texture(a) + _texture(b))
    n = _window_sums(rel, ys, xs, bh, bw)
    if n.max() < 0.2 * bh * bw:
        return None
    vx = _window_sums(rel * (fab[..., 0] - fba[..., 0]) / 2, ys, xs, bh, bw)
    vy = _window_sums(rel * (fab[..., 1] - fba[..., 1]) / 2, ys, xs, bh, bw)
    sp = _window_sums(rel * speed, ys, xs, bh, bw)
    coherence = np.hypot(vx, vy) / (sp + 1e-6)
    rel_frac = n / (bh * bw)
    mean_tex = _window_sums(tex, ys, xs, bh, bw) / (bh * bw)
    tex_norm = mean_tex / (tex.mean() + 1e-6)
    speed_norm = np.clip((sp / (n + 1e-6)) / (speed.mean() + 1e-6), 0.0, 2.0)
    score = coherence * rel_frac * tex_norm * np.sqrt(speed_norm)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if not np.isfinite(score[i, j]) or score[i, j] <= 0:
        return None
    return _normalise_box(xs[j], ys[i], xs[j] + bw, ys[i] + bh, w, h)


def texture_box(a: np.ndarray, b: np.ndarray, frac: float = 0.4) -> tuple[float, float, float, float]:
    """The most textured window whose centre is the image centre's row or column (fallback)."""
    tex = 0.5 * (_texture(a) + _texture(b))
    h, w = a.shape
    bh, bw = max(4, round(frac * h)), max(4, round(frac * w))
    best, box = -1.0, (0.3, 0.3, 0.7, 0.7)
    grids = ((_positions(h, bh, False), _positions(w, bw, True)), (_positions(h, bh, True), _positions(w, bw, False)))
    for ys, xs in grids:
        s = _window_sums(tex, ys, xs, bh, bw)
        i, j = np.unravel_index(int(np.argmax(s)), s.shape)
        if s[i, j] > best:
            best, box = float(s[i, j]), _normalise_box(xs[j], ys[i], xs[j] + bw, ys[i] + bh, w, h)
    return box


def motion_saliency(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Per-pixel motion relative to the background, in both images' positions (symmetric in a
    and b): residual flow both ways plus the photometric difference after compensating the
    median (camera) shift, each normalised by its 99th percentile. None when nothing moves."""
    fab, fba = _flow(a, b), _flow(b, a)
    h, w = a.shape
    bg = np.median(np.concatenate([fab.reshape(-1, 2), -fba.reshape(-1, 2)]), axis=0)
    resid_ab = np.linalg.norm(fab - bg, axis=-1)
    resid_ba = np.linalg.norm(fba + bg, axis=-1)
    shift = np.float32([[1, 0, -bg[0]], [0, 1, -bg[1]]])
    shifted = cv2.warpAffine(b, shift, (w, h), borderValue=0)
    valid = cv2.warpAffine(np.ones_like(b), shift, (w, h), borderValue=0)
    diff = cv2.GaussianBlur(np.abs(a.astype(np.float32) - shifted.astype(np.float32)) * valid, (0, 0), 1.5)
    if max(resid_ab.max(), resid_ba.max()) < 1.5 and diff.max() < 20:
        return None  # nothing moves
    p_flow = max(np.percentile(np.maximum(resid_ab, resid_ba), 99), 1.0)
    p_diff = max(np.percentile(diff, 99), 12.0)
    return cv2.GaussianBlur((resid_ab + resid_ba) / p_flow + diff / p_diff, (0, 0), 2.0)


def motion_box(a: np.ndarray, b: np.ndarray, sal: np.ndarray | None = None) -> tuple[float, float, float, float] | None:
    """The region that moves relative to the background in either image (module doc), or None
    when nothing does."""
    sal = motion_saliency(a, b) if sal is None else sal
    if sal is None:
        return None
    h, w = a.shape
    box = _components_box(sal >= 0.5 * sal.max(), sal)
    return None if box is None else _normalise_box(*box, w, h)


def _colour_mask(rgb: np.ndarray, hue: int) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    dh = np.abs(hsv[..., 0].astype(np.int16) - hue)
    dh = np.minimum(dh, 180 - dh)
    mask = (dh <= 8) & (hsv[..., 1] >= 100) & (hsv[..., 2] >= 50)
    if mask.any():  # keep the vivid ones: a palette-coloured object outshines tinted floor spots
        vivid = hsv[..., 1].astype(np.float32) * hsv[..., 2]
        mask &= vivid >= 0.6 * np.percentile(vivid[mask], 99)
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))


def _components_box(mask: np.ndarray, weight: np.ndarray, keep_frac: float = 0.25):
    """Pixel bbox of the components of ``mask`` whose ``weight`` mass is >= keep_frac of the top one."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    mass = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=n)[1:]
    if mass.max() <= 0:
        return None
    keep = np.flatnonzero(mass >= keep_frac * mass.max()) + 1
    return (min(stats[k, cv2.CC_STAT_LEFT] for k in keep), min(stats[k, cv2.CC_STAT_TOP] for k in keep),
            max(stats[k, cv2.CC_STAT_LEFT] + stats[k, cv2.CC_STAT_WIDTH] for k in keep),
            max(stats[k, cv2.CC_STAT_TOP] + stats[k, cv2.CC_STAT_HEIGHT] for k in keep))


def colour_box(a_rgb: np.ndarray, b_rgb: np.ndarray, colour: str | None,
               sal: np.ndarray | None = None) -> tuple[float, float, float, float] | None:
    """Where the named colour moves, in either image; None when the colour is unknown or absent.

    First the colour's vivid pixels (an HSV hue window, saturation x value >= 60% of the
    colour's 99th percentile in the image) that also move (``sal`` from
    :func:`motion_saliency` >= 25% of its peak), in both images together; the floor or walls may
    hold spots of the same colour, but those move only with the camera. When no such pixel
    exists, the colour's compact blobs (filling >= 35% of their bounding box, <= 5% of the image)
    with the most motion (or the largest), one per image, joined.
    """
    hue = HUES.get((colour or "").strip().lower())
    if hue is None:
        return None
    h, w = a_rgb.shape[:2]
    masks = [_colour_mask(a_rgb, hue), _colour_mask(b_rgb, hue)]
    weight = sal if sal is not None else np.ones((h, w), np.float32)
    if sal is not None:
        moving = (masks[0] | masks[1]) & (sal >= 0.25 * sal.max())
        if moving.sum() >= max(4, 0.0005 * moving.size):
            box = _components_box(moving, sal)
            if box is not None:
                return _normalise_box(*box, w, h)
    boxes = []
    for mask in masks:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = stats[1:, cv2.CC_STAT_AREA].astype(float)
        fill = area / np.maximum(1, stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT])
        ok = (area >= max(4, 0.001 * mask.size)) & (area <= 0.05 * mask.size) & (fill >= 0.35)
        if not ok.any():
            return None
        score = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=n)[1:] + 1e-3 * area
        k = 1 + int(np.argmax(np.where(ok, score, -1.0)))
        x, y, bw, bh = (stats[k, c] for c in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        boxes.append((x, y, x + bw, y + bh))
    return _normalise_box(min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                          max(b[3] for b in boxes), w, h)


def evidence_box(image_a: Image.Image, image_b: Image.Image, attribute: str, colour: str | None = None,
                 side: int = 160) -> tuple[tuple[float, float, float, float], str]:
    """One pair's box (normalised, same on both images) and the method that found it."""
    a = _grey(image_a, side)
    size = (a.shape[1], a.shape[0])
    b = _grey(image_b, side, size)
    box, method = None, ""
    if attribute in OBJECTS:
        sal = motion_saliency(a, b)
        box, method = colour_box(_rgb(image_a, size), _rgb(image_b, size), colour, sal), "colour"
        if box is None and sal is not None:
            box, method = motion_box(a, b, sal), "motion"
        if box is not None:
            return _pad_box(box), method
    elif attribute in MOVING:
        box, method = motion_box(a, b), "motion"
        if box is not None:
            return _pad_box(box), method
    else:
        axis = "x" if attribute in EGO_HORIZONTAL else "y" if attribute in EGO_VERTICAL else None
        box, method = ego_box(a, b, axis), "ego"
        if box is not None:
            return box, method
    return texture_box(a, b), "texture"


# --- text -----------------------------------------------------------------------------------------
def _position_phrase(box, forbidden: frozenset[str]) -> str:
    """Where a box lies ("near the top", "in the lower-right part"), using no forbidden word."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    vert = "top" if cy < 0.36 else "bottom" if cy > 0.64 else ""
    horiz = "left" if cx < 0.36 else "right" if cx > 0.64 else ""
    if horiz and horiz in forbidden:
        horiz = ""
    if vert and vert in forbidden:
        vert = ""
    if vert and horiz:
        return f"in the {vert}-{horiz} part of the image"
    if vert or horiz:
        return f"near the {vert or horiz} of the image"
    return "around the middle of the image"


def _pairs_phrase(pairs: list[tuple[int, int]], arrow: bool = False) -> str:
    link = " → " if arrow else " against "
    parts = [f"image {a}{link}image {b}" for a, b in pairs]
    return parts[0] if len(parts) == 1 else ", and ".join([", ".join(parts[:-1]), parts[-1]])


def compose_text(attribute: str, colour: str | None, error_class: str, pairs: list[tuple[int, int]],
                 boxes: list[tuple[float, float, float, float]], question_type: str | None = None) -> str:
    """The patch text: where to look and which cue to compare, shaped by the error class and the
    question kind: ``"comparative"`` and ``"number"`` (a numeric blank) ask how much the cue
    changes; anything else asks to compare the cue."""
    what, cue, concept = CUES.get(attribute, _DEFAULT_CUE)
    obj = f"the {colour} object" if colour else "the moving object"
    what = what.format(obj=obj)
    forbidden = attribute_vocabulary(attribute) | (COMPARISON_WORDS if question_type == "comparative" else frozenset())
    single = len(pairs) == 1
    if single:
        (a, b), box = pairs[0], boxes[0]
        scope = f"inside the boxed region of image {a} and image {b}"
        where = f"The box (the same on both images) lies {_position_phrase(box, forbidden)}."
    else:
        scope = f"inside the boxed region of each pair ({_pairs_phrase(pairs)})"
        where = "The box is the same on both images of a pair; " + "; ".join(
            f"for image {a} and image {b} it lies {_position_phrase(box, forbidden)}"
            for (a, b), box in zip(pairs, boxes)) + "."
    if question_type == "comparative":
        compare = f"Judge how much the {cue} of {what} changes {scope}, then set the two amounts side by side."
    elif question_type == "number":
        compare = f"Judge how much the {cue} of {what} changes {scope}, relative to the size of the image."
    else:
        compare = f"Compare the {cue} of {what} {scope}."
    if error_class == "temporal":
        order = (f"Read {'the pair' if single else 'each pair'} in the order shown, from its first image to its "
                 f"second ({_pairs_phrase(pairs, arrow=True)}): the motion asked about goes from the first image "
                 f"to the second.")
        text = f"{order} {compare} {where}"
    elif error_class == "misconception":
        text = f"{concept} {compare} {where}"
    else:
        text = f"{compare} {where}"
    leaked = find_words(text, forbidden)
    if leaked:  # a programming error in CUES: never ship it
        raise AssertionError(f"teacher text for {attribute!r} uses value words {leaked}")
    return text


def pair_times(sample: dict, n_images: int) -> list[float] | None:
    """Display-relative times of images 1..n (module doc), or None without timestamps."""
    roles = image_roles(sample)
    start_of = {"positive": "anchor", "negative": "negative_anchor"}
    times = [0.0] * n_images
    for a, b in displayed_pairs(n_images):
        rb = roles[b - 1]
        first = start_of.get(rb, roles[a - 1])
        tb, ta = sample.get(f"{rb}_timestamp_s"), sample.get(f"{first}_timestamp_s")
        if tb is None or ta is None:
            return None
        times[b - 1] = round(abs(float(tb) - float(ta)), 3)
    return times


class MetadataTeacher(BaseTeacher):
    """The default teacher (module doc). ``side``: the longer side (px) flow is computed at."""

    def __init__(self, side: int = 160, with_timestamps: bool = True, crop_size: int = 128,
                 with_crops: bool = True) -> None:
        super().__init__(crop_size=crop_size, with_crops=with_crops)
        self.side = side
        self.with_timestamps = with_timestamps
        self.boxes: list[BoxInfo] = []  # the last call's boxes, for inspection

    def propose(self, sample: dict, failed_rollouts: list[str]) -> EvidencePatch:
        images = sample_images(sample)
        n = len(images)
        attribute = str(sample["attribute"])
        colour = sample.get("object_color")
        pairs = displayed_pairs(n)
        error_class = classify_error(failed_rollouts, n, attribute)
        self.boxes = []
        regions: list[tuple] = []
        for a, b in pairs:
            box, method = evidence_box(images[a - 1], images[b - 1], attribute, colour, self.side)
            self.boxes.append(BoxInfo((a, b), box, method))
            for i in (a, b):
                if (i, *box) not in regions:
                    regions.append((i, *box))
        kind = "number" if sample.get("parse_rule") in ("number", "number_mra") else sample.get("question_type")
        text = compose_text(attribute, colour, error_class, pairs, [bi.box for bi in self.boxes], kind)
        times = pair_times(sample, n) if self.with_timestamps else None
        crops = crops_for(regions, images, self.crop_size) if self.with_crops else []
        return EvidencePatch(error_class=error_class, frames=list(range(1, n + 1)), text=text,
                             timestamps_s=times, regions=regions, crops=crops)
