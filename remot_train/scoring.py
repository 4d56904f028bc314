"""Answer parsing and scoring: the one module that training rewards and evaluation both use.

A completion answers inside ``<answer>...</answer>``; the **last** such block counts (a model
may quote the format in its reasoning). Parsing is forgiving about case, whitespace,
parentheses and trailing punctuation, and strict about content: anything that is not a valid
answer for the question's ``parse_rule`` is a format failure, scored as wrong.

Parse rules (the questions contract's ``parse_rule`` column):

* ``choice_letter``: a single option letter, ``A``, ``(b)``, ``B)``, ``Option A``, or the
  option's text itself (``Image 3``, ``Pair A``).
* ``true_false``: ``true``/``false``, ``yes``/``no``, ``t``/``f``.
* ``categorical``: exactly one of the options, as a whole word or phrase (``left``, ``to the
  left``, ``Left.``); naming two options is a format failure.
* ``number``: exactly one number, with an optional unit (``24``, ``about 24 degrees``, ``24°``,
  ``0.3 m``, ``30 cm``, ``0.42 rad``). A unit is converted to the answer's unit (the unit after the
  number in the question's ``answer``); a unit of another kind (metres for an angle) is a format
  failure. Correct when ``|parsed - truth| <= tolerance``. Kept for old releases: an audit found
  the tolerances so loose that one constant answer scored 76-100% on an attribute.
* ``number_mra``: parsed exactly like ``number`` (units, format failures); ``tolerance`` is
  ignored (the questions carry null). Scored by :func:`mean_relative_accuracy` (VSI-Bench's MRA
  over the relative-error thresholds :data:`MRA_THRESHOLDS`, 0.50 ... 0.95): ``score`` is the
  fraction of thresholds ``theta`` with ``|parsed - truth| / |truth| < 1 - theta``, a graded value
  in ``[0, 1]``; ``correct`` means ``score == 1.0`` (within 5% relative error).

Every :class:`Scored` carries ``score``, a float in ``[0, 1]``: 1.0 / 0.0 for the discrete rules
and ``number`` (``correct`` as a float), the MRA for ``number_mra``; a format failure scores 0.
Accuracy (:func:`summarize`'s ``partial``) averages ``score``, so a numeric question contributes
its MRA. :func:`constant_answer_baseline` is the best single constant answer's MRA, the floor a
numeric attribute's accuracy must clear.

Consistency: every question but a numeric blank carries ``relations``, what each answer asserts
about the shown motions (:mod:`remot_train.relations`: orders ``m12 > m34`` and directions
``m12 is left`` / ``m12 is_not opening``); the logic reward checks a completion's statements
against them. Questions that share a ``consistency_group_id`` (the two comparatives of a triplet)
are jointly constrained: a group is consistent when the relations its answers assert can all
hold (no cycle, one value per motion); only groups whose every question was answered count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from remot_train.relations import consistent

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_TRUE = {"true", "yes", "t", "y"}
_FALSE = {"false", "no", "f", "n"}


@dataclass(frozen=True)
class Scored:
    """The outcome of scoring one completion against one question."""

    correct: bool
    parsed: str | None  # the normalised answer, or None on a format failure
    format_ok: bool
    score: float | None = None  # in [0, 1]; None (the default) means ``float(correct)``

    def __post_init__(self):
        if self.score is None:
            object.__setattr__(self, "score", 1.0 if self.correct else 0.0)


def last_answer(completion: str) -> str | None:
    """Text of the last ``<answer>`` block, stripped; None when there is none.

    >>> last_answer("<think>maybe <answer>A</answer>?</think> <answer> B </answer>")
    'B'
    >>> last_answer("no tags here") is None
    True
    """
    blocks = _ANSWER.findall(completion or "")
    return blocks[-1].strip() if blocks else None


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip(".!").strip()).lower()


def parse_choice(text: str, options: list[str] | None) -> str | None:
    """A choice answer as its upper-case letter, or None.

    >>> [parse_choice(t, ["Image 2", "Image 3"]) for t in ["A", "(b)", "B)", "option a", "image 3", "C", "A or B"]]
    ['A', 'B', 'B', 'A', 'B', None, None]
    """
    t = _clean(text)
    letters = [chr(ord("a") + i) for i in range(len(options or []))] or ["a", "b"]
    m = re.fullmatch(r"(?:option\s+)?\(?([a-z])\)?", t)
    if m and m.group(1) in letters:
        return m.group(1).upper()
    for i, opt in enumerate(options or []):
        if t == _clean(opt):
            return letters[i].upper()
    return None


def parse_true_false(text: str) -> str | None:
    """``'true'`` / ``'false'``, or None.

    >>> [parse_true_false(t) for t in ["True", " no ", "YES.", "maybe", "true false"]]
    ['true', 'false', 'true', None, None]
    """
    t = _clean(text)
    if t in _TRUE:
        return "true"
    if t in _FALSE:
        return "false"
    return None


def parse_categorical(text: str, options: list[str]) -> str | None:
    """The one option named in ``text`` (as a whole word or phrase), or None.

    >>> opts = ["clockwise", "counterclockwise"]
    >>> [parse_categorical(t, opts) for t in ["Clockwise.", "counterclockwise", "it rolled clockwise", "clockwise or counterclockwise", "up"]]
    ['clockwise', 'counterclockwise', 'clockwise', None, None]
    >>> parse_categorical("away from the camera", ["away from", "toward"])
    'away from'
    """
    t = _clean(text)
    found = [o for o in options if re.search(r"(?<![\w-])" + re.escape(_clean(o)) + r"(?![\w-])", t)]
    return found[0] if len(found) == 1 else None


#: unit word -> (kind, factor to the kind's base unit: degrees or metres).
_UNITS = {
    **dict.fromkeys(["deg", "degs", "degree", "degrees", "°"], ("angle", 1.0)),
    **dict.fromkeys(["rad", "rads", "radian", "radians"], ("angle", 180.0 / math.pi)),
    **dict.fromkeys(["m", "meter", "meters", "metre", "metres"], ("length", 1.0)),
    **dict.fromkeys(["cm", "centimeter", "centimeters", "centimetre", "centimetres"], ("length", 0.01)),
    **dict.fromkeys(["mm", "millimeter", "millimeters", "millimetre", "millimetres"], ("length", 0.001)),
}
_NUMBER = re.compile(r"(?<![\w.])([-+]?\d+(?:\.\d+)?|[-+]?\.\d+)\s*(°|[a-z]+)?")


def parse_number(text: str, unit: str | None = None) -> float | None:
    """The single number in ``text``, converted to ``unit`` when it carries a unit; else None.

    >>> [parse_number(t, "deg") for t in ["24", "about 24 degrees", "24°", "0.5 rad", "3 m", "1 or 2", "many", "24 or so"]]
    [24.0, 24.0, 24.0, 28.647889757, None, None, None, 24.0]
    >>> [parse_number(t, "cm") for t in ["12 cm", "0.12 m", "120 mm", "-7 centimetres"]]
    [12.0, 12.0, 12.0, -7.0]
    """
    found = _NUMBER.findall(_clean(text))
    if len(found) != 1:
        return None
    number, word = found[0]
    value = float(number)
    if word not in _UNITS or unit is None:  # no unit (a following word that is not a unit is prose)
        return value
    kind, factor = _UNITS[word]
    want_kind, want_factor = _UNITS[unit]
    return round(value * factor / want_factor, 9) if kind == want_kind else None


#: VSI-Bench's confidence thresholds for mean relative accuracy: 0.50, 0.55, ..., 0.95.
MRA_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def mean_relative_accuracy(predicted, truth, thresholds=MRA_THRESHOLDS):
    """Mean relative accuracy of numeric answers, elementwise (VSI-Bench's numeric score).

    ``MRA = mean over theta of 1[|predicted - truth| / |truth| < 1 - theta]``, theta in
    ``thresholds``. Broadcasts over array shapes; returns float64 in [0, 1]. A truth of 0 scores 1
    only for an exact answer; NaN predictions (a format failure) score 0. The inequality is strict,
    as in the VSI-Bench paper, and holds in exact arithmetic (a relative error of exactly
    ``1 - theta`` fails ``theta`` despite rounding in ``1 - theta``), so 20% off passes 0.50 ... 0.75.

    >>> mean_relative_accuracy(24.0, 24.0), mean_relative_accuracy(30.0, 24.0), mean_relative_accuracy(48.0, 24.0)
    (1.0, 0.5, 0.0)
    >>> mean_relative_accuracy([10.0, 12.0, 10.4, 10.5], [10.0, 10.0, 10.0, 10.0]).tolist()
    [1.0, 0.6, 1.0, 0.9]
    """
    if isinstance(predicted, (int, float)) and isinstance(truth, (int, float)):
        return _mra_scalar(float(predicted), float(truth), thresholds)  # the reward's path: no numpy overhead
    import numpy as np

    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(t != 0, np.abs(p - t) / np.abs(t), np.where(p == t, 0.0, np.inf))
    rel = np.where(np.isnan(rel), np.inf, rel)
    th = np.asarray(thresholds, dtype=np.float64)
    out = (rel[..., None] < (1.0 - th) - 1e-12).mean(axis=-1)
    return float(out) if out.ndim == 0 else out


def _mra_scalar(p: float, t: float, thresholds=MRA_THRESHOLDS) -> float:
    """:func:`mean_relative_accuracy` of two floats, in plain Python (the same IEEE arithmetic)."""
    if t != 0:
        rel = abs(p - t) / abs(t)
    else:
        rel = 0.0 if p == t else math.inf
    if math.isnan(rel):
        rel = math.inf
    return sum(rel < (1.0 - float(th)) - 1e-12 for th in thresholds) / len(thresholds)


def _number_and_unit(answer: str) -> tuple[float, str | None]:
    number, _, unit = answer.strip().partition(" ")
    return float(number), (unit.strip() or None)


def score(completion: str, answer: str, parse_rule: str, options: list[str] | None = None,
          tolerance: float | None = None) -> Scored:
    """Score one completion against one question's ``answer`` under its ``parse_rule``.

    >>> score("<think>the view shifted right</think><answer>(A)</answer>", "A", "choice_letter", ["Image 2", "Image 3"])
    Scored(correct=True, parsed='A', format_ok=True, score=1.0)
    >>> score("<answer>maybe</answer>", "true", "true_false")
    Scored(correct=False, parsed=None, format_ok=False, score=0.0)
    >>> score("<answer>about 30 degrees</answer>", "24 deg", "number", tolerance=10.0)
    Scored(correct=True, parsed='30', format_ok=True, score=1.0)
    >>> score("<answer>to the left</answer>", "left", "categorical", ["left", "right"])
    Scored(correct=True, parsed='left', format_ok=True, score=1.0)

    ``number_mra`` grades the relative error (30 for 24 is 25% off: half the thresholds pass);
    units convert, and within 5% counts as ``correct``:

    >>> score("<answer>about 30 degrees</answer>", "24 deg", "number_mra")
    Scored(correct=False, parsed='30', format_ok=True, score=0.5)
    >>> score("<answer>140 cm</answer>", "1.4 m", "number_mra")
    Scored(correct=True, parsed='1.4', format_ok=True, score=1.0)
    >>> score("<answer>2 metres</answer>", "24 deg", "number_mra").score
    0.0
    """
    text = last_answer(completion)
    if text is None:
        return Scored(False, None, False)
    if parse_rule == "choice_letter":
        parsed = parse_choice(text, options)
        return Scored(parsed is not None and parsed == answer.strip().upper(), parsed, parsed is not None)
    if parse_rule == "true_false":
        parsed = parse_true_false(text)
        return Scored(parsed is not None and parsed == parse_true_false(answer), parsed, parsed is not None)
    if parse_rule == "categorical":
        parsed = parse_categorical(text, list(options or []))
        return Scored(parsed is not None and _clean(parsed) == _clean(answer), parsed, parsed is not None)
    if parse_rule in ("number", "number_mra"):
        truth, unit = _number_and_unit(answer)
        value = parse_number(text, unit)
        if value is None:
            return Scored(False, None, False)
        if parse_rule == "number":
            ok = abs(value - truth) <= (tolerance or 0.0) + 1e-9
            return Scored(ok, f"{value:g}", True)
        mra = mean_relative_accuracy(value, truth)
        return Scored(mra == 1.0, f"{value:g}", True, mra)
    raise ValueError(f"unknown parse_rule {parse_rule!r}; known: {', '.join(PARSE_RULES)}")


#: The parse rules :func:`score` knows.
PARSE_RULES = ("choice_letter", "true_false", "categorical", "number", "number_mra")


def constant_answer_baseline(train_truth, test_truth) -> dict:
    """The best single constant answer for a numeric attribute, chosen on ``train_truth``, and its
    mean MRA (:func:`mean_relative_accuracy`) on ``test_truth``.

    The constant maximises the mean MRA over the train truths. Candidates: the distinct train
    values, 101 quantiles, and the exact maximiser (a truth passes threshold ``theta`` for the
    answers in an open interval around it, so the best constant lies where most of those
    intervals overlap: the midpoint of that region). Candidates are ranked by counting the truths
    in each interval (sorted search, ``O(n log n)``); the leaders (up to 64, nearest the train
    median first) are scored directly, with the exact maximiser always among them. Ties go to the candidate nearest the train median, then the
    smaller. Deterministic; non-finite values
    are dropped. Returns ``{"constant", "train_mra", "test_mra", "n_test"}`` (``test_mra`` is NaN
    without test values). Raises ValueError without a finite train value.

    >>> b = constant_answer_baseline([10.0, 10.0, 10.0, 40.0], [10.0, 20.0])
    >>> b["constant"], b["train_mra"], b["test_mra"], b["n_test"]
    (10.0, 0.75, 0.5, 2)
    >>> constant_answer_baseline([24.0] * 5, [24.0, 25.0])["test_mra"]
    1.0
    """
    import numpy as np

    train = np.asarray(train_truth, dtype=np.float64).ravel()
    test = np.asarray(test_truth, dtype=np.float64).ravel()
    train, test = np.sort(train[np.isfinite(train)]), test[np.isfinite(test)]
    if train.size == 0:
        raise ValueError("constant_answer_baseline needs at least one finite train truth")
    exact = _overlap_maximiser(train)
    candidates = np.unique(np.concatenate([train, np.quantile(train, np.linspace(0.0, 1.0, 101)), exact]))
    ranked = _interval_counts(candidates, train)
    median = float(np.median(train))
    near = candidates[ranked >= ranked.max() - 2]  # rounding in the ranking: score the leaders directly
    # The exact maximiser is always scored: the 64 nearest the median can all be lesser leaders.
    top = np.unique(np.concatenate([near[np.lexsort((near, np.abs(near - median)))][:64], exact]))
    means = mean_relative_accuracy(top[:, None], train[None, :]).mean(axis=1)
    best = np.flatnonzero(means >= means.max() - 1e-12)
    pick = min(best, key=lambda k: (abs(top[k] - median), top[k]))
    constant = float(top[pick])
    test_mra = float(np.mean(mean_relative_accuracy(constant, test))) if test.size else float("nan")
    return {"constant": constant, "train_mra": float(means[pick]), "test_mra": test_mra, "n_test": int(test.size)}


def _radii():
    """``1 - theta`` for each MRA threshold, less the margin :func:`mean_relative_accuracy` applies."""
    import numpy as np

    return 1.0 - np.asarray(MRA_THRESHOLDS, dtype=np.float64) - 1e-12


def _interval_counts(candidates, sorted_truth):
    """For each candidate ``c``: how many (truth, theta) pairs it passes (``|c - t| < r |t|``).

    For ``c > 0`` that is ``c / (1 + r) < t < c / (1 - r)`` (and mirrored for ``c < 0``); ``c = 0``
    passes only the zero truths, every theta.
    """
    import numpy as np

    c = candidates[:, None]
    r = _radii()[None, :]
    a, b = c / (1.0 + r), c / (1.0 - r)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    inside = np.searchsorted(sorted_truth, hi, side="left") - np.searchsorted(sorted_truth, lo, side="right")
    counts = np.maximum(inside, 0).sum(axis=1).astype(np.float64)
    zeros = np.count_nonzero(sorted_truth == 0)
    return np.where(candidates == 0, zeros * r.shape[1], counts)


def _overlap_maximiser(truth):
    """Midpoint of the region where the most MRA pass intervals overlap (empty without any).

    Truth ``t`` passes threshold ``theta`` for answers in the open interval ``t -+ r|t|``,
    ``r = 1 - theta``; a constant's mean MRA is the number of such intervals containing it, over
    ``10 n``.
    """
    import numpy as np

    t = truth[truth != 0]
    if t.size == 0:
        return np.empty(0)
    half = _radii()[None, :] * np.abs(t)[:, None]
    lo, hi = (t[:, None] - half).ravel(), (t[:, None] + half).ravel()
    coords = np.concatenate([lo, hi])
    deltas = np.concatenate([np.ones(lo.size), -np.ones(hi.size)])
    order = np.lexsort((deltas, coords))  # by coordinate; at a tie, closings (open intervals) first
    coords, inside = coords[order], np.cumsum(deltas[order])
    gap = coords[1:] > coords[:-1]
    if not gap.any():
        return np.empty(0)
    k = np.flatnonzero(gap)[np.argmax(inside[:-1][gap])]
    return np.array([(coords[k] + coords[k + 1]) / 2.0])


def asserted_relations(parsed: str | None, relations: list[dict] | None) -> list[tuple[str, str, str]]:
    """The relations that the (parsed) answer asserts, from a question's ``relations`` column
    (order relations ``< > =`` and direction relations ``is`` / ``is_not``; answers match
    case-insensitively).

    >>> rel = [{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"}, {"if_answer": "B", "left": "m34", "op": ">", "right": "m12"}]
    >>> asserted_relations("B", rel), asserted_relations(None, rel)
    ([('m34', '>', 'm12')], [])
    >>> asserted_relations("TRUE", [{"if_answer": "true", "left": "m12", "op": "is", "right": "left"},
    ...                             {"if_answer": "false", "left": "m12", "op": "is", "right": "right"}])
    [('m12', 'is', 'left')]
    """
    if parsed is None:
        return []
    return [(r["left"], r["op"], r["right"]) for r in (relations or []) if str(r["if_answer"]).upper() == parsed.upper()]


def consistency_rate(rows: list[dict]) -> dict | None:
    """The fraction of consistency groups whose answered relations can all hold (no cycle, one
    value per motion; :func:`remot_train.relations.consistent`).

    ``rows``: scored questions with ``consistency_group_id``, ``relations`` and ``parsed``. Only
    groups whose every question has a parsed answer count (a model that never answers is not
    "consistent"; its format failures are reported separately). None when no group qualifies.

    >>> rel = [{"if_answer": "A", "left": "A", "op": ">", "right": "B"}, {"if_answer": "B", "left": "B", "op": ">", "right": "A"}]
    >>> less = [{**r, "op": "<"} for r in rel]
    >>> rows = [dict(consistency_group_id="g", relations=rel, parsed="A"), dict(consistency_group_id="g", relations=less, parsed="A"),
    ...         dict(consistency_group_id="h", relations=rel, parsed="A"), dict(consistency_group_id="h", relations=less, parsed="B"),
    ...         dict(consistency_group_id="k", relations=rel, parsed=None), dict(consistency_group_id="k", relations=less, parsed="B")]
    >>> m = consistency_rate(rows); (m["value"], m["n"])
    (0.5, 2)
    """
    groups: dict[str, list] = {}
    answered: dict[str, bool] = {}
    for r in rows:
        g = r.get("consistency_group_id")
        if g:
            groups.setdefault(g, []).extend(asserted_relations(r.get("parsed"), r.get("relations")))
            answered[g] = answered.get(g, True) and r.get("parsed") is not None
    counted = [g for g in groups if answered[g]]
    if not counted:
        return None
    ok = sum(consistent(groups[g]) for g in counted)
    return {"value": ok / len(counted), "count": ok, "n": len(counted), "ci95": wilson_interval(ok, len(counted))}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (well behaved at 0, 1 and small n).

    >>> [round(x, 3) for x in wilson_interval(45, 50)]
    [0.786, 0.957]
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _row_score(r: dict) -> float:
    """A record's score: its ``score`` when present (and not None), else ``float(correct)``."""
    value = r.get("score")
    return float(bool(r["correct"])) if value is None else float(value)


def _count(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def summarize(rows: list[dict], by: tuple[str, ...] = ("domain", "attribute", "question_type")) -> dict:
    """Benchmark metrics from scored questions.

    ``rows``: one dict per question with ``triplet_id``, ``correct`` (bool), ``format_ok`` (bool),
    optionally ``score`` (in [0, 1]; ``float(correct)`` when absent) and ``parse_rule``, and the
    breakdown keys (and, for the consistency metric, ``consistency_group_id``, ``relations`` and
    ``parsed``). Returns, each as ``{"value", "count", "n", "ci95"}``:

    * ``partial``: per-question accuracy, the mean ``score`` (a ``number_mra`` question counts its
      MRA; ``count`` is the sum of scores);
    * ``exact``: the fraction of questions ``correct`` (``number_mra``: within 5%);
    * ``overall``: triplet accuracy, the mean over triplets of their questions' lowest score
      (with 0/1 scores: the fraction of triplets whose questions are *all* correct);
    * ``format_failure_rate``; ``truncation_rate`` when the rows carry ``truncated``;
      ``numeric_mra`` (the mean score of the ``number_mra`` questions) when there are any;
      ``logical_consistency`` when there are consistency groups;

    and the same per value of every key in ``by``, under ``by``. The 95% intervals are Wilson's;
    for graded scores they treat the summed score as the count of successes (an approximation:
    a score in [0, 1] with mean p varies no more than a 0/1 outcome with mean p).

    >>> rows = [dict(triplet_id="t1", correct=True, format_ok=True, domain="nav"),
    ...         dict(triplet_id="t1", correct=False, format_ok=False, domain="nav"),
    ...         dict(triplet_id="t2", correct=True, format_ok=True, domain="sim")]
    >>> m = summarize(rows, by=("domain",))
    >>> m["overall"]["value"], m["partial"]["value"], m["by"]["domain"]["nav"]["overall"]["value"]
    (0.5, 0.6666666666666666, 0.0)
    >>> rows = [dict(triplet_id="t1", correct=True, format_ok=True, parse_rule="true_false"),
    ...         dict(triplet_id="t1", correct=False, score=0.5, format_ok=True, parse_rule="number_mra")]
    >>> m = summarize(rows, by=())
    >>> m["partial"]["value"], m["exact"]["value"], m["overall"]["value"], m["numeric_mra"]["value"]
    (0.75, 0.5, 0.5, 0.5)
    """

    def metric(k, n):
        return {"value": k / n if n else 0.0, "count": _count(k), "n": n, "ci95": wilson_interval(k, n)}

    def block(rs: list[dict]) -> dict:
        triplets: dict[str, float] = {}
        for r in rs:
            triplets[r["triplet_id"]] = min(triplets.get(r["triplet_id"], 1.0), _row_score(r))
        n_q, n_t = len(rs), len(triplets)
        out = {"overall": metric(sum(triplets.values()), n_t),
               "partial": metric(sum(_row_score(r) for r in rs), n_q),
               "exact": metric(sum(bool(r["correct"]) for r in rs), n_q),
               "format_failure_rate": metric(sum(not r["format_ok"] for r in rs), n_q)}
        if any("truncated" in r for r in rs):
            out["truncation_rate"] = metric(sum(bool(r.get("truncated")) for r in rs), n_q)
        numeric = [_row_score(r) for r in rs if r.get("parse_rule") == "number_mra"]
        if numeric:
            out["numeric_mra"] = metric(sum(numeric), len(numeric))
        logic = consistency_rate(rs)
        if logic is not None:
            out["logical_consistency"] = logic
        return out

    out = block(rows)
    out["by"] = {}
    for key in by:
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(str(r[key]), []).append(r)
        out["by"][key] = {value: block(rs) for value, rs in sorted(groups.items())}
    return out
