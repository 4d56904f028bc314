"""The Robust Improvement Reward (FFR): outcome, an optional structural alignment term, a patch tax.

    RIR = outcome + alignment_weight * alignment - kappa * [assisted]

* **Outcome**: the answer's ``score`` by :func:`remot_train.scoring.score`, the function
  evaluation uses (1/0; graded for ``number_mra``); a format failure is wrong. This is what the
  task (accuracy) reward pays, so in FFR the RIR *replaces* the task reward, at its weight
  (:func:`remot_train.trainers.ffr.rir_in_place_of_task`): with ReMoT's 3.5, a correct answer is
  worth 3.5 and the patch tax ``kappa`` = 0.3 costs 3.5 x 0.3 = 1.05, the trade-off FFR tunes.
* **Patch tax**: ``kappa`` (default 0.3, FFR's best value) for a rollout generated with the
  patch in its prompt (``assisted``). With equal outcome an unassisted rollout scores higher.
* **Alignment** (:func:`alignment_score`, in [0, 1]), **off by default** (``alignment_weight``
  0). It is structural: a rationale earns it only by citing the patch's *regions* in a
  checkable notation, ``image K (x0, y0, x1, y1)`` (fractions of the width and height, x right,
  y down; square brackets and a colon after K are accepted), and a cited box counts when it lies
  on the same image as one of the patch's regions and overlaps it (IoU >= :data:`IOU_MIN`).
  ``alignment = matched regions / max(patch regions, distinct cited boxes)``, so spraying boxes
  lowers it. Only a correct answer earns it (``gate_alignment``).

Why structural, and why off by default. The chosen repair is trained under the *original*
prompt, so what a rationale cites must mean something there: "image 2" and a box on image 2 do
(the original prompt shows image 2), "the boxed region" and "zoom 1" do not (there is no box or
zoom in the original prompt). Frame indices alone earn nothing: the patch usually names the very
images the question shows, so a rationale that never saw the patch says "image 1 ... image 2"
as naturally as one that did. A box that overlaps the teacher's region is something a rationale
that never saw the patch hits only by localising the same evidence itself, which is the
behaviour worth paying for. What this does not check is that the answer *depends* on the cited
evidence (that needs the answer's log-probability with and without the evidence, a forward pass
per rollout inside the reward), so the term stays off unless a recipe turns it on
(``ffr: alignment_weight``).

To make alignment comparable inside a GRPO group, pass the group's patch to *all* of its
completions (``patch`` column), assisted or not; ``assisted`` says which ones saw it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from remot_train.rewards._common import column, completion_text
from remot_train.rewards.task import score_row
from remot_train.teacher.patch import EvidencePatch, PatchSchemaError

log = logging.getLogger(__name__)

DEFAULT_KAPPA = 0.3
#: Alignment is off unless a recipe sets ``ffr: alignment_weight`` (module doc).
DEFAULT_ALIGNMENT_WEIGHT = 0.0
#: The overlap a cited box needs with a patch region to count as citing it.
IOU_MIN = 0.5

_NUM = r"(\d*\.?\d+)"
_SEP = r"\s*,\s*"
#: ``image K (x0, y0, x1, y1)``: the region notation a rationale cites evidence in.
BOX_NOTATION = re.compile(
    r"\bimage\s*(\d+)\s*:?\s*[(\[]\s*" + _SEP.join([_NUM] * 4) + r"\s*[)\]]", re.IGNORECASE)
_THINK = re.compile(r"</?think>", re.IGNORECASE)

Box = tuple[int, float, float, float, float]


def rationale(text: str) -> str:
    """The reasoning part of a completion: the text before its last ``<answer>``, think tags removed.

    >>> rationale("<think>image 2 shifts</think><answer>A</answer>")
    'image 2 shifts'
    """
    text = text or ""
    cut = text.lower().rfind("<answer>")
    if cut != -1:
        text = text[:cut]
    return _THINK.sub(" ", text).strip()


def cited_boxes(text: str) -> list[Box]:
    """The distinct well-formed boxes ``image K (x0, y0, x1, y1)`` a text cites, in order
    (coordinates in [0, 1] with ``x0 < x1`` and ``y0 < y1``; others are ignored).

    >>> cited_boxes("the edge in image 2 (0.30, 0.60, 0.70, 1.00) and Image 1: [.3, .6, .7, 1]; image 3 (0.5, 0, 0.2, 1)")
    [(2, 0.3, 0.6, 0.7, 1.0), (1, 0.3, 0.6, 0.7, 1.0)]
    """
    out: list[Box] = []
    for m in BOX_NOTATION.finditer(text or ""):
        image, coords = int(m.group(1)), [float(g) for g in m.groups()[1:]]
        x0, y0, x1, y1 = coords
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            continue
        box = (image, *(round(c, 4) for c in coords))
        if box not in out:
            out.append(box)
    return out


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes.

    >>> iou((0, 0, 1, 1), (0, 0, 0.5, 1)), iou((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1))
    (0.5, 0.0)
    """
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def alignment_score(rationale_text: str, patch: EvidencePatch | str | dict | None) -> float:
    """How much of ``patch``'s regions ``rationale_text`` cites, in [0, 1] (module doc); 0
    without a patch or when the patch has no region.

    >>> p = EvidencePatch("spatial", [1, 2], "Compare the horizontal position of the textured edge.",
    ...                   regions=[(1, 0.3, 0.6, 0.7, 1.0), (2, 0.3, 0.6, 0.7, 1.0)])
    >>> alignment_score("The edge in image 1 (0.30, 0.60, 0.70, 1.00) sits further left in image 2 (0.3, 0.6, 0.7, 1.0).", p)
    1.0
    >>> alignment_score("In the boxed region of image 1 and image 2, zoom 1 shows the textured edge moved.", p)
    0.0
    """
    patch = as_patch(patch)
    if patch is None or not patch.regions:
        return 0.0
    boxes = cited_boxes(rationale_text)
    if not boxes:
        return 0.0
    matched = sum(any(b[0] == r[0] and iou(b[1:], r[1:]) >= IOU_MIN for b in boxes) for r in patch.regions)
    return round(matched / max(len(patch.regions), len(boxes)), 6)


