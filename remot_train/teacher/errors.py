"""Classify what went wrong in a student's failed rollouts: temporal, spatial or misconception.

Simple, inspectable heuristics on the rollout text (its reasoning and answer, lower-cased):

* **temporal**: the rollout confuses the order or the pair. Any of
  - a transition the question does not show, e.g. "image 2 to image 1" (reversed) or
    "from image 2 to image 3" when the pairs are 1->2 and 1->3 (``to``, ``->``, ``→``, ``into``,
    ``then`` link the two images);
  - an image number the question does not have ("image 4" in a three-image question);
  - an explicit order word: reverse(d), backwards in time, earlier, later, swap(ped), order,
    sequence, previous, preceding, chronolog*.
* **spatial**: otherwise, when the rollout uses direction words (any value word of the
  attribute, or a generic one: left, right, up, down, clockwise, toward, away, forward,
  backward, open, close, rotate...): it judged a direction and got it wrong.
* **misconception**: everything else (no reasoning about order or direction: an empty or
  off-topic rationale, a format failure, talk about colour or content only).

Over several failed rollouts the majority class wins; ties go temporal > spatial >
misconception (the more specific diagnosis first). No rollouts at all: misconception.
"""

from __future__ import annotations

import re
from collections import Counter

from remot_train.teacher.leak import attribute_vocabulary, displayed_pairs, find_words

_ORDER = re.compile(
    r"\b(?:reversed?|reverses|backwards in time|earlier|later|swap(?:ped|s)?|order|sequence|previous|preceding"
    r"|chronolog\w*)\b")
_TRANSITION = re.compile(
    r"(?:image|frame|img|view)\s*#?(\d+)\s*(?:to|->|→|into|then|and then)\s*"
    r"(?:the\s+)?(?:image|frame|img|view)?\s*#?(\d+)")
_MENTION = re.compile(r"\b(?:image|frame|img|view)\s*#?(\d+)\b")
_GENERIC_DIRECTIONS = frozenset(
    "left right up down upward downward upwards downwards clockwise counterclockwise anticlockwise toward towards "
    "away forward forwards backward backwards open opened opening close closed closing rotate rotated rotating "
    "turn turned turning tilt tilted shift shifted".split())

PRIORITY = ("temporal", "spatial", "misconception")


def classify_rollout(text: str, n_images: int, attribute: str | None = None) -> str:
    """The error class of one failed rollout.

    >>> classify_rollout("From image 2 to image 1 the view slides.", 2)
    'temporal'
    >>> classify_rollout("The scene shifts left, so the camera turned right.", 2, "yaw")
    'spatial'
    >>> classify_rollout("Both images show a room with a red box.", 2, "yaw")
    'misconception'
    """
    t = (text or "").lower()
    shown = set(displayed_pairs(n_images))
    for a, b in _TRANSITION.findall(t):
        if (int(a), int(b)) not in shown:
            return "temporal"
    if any(not 1 <= int(i) <= n_images for i in _MENTION.findall(t)):
        return "temporal"
    if _ORDER.search(t):
        return "temporal"
    vocab = set(_GENERIC_DIRECTIONS) | (set(attribute_vocabulary(attribute)) if attribute else set())
    if find_words(t, vocab):
        return "spatial"
    return "misconception"


def classify_error(failed_rollouts: list[str], n_images: int, attribute: str | None = None) -> str:
    """The majority class over the failed rollouts (ties: temporal > spatial > misconception).

    >>> classify_error(["it went left", "image 3 then image 2", "from image 2 to image 1"], 3, "yaw")
    'temporal'
    >>> classify_error([], 2)
    'misconception'
    """
    if not failed_rollouts:
        return "misconception"
    counts = Counter(classify_rollout(r, n_images, attribute) for r in failed_rollouts)
    best = max(counts.values())
    return next(c for c in PRIORITY if counts.get(c) == best)
