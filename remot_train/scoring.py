"""Answer parsing and scoring: the one module that training rewards and evaluation both use.

A completion answers inside ``<answer>...</answer>``; the **last** such block counts (a model
may quote the format in its reasoning). Parsing is forgiving about case, whitespace,
parentheses and trailing punctuation, and strict about content: anything that is not a valid
answer for the question's ``parse_rule`` is a format failure, scored as wrong.

Parse rules (the questions contract's ``parse_rule`` column):

* ``choice_letter``: a single option letter, ``A``, ``(b)``, ``B)``, ``Option A``, or the
  option's text itself (``Image 3``, ``Pair A``).
* ``true_false``: ``true``/``false``, ``yes``/``no``, ``t``/``f``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def score(completion: str, answer: str, parse_rule: str, options: list[str] | None = None) -> Scored:
    """Score one completion against one question's ``answer`` under its ``parse_rule``.

    >>> score("<think>the view shifted right</think><answer>(A)</answer>", "A", "choice_letter", ["Image 2", "Image 3"])
    Scored(correct=True, parsed='A', format_ok=True)
    >>> score("<answer>maybe</answer>", "true", "true_false")
    Scored(correct=False, parsed=None, format_ok=False)
    """
    text = last_answer(completion)
    if text is None:
        return Scored(False, None, False)
    if parse_rule == "choice_letter":
        parsed = parse_choice(text, options)
        expected = answer.strip().upper()
    elif parse_rule == "true_false":
        parsed = parse_true_false(text)
        expected = parse_true_false(answer)
    else:
        raise ValueError(f"unknown parse_rule {parse_rule!r}; known: choice_letter, true_false")
    return Scored(parsed is not None and parsed == expected, parsed, parsed is not None)


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
    and the breakdown keys. Returns ``overall`` (the fraction of triplets whose questions are
    *all* correct), ``partial`` (per-question accuracy), ``format_failure_rate``, each with its
    count and 95% Wilson interval, and the same per value of every key in ``by``.

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

        return {"overall": metric(ok_t, n_t), "partial": metric(ok_q, n_q), "format_failure_rate": metric(bad_fmt, n_q)}

    out = block(rows)
    out["by"] = {}
    for key in by:
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(str(r[key]), []).append(r)
        out["by"][key] = {value: block(rs) for value, rs in sorted(groups.items())}
    return out