def as_patch(patch: Any) -> EvidencePatch | None:
    """An :class:`EvidencePatch` from a patch, its JSON text or dict; None for None, ``""`` or an
    invalid patch (logged)."""
    if patch is None or isinstance(patch, EvidencePatch):
        return patch
    if isinstance(patch, str) and not patch.strip():
        return None
    try:
        return EvidencePatch.from_json(patch)
    except PatchSchemaError as exc:
        log.warning("ignoring an invalid patch in the reward's patch column: %s", exc)
        return None


def rir_components(completion: Any, answer: Any, parse_rule: Any, options: Any = None, tolerance: Any = None,
                   patch: Any = None, assisted: Any = False, kappa: float = DEFAULT_KAPPA,
                   alignment_weight: float = DEFAULT_ALIGNMENT_WEIGHT, gate_alignment: bool = True) -> dict:
    """The RIR of one completion and its parts: ``outcome``, ``alignment``, ``tax``, ``rir``.

    >>> rir_components("</think><answer>true</answer>", "true", "true_false", assisted=True)["rir"]
    0.7
    """
    text = completion_text(completion)
    scored = score_row(text, answer, parse_rule, options, tolerance)
    align = alignment_score(rationale(text), patch) if alignment_weight else 0.0
    if gate_alignment and not scored.correct:
        align = 0.0
    tax = kappa if bool(assisted) else 0.0
    outcome = float(scored.score)
    return {"outcome": outcome, "alignment": align, "tax": tax,
            "rir": round(outcome + alignment_weight * align - tax, 6)}


def make_rir_reward(kappa: float = DEFAULT_KAPPA, alignment_weight: float = DEFAULT_ALIGNMENT_WEIGHT,
                    gate_alignment: bool = True):
    """A trl reward function ``f(prompts, completions, completion_ids, **columns)`` named ``rir``.

    Columns, one value per completion: ``answer``, ``parse_rule`` (required; a row where either
    is None gets None, which trl skips), ``options``, ``tolerance``, ``patch`` (the group's patch
    as JSON text, dict or EvidencePatch; None when there is none) and ``assisted`` (bool; None
    means False).

    >>> patch = EvidencePatch("spatial", [1, 2], "Compare the edge.", regions=[(2, 0.3, 0.6, 0.7, 1.0)]).to_json()
    >>> cites = "the edge in image 2 (0.3, 0.6, 0.7, 1.0) moved</think><answer>true</answer>"
    >>> kw = dict(answer=["true"] * 3, parse_rule=["true_false"] * 3, patch=[patch] * 3, assisted=[True, False, False])
    >>> make_rir_reward(kappa=0.3)(completions=[cites, cites, "</think><answer>false</answer>"], **kw)
    [0.7, 1.0, 0.0]
    >>> make_rir_reward(kappa=0.3, alignment_weight=0.5)(completions=[cites, cites, "</think><answer>true</answer>"], **kw)
    [1.2, 1.5, 1.0]
    """
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0, got {kappa}")
    if alignment_weight < 0:
        raise ValueError(f"alignment_weight must be >= 0, got {alignment_weight}")

    def rir(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
            **columns: Any) -> list[float | None]:
        n = len(completions)
        rows = zip(completions, column(columns, "answer", n), column(columns, "parse_rule", n),
                   column(columns, "options", n), column(columns, "tolerance", n), column(columns, "patch", n),
                   column(columns, "assisted", n), strict=True)
        out: list[float | None] = []
        for completion, answer, rule, options, tol, patch, assisted in rows:
            if answer is None or rule is None:
                out.append(None)
                continue
            out.append(rir_components(completion, answer, rule, options, tol, patch, bool(assisted), kappa,
                                      alignment_weight, gate_alignment)["rir"])
        return out

    rir.__name__ = "rir"
    rir.__qualname__ = "rir"
    return rir
