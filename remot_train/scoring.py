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
  failure. Correct when ``|parsed - truth| <= tolerance``.

Consistency: questions that share a ``consistency_group_id`` carry ``relations`` (what each
answer asserts, :mod:`remot_train.relations`). A group is consistent when the relations its
answers assert admit no cycle; only groups whose every question was answered are counted.
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


def _number_and_unit(answer: str) -> tuple[float, str | None]:
    number, _, unit = answer.strip().partition(" ")
    return float(number), (unit.strip() or None)


def score(completion: str, answer: str, parse_rule: str, options: list[str] | None = None,
          tolerance: float | None = None) -> Scored:
    """Score one completion against one question's ``answer`` under its ``parse_rule``.

    >>> score("<think>the view shifted right</think><answer>(A)</answer>", "A", "choice_letter", ["Image 2", "Image 3"])
    Scored(correct=True, parsed='A', format_ok=True)
    >>> score("<answer>maybe</answer>", "true", "true_false")
    Scored(correct=False, parsed=None, format_ok=False)
    >>> score("<answer>about 30 degrees</answer>", "24 deg", "number", tolerance=10.0)
    Scored(correct=True, parsed='30', format_ok=True)
    >>> score("<answer>to the left</answer>", "left", "categorical", ["left", "right"])
    Scored(correct=True, parsed='left', format_ok=True)
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
    if parse_rule == "number":
        truth, unit = _number_and_unit(answer)
        value = parse_number(text, unit)
        if value is None:
            return Scored(False, None, False)
        ok = abs(value - truth) <= (tolerance or 0.0) + 1e-9
        return Scored(ok, f"{value:g}", True)
    raise ValueError(f"unknown parse_rule {parse_rule!r}; known: choice_letter, true_false, categorical, number")


def asserted_relations(parsed: str | None, relations: list[dict] | None) -> list[tuple[str, str, str]]:
    """The relations that the (parsed) answer asserts, from a question's ``relations`` column.

    >>> rel = [{"if_answer": "A", "left": "A", "op": ">", "right": "B"}, {"if_answer": "B", "left": "B", "op": ">", "right": "A"}]
    >>> asserted_relations("B", rel), asserted_relations(None, rel)
    ([('B', '>', 'A')], [])
    """
    if parsed is None:
        return []
    return [(r["left"], r["op"], r["right"]) for r in (relations or []) if str(r["if_answer"]).upper() == parsed.upper()]


def consistency_rate(rows: list[dict]) -> dict | None:
    """The fraction of consistency groups whose answered relations admit no cycle.

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


def summarize(rows: list[dict], by: tuple[str, ...] = ("domain", "attribute", "question_type")) -> dict:
    """Benchmark metrics from scored questions.

    ``rows``: one dict per question with ``triplet_id``, ``correct`` (bool), ``format_ok`` (bool)
    and the breakdown keys (and, for the consistency metric, ``consistency_group_id``,
    ``relations`` and ``parsed``). Returns ``overall`` (the fraction of triplets whose questions
    are *all* correct), ``partial`` (per-question accuracy), ``format_failure_rate``, when the
    rows carry ``truncated`` the ``truncation_rate`` and, when there are consistency groups,
    ``logical_consistency``, each with its count and 95% Wilson
    interval, and the same per value of every key in ``by``.

    >>> rows = [dict(triplet_id="t1", correct=True, format_ok=True, domain="nav"),
    ...         dict(triplet_id="t1", correct=False, format_ok=False, domain="nav"),
    ...         dict(triplet_id="t2", correct=True, format_ok=True, domain="sim")]
    >>> m = summarize(rows, by=("domain",))
    >>> m["overall"]["value"], m["partial"]["value"], m["by"]["domain"]["nav"]["overall"]["value"]
    (0.5, 0.6666666666666666, 0.0)
    """

    def block(rs: list[dict]) -> dict:
        triplets: dict[str, bool] = {}
        for r in rs:
            triplets[r["triplet_id"]] = triplets.get(r["triplet_id"], True) and bool(r["correct"])
        n_q, n_t = len(rs), len(triplets)
        ok_q = sum(bool(r["correct"]) for r in rs)
        ok_t = sum(triplets.values())
        bad_fmt = sum(not r["format_ok"] for r in rs)

        def metric(k, n):
            return {"value": k / n if n else 0.0, "count": k, "n": n, "ci95": wilson_interval(k, n)}

        out = {"overall": metric(ok_t, n_t), "partial": metric(ok_q, n_q), "format_failure_rate": metric(bad_fmt, n_q)}
        if any("truncated" in r for r in rs):
            out["truncation_rate"] = metric(sum(bool(r.get("truncated")) for r in rs), n_q)
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
