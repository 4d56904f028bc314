"""The Robust Improvement Reward (FFR), with the dependency-alignment term the public code lacks.

    RIR = outcome validity + dependency alignment - kappa * [assisted]

* **Outcome validity**: 1 when the final answer is correct (:func:`remot_train.scoring.score`,
  the function evaluation uses), else 0; a format failure is wrong.
* **Dependency alignment** (:func:`alignment_score`, in [0, 1]): how much of the teacher's
  evidence the rationale cites. By default it counts only for a correct answer
  (``gate_alignment=True``): otherwise a wrong answer that parrots the patch would earn as much
  as a right one that does not, which invites citation-stuffing. Without a patch it is 0.
* **Patch tax**: ``kappa`` (default 0.3, FFR's best value) for a rollout generated with the
  patch in its prompt. With equal correctness and alignment an unassisted rollout scores higher,
  which is what "prefer unassisted rollouts" means.

To make alignment comparable inside a GRPO group, pass the group's patch to *all* of its
completions (``patch`` column), assisted or not; ``assisted`` says which ones saw it.

Alignment, precisely. The rationale is the completion's text before its last ``<answer>``
(think tags removed). The patch's evidence has up to three components, weighted
``frames 0.4``, ``region 0.3``, ``cue 0.3``; a component the patch lacks is left out and the
remaining weights are renormalised:

* **frames**: the fraction of the patch's frames the rationale cites, as "image 2", "frame 2",
  "img 2", "view 2", "picture #2", or by its timestamp ("t=1.5 s", "1.50 s", "1.5 seconds",
  within 0.05 s) when that time names a single frame of the patch;
* **region**: 1.0 when the rationale locates a box specifically (two or more of a box's
  coordinates within 0.05, or the box's position words such as "bottom", "top-right", "upper
  left"), 0.5 when it only refers to it generically ("box", "boxed", "region", "zoom", "crop",
  "highlighted"), else 0;
* **cue**: the patch text's content words (four letters or more, minus instruction and
  function words such as "compare", "inside", "image", "region") that the rationale uses,
  matched on a six-letter stem ("textured" ~ "texture"); three matches (or all of them, when
  there are fewer) give 1.0.
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
WEIGHTS = {"frames": 0.4, "region": 0.3, "cue": 0.3}
CUE_MATCHES_FOR_FULL = 3

_FRAME_REF = r"\b(?:image|frame|img|view|picture)s?\s*(?:#|no\.?|number)?\s*{i}\b"
_TIME = re.compile(r"(?:\bt\s*=\s*)?(?<![\w.])(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)\b", re.IGNORECASE)
_GENERIC_REGION = re.compile(r"\b(?:box|boxes|boxed|region|regions|zoom|zoomed|crop|crops|cropped|highlighted)\b",
                             re.IGNORECASE)
_NUMBER01 = re.compile(r"(?<![\w.])(0?\.\d+|[01](?:\.0+)?)(?![\w.])")
_CUE_STOP = frozenset(
    "compare comparing look looking inside within same both each pair pairs image images region regions boxed box "
    "boxes lies near part first second order shown read judge much changes change then side amounts amount relative "
    "size asked about goes from with that this which there their these those into onto over under between against "
    "where what when them they than also only just very teacher evidence again drawn time since fractions width "
    "height the and for are was were been being have has had does did will would could should".split())
_THINK = re.compile(r"</?think>", re.IGNORECASE)


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


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _stem(word: str) -> str:
    return word[:6] if len(word) > 6 else word.rstrip("s")


def cue_words(patch_text: str) -> list[str]:
    """The patch text's content words (cue component), in order, without repeats.

    >>> cue_words("Compare the horizontal position of the textured edge inside the boxed region of image 1.")
    ['horizontal', 'position', 'textured', 'edge']
    """
    out: list[str] = []
    for w in _words(patch_text):
        if len(w) >= 4 and w not in _CUE_STOP and w not in out:
            out.append(w)
    return out


def _position_words(box: tuple) -> set[str]:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    words = set()
    if cy < 0.36:
        words |= {"top", "upper"}
    elif cy > 0.64:
        words |= {"bottom", "lower"}
    if cx < 0.36:
        words.add("left")
    elif cx > 0.64:
        words.add("right")
    if not words:
        words |= {"centre", "center", "middle", "central"}
    return words


def _frames_score(text: str, patch: EvidencePatch) -> float:
    low = text.lower()
    cited = {i for i in patch.frames if re.search(_FRAME_REF.format(i=i), low)}
    if patch.timestamps_s is not None:
        for m in _TIME.finditer(low):
            t = float(m.group(1))
            hits = [i for i, ti in zip(patch.frames, patch.timestamps_s) if abs(ti - t) <= 0.05]
            if len(hits) == 1:
                cited.add(hits[0])
    return len(cited) / len(patch.frames)


def _region_score(text: str, patch: EvidencePatch) -> float:
    numbers = [float(x) for x in _NUMBER01.findall(text)]
    tokens = set(_words(text))
    for r in patch.regions:
        coords = r[1:]
        if sum(any(abs(n - c) <= 0.05 for n in numbers) for c in coords) >= 2:
            return 1.0
        if tokens & _position_words(coords) and _GENERIC_REGION.search(text):
            return 1.0
    return 0.5 if _GENERIC_REGION.search(text) else 0.0


def _cue_score(text: str, patch: EvidencePatch) -> float | None:
    cues = cue_words(patch.text)
    if not cues:
        return None
    tokens = set(_words(text))
    matched = sum(any(t.startswith(_stem(c)) for t in tokens) for c in cues)
    return min(1.0, matched / min(CUE_MATCHES_FOR_FULL, len(cues)))


def alignment_score(rationale_text: str, patch: EvidencePatch | str | dict | None) -> float:
    """How much of ``patch``'s evidence ``rationale_text`` cites, in [0, 1] (module doc).

    >>> p = EvidencePatch("spatial", [1, 2], "Compare the horizontal position of the textured edge.",
    ...                   regions=[(1, 0.3, 0.6, 0.7, 1.0), (2, 0.3, 0.6, 0.7, 1.0)])
    >>> alignment_score("In the boxed region at the bottom, the textured edge of image 1 sits at another "
    ...                 "horizontal position in image 2.", p)
    1.0
    >>> alignment_score("The camera turned.", p)
    0.0
    """
    patch = as_patch(patch)
    if patch is None:
        return 0.0
    text = rationale_text or ""
    parts = {"frames": _frames_score(text, patch)}
    if patch.regions:
        parts["region"] = _region_score(text, patch)
    cue = _cue_score(text, patch)
    if cue is not None:
        parts["cue"] = cue
    total = sum(WEIGHTS[k] for k in parts)
    return round(sum(WEIGHTS[k] * v for k, v in parts.items()) / total, 6)


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
                   alignment_weight: float = 1.0, gate_alignment: bool = True) -> dict:
    """The RIR of one completion and its parts: ``outcome``, ``alignment``, ``tax``, ``rir``."""
    text = completion_text(completion)
    scored = score_row(text, answer, parse_rule, options, tolerance)
    align = alignment_score(rationale(text), patch)
    if gate_alignment and not scored.correct:
        align = 0.0
    tax = kappa if bool(assisted) else 0.0
    outcome = scored.score  # 1/0, or the mean relative accuracy of a numeric answer
    return {"outcome": outcome, "alignment": align, "tax": tax, "rir": outcome + alignment_weight * align - tax}


def make_rir_reward(kappa: float = DEFAULT_KAPPA, alignment_weight: float = 1.0, gate_alignment: bool = True):
    """A trl reward function ``f(prompts, completions, completion_ids, **columns)`` computing the RIR.

    Columns, one value per completion: ``answer``, ``parse_rule`` (required; a row where either
    is None gets None, which trl skips), ``options``, ``tolerance``, ``patch`` (the group's patch
    as JSON text, dict or EvidencePatch; None when there is none) and ``assisted`` (bool; None
    means False).

    >>> f = make_rir_reward(kappa=0.3)
    >>> patch = EvidencePatch("spatial", [1, 2], "Compare the horizontal position of the textured edge.").to_json()
    >>> f(completions=["image 1 vs image 2: the textured edge moved horizontal position</think><answer>true</answer>",
    ...                "no idea</think><answer>true</answer>"],
    ...   answer=["true", "true"], parse_rule=["true_false", "true_false"], patch=[patch, patch],
    ...   assisted=[True, False])
    [1.7, 1.0]
    """
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0, got {kappa}")

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
            c = rir_components(completion, answer, rule, options, tol, patch, bool(assisted), kappa,
                               alignment_weight, gate_alignment)
            out.append(round(c["rir"], 6))
        return out

    rir.__name__ = "rir"
    rir.__qualname__ = "rir"
    return rir
