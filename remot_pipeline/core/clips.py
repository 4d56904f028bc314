"""Clip wording: a question's prompt and rationale as they read when each pair it shows is one
clip (``views: clips``; :mod:`remot_train.clips` builds the clips and feeds them to the model).

Pure text: literal phrase replacements (:data:`PROMPT_REPLACEMENTS`), so the same rendering runs in
Python (:func:`clip_prompt`) and in DuckDB (:func:`sql_replace_chain`, the catalog's
``clip_questions`` view). Only the wording changes: the facts, the answers, the options' letters,
the parse rule, the consistency groups and the relations (``m12``, ``m34``, ``m13``; each clip
line names its motion) are the release's own, so scoring, the logic reward, the balance and the
shortcut checks apply unchanged. No replacement depends on the answer, so the clip text leaks no
more than the question text does.
"""

from __future__ import annotations

import re

import numpy as np


#: How a question's images reach the model: each alone (``frames``) or each shown pair as one clip.
VIEWS = ("frames", "clips")


class ClipError(ValueError):
    """A prompt or image that cannot be shown as clips."""


#: Literal (old, new) replacements, applied in order, that turn a question's prompt into its clip
#: wording. The headers come first (the 4-image header before the 3-image one it starts with);
#: every template of :mod:`remot_pipeline.core.questions` is covered (a test renders them all).
PROMPT_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("Image 1: <image>\nImage 2: <image>\nImage 3: <image>\nImage 4: <image>\n",
     "Clip A (motion m12): <image>\nClip B (motion m34): <image>\n"),
    ("Image 1: <image>\nImage 2: <image>\nImage 3: <image>\n",
     "Clip A (motion m12): <image>\nClip B (motion m13): <image>\n"),
    ("Image 1: <image>\nImage 2: <image>\n", "Clip (motion m12): <image>\n"),
    # multiple choice, both pairs from the anchor
    ("Image 1 is the reference view. Going from image 1 to which image is it true that",
     "Both clips start from the same view. In which clip is it true that"),
    ("Take image 1 as the starting view. In which of the other two images is it true that",
     "Both clips start from the same view. In which of the two clips is it true that"),
    ("Compare images 2 and 3 with image 1. Which of them shows that", "Compare clip A with clip B. Which of them shows that"),
    ("\nA) Image 2\nB) Image 3", "\nA) Clip A\nB) Clip B"),
    # pairs A and B (multiple choice, comparisons)
    ("Pair A goes from image 1 to image 2; pair B goes from image 3 to image 4.",
     "Clip A and clip B each show a change of view."),
    ("Pair A goes from image 1 to image 2; pair B goes from image 1 to image 3.",
     "Clip A and clip B start from the same view."),
    ("Consider two changes of view: pair A, from image 1 to image 2, and pair B, from image 3 to image 4.",
     "Consider two changes of view: clip A and clip B."),
    ("Images 1 and 2 form pair A; images 3 and 4 form pair B, each read from its first image to its second.",
     "Clip A and clip B each play from their first frame to their last."),
    ("In which pair is it true that", "In which clip is it true that"),
    ("Which pair shows that", "Which clip shows that"),
    ("For which pair is it true that", "For which clip is it true that"),
    ("\nA) Pair A\nB) Pair B", "\nA) Clip A\nB) Clip B"),
    ("in the two pairs. In which pair was it", "in the two clips. In which clip was it"),
    ("In which pair was", "In which clip was"),
    ("in pair A or in pair B?", "in clip A or in clip B?"),
    # one pair (true/false, fill in the blank)
    ("True or false: between image 1 and image 2,", "True or false: over the clip,"),
    ("Look at image 1, then at image 2. Is it true that", "Watch the clip. Is it true that"),
    ("From image 1 to image 2, ", "Over the clip, "),
    ("Between image 1 and image 2, ", "Over the clip, "),
    ("from image 1 to image 2, ", "over the clip, "),
    ("between image 1 and image 2, ", "over the clip, "),
    # the scaffold's notation
    ("(mIJ: the motion from image I to image J)", "(mIJ: the motion of a clip, named beside it above)"),
)

#: The rationale's wording (the release's ``rationale`` column) for clips.
RATIONALE_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("I compare the images to see how", "I compare each clip's frames to see how"),
    ("In the pair (image 1 to image 2), ", "In the clip, "),
    ("In pair A (image 1 to image 2), ", "In clip A, "),
    ("In pair B (image 1 to image 3), ", "In clip B, "),
    ("In pair B (image 3 to image 4), ", "In clip B, "),
    ("in pair A", "in clip A"),
    ("in pair B", "in clip B"),
)
#: Option texts of choice questions (scored by letter, or by the option's text).
OPTION_NAMES = {"Image 2": "Clip A", "Image 3": "Clip B", "Pair A": "Clip A", "Pair B": "Clip B"}

_LEFTOVER = re.compile(r"\b(?:[Ii]mages? \d|[Pp]airs?\b|image I\b)")


#: Frames per clip when a config does not say: the pair's own two frames, one temporal patch of
#: Qwen-VL's vision tower (``temporal_patch_size`` 2).
DEFAULT_CLIP_FRAMES = 2


def check_clip_frames(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ClipError(f"clip_frames must be an integer >= 2 (the pair's two frames and any between them), got {k!r}")
    return int(k)


def between_frames(timestamp_s: np.ndarray, first: int, last: int, k: int) -> np.ndarray:
    """Positions (into an episode's time-sorted frames) of the ``k - 2`` frames a clip of ``k``
    frames plays between the frames at positions ``first`` and ``last``, in playing order.

    Each is the frame whose timestamp is nearest to one of ``k - 2`` evenly spaced times strictly
    between the two timestamps (a tie goes to the earlier frame in time), searched among the
    frames from ``first`` to ``last``: what a video sampler does at a fixed frame count. A source
    with fewer frames between the two than the clip needs repeats a frame (the timestamps show
    it). The choice is made forwards in time and then reversed when ``first`` is later than
    ``last``, so a temporal reversal's clip is exactly the reversed clip.

    ``timestamp_s``: (n,) increasing. Returns an int64 array of shape ``(k - 2,)``.

    >>> ts = np.arange(10) * 0.1
    >>> between_frames(ts, 0, 9, 5).tolist(), between_frames(ts, 9, 0, 5).tolist()
    ([2, 4, 7], [7, 4, 2])
    >>> between_frames(ts, 3, 4, 4).tolist(), between_frames(ts, 3, 9, 2).tolist()
    ([3, 4], [])
    """
    k = check_clip_frames(k)
    lo, hi = (first, last) if first <= last else (last, first)
    ts = np.asarray(timestamp_s, dtype=np.float64)
    window = ts[lo:hi + 1]
    targets = ts[lo] + (ts[hi] - ts[lo]) * np.arange(1, k - 1) / (k - 1)
    right = np.clip(np.searchsorted(window, targets, side="left"), 0, len(window) - 1)
    left = np.clip(right - 1, 0, len(window) - 1)
    pick = np.where(np.abs(window[left] - targets) <= np.abs(window[right] - targets), left, right) + lo
    return pick.astype(np.int64) if first <= last else pick[::-1].astype(np.int64)


def check_views(views: str) -> str:
    if views not in VIEWS:
        raise ClipError(f"views must be one of {list(VIEWS)}, got {views!r}")
    return views


def _replace(text: str, replacements) -> str:
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def clip_prompt(prompt: str) -> str:
    """The clip wording of a question's prompt (``<image>`` placeholders: one per clip).

    >>> clip_prompt("Image 1: <image>\\nImage 2: <image>\\nTrue or false: between image 1 and image 2, "
    ...             "the camera turned to its left.")
    'Clip (motion m12): <image>\\nTrue or false: over the clip, the camera turned to its left.'

    Raises :class:`ClipError` when a reference to an image or a pair is left (a template this
    module does not know)."""
    out = _replace(prompt, PROMPT_REPLACEMENTS)
    left = _LEFTOVER.search(out)
    if left:
        raise ClipError(f"cannot word this prompt for clips: {left.group(0)!r} is left in {out[:160]!r}...")
    return out


def clip_rationale(text: str | None) -> str | None:
    """The clip wording of a question's rationale (None stays None)."""
    return None if text is None else _replace(text, RATIONALE_REPLACEMENTS)


def clip_options(options) -> list[str]:
    return [OPTION_NAMES.get(o, o) for o in (options or [])]


def clip_roles(image_roles) -> list[list[str]]:
    """The frames of each clip, by role, for a question's ``image_roles`` (pair A first).

    >>> clip_roles(["anchor", "negative"]), clip_roles(["anchor", "negative", "positive"])
    ([['anchor', 'negative']], [['anchor', 'negative'], ['anchor', 'positive']])
    >>> clip_roles(["negative_anchor", "negative", "anchor", "positive"])
    [['negative_anchor', 'negative'], ['anchor', 'positive']]
    """
    r = list(image_roles)
    if len(r) == 2:
        return [r]
    if len(r) == 3:
        return [[r[0], r[1]], [r[0], r[2]]]
    if len(r) == 4:
        return [r[:2], r[2:]]
    raise ClipError(f"a question shows 2, 3 or 4 images, got {len(r)}: {r}")


def clip_groups(n_images: int) -> list[list[int]]:
    """0-based indices of each clip's frames into a question's image list.

    >>> clip_groups(2), clip_groups(3), clip_groups(4)
    ([[0, 1]], [[0, 1], [0, 2]], [[0, 1], [2, 3]])
    """
    return {2: [[0, 1]], 3: [[0, 1], [0, 2]], 4: [[0, 1], [2, 3]]}[n_images]


def sql_replace_chain(column: str, replacements) -> str:
    """The replacements as nested DuckDB ``replace`` calls over ``column`` (applied in order)."""
    expr = column
    for old, new in replacements:
        expr = f"replace({expr}, {_sql(old)}, {_sql(new)})"
    return expr


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''").replace("\n", "' || chr(10) || '") + "'"


def sql_clip_options(column: str) -> str:
    return "list_transform(" + column + ", lambda o: CASE o " + " ".join(
        f"WHEN {_sql(k)} THEN {_sql(v)}" for k, v in OPTION_NAMES.items()) + " ELSE o END)"


def sql_clip_roles(column: str) -> str:
    """:func:`clip_roles` in SQL."""
    c = column
    return (f"CASE len({c}) WHEN 2 THEN [{c}] WHEN 3 THEN [[{c}[1], {c}[2]], [{c}[1], {c}[3]]] "
            f"WHEN 4 THEN [[{c}[1], {c}[2]], [{c}[3], {c}[4]]] END")
