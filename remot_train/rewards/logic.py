r"""The logic reward: do the relations a completion states hold together, and with its answer?

The prompt's CoT scaffold (:data:`remot_pipeline.core.questions.SCAFFOLD`) asks the model to
state its comparisons and directions in a small notation, and this reward reads **only** that
notation: prose is never parsed, so how the model words its reasoning (hedges, "the picture
moved left, so the camera turned right", general rules) cannot be misread as a claim.

**Notation.** ``mIJ`` is the motion from image ``I`` to image ``J`` (digits 1-9, ``I < J``). A
*statement* is one pair of square brackets holding either

* a **comparison** of sizes: two or more operands joined by ``<``, ``>`` or ``=``, at least one
  of them a motion: ``[m12 > m34]``, ``[m12 < m13 < m14]``, or a size in the question's unit,
  ``[m12 = 24]`` (an operand may be a plain number, ``24``, ``0.8``, with a unit word after it that
  is ignored: ``[m12 = 24 deg]``); or
* a **direction**: ``[mIJ: word]``, the value of the question's attribute for that motion, in the
  question's words and frame: ``[m12: left]`` for "the camera turned to its left". ``word`` is one
  of :data:`VALUES` or a value named in the question's ``relations``. Each value belongs to an
  axis (:data:`AXES`: left/right, up/down, forward/backward, opening/closing/holding, ...); a
  motion has one value per axis, so ``[m12: left]`` and ``[m12: forward]`` are two facts.

Anything else in brackets (``[see image 2]``, ``[mIJ > mKL]``, ``[m21 > m12]``, and a
hypothesis marked inside the brackets, ``[m12: left?]``) is not a statement and is ignored. A
statement is an assertion whatever the prose around it says: "maybe [m12: left]?" asserts it.
Case and spaces inside the brackets do not matter. Statements are read from the whole
completion except its ``<answer>`` blocks (the think block and any text before the answer).

**Self-correction.** A later statement about the same thing replaces an earlier one: the same
pair of operands for a comparison (numbers count as one operand, so ``[m12 = 20]`` replaces
``[m12 = 24]``), the same motion and axis for a direction. "[m12: left] ... no, [m12: right]"
states ``m12`` is right. A chain is its adjacent pairs, so to correct a chain, restate it.

**The answer.** The question's ``relations`` column says what each answer asserts: answering
``if_answer`` asserts ``left op right`` (:mod:`remot_train.relations`), for example
``{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"}`` ("pair A's motion is larger")
or ``{"if_answer": "true", "left": "m12", "op": "is", "right": "left"}``. The final answer is
parsed as :mod:`remot_train.scoring` parses it (``answer``, ``parse_rule``, ``options``
columns; without a ``parse_rule``, the last answer block's raw text) and matched to ``if_answer``
case-insensitively.

**Score** of one completion, with ``S`` its statements (after replacement), ``R`` the relations
its answer asserts, and ``R'`` those of each other answer in the column:

* **-1** when ``S`` and ``R`` together are inconsistent (:func:`remot_train.relations.consistent`):
  a cycle (``[m12 > m13] [m13 > m14] [m14 > m12]``), sizes against an order (``[m12 = 8]
  [m34 = 24] [m12 > m34]``), or a statement against the answer (``[m12: right]`` then answering
  *true* to "the camera turned to its left");
* **+1** when not, and the statements ``N`` of ``S`` that ``R`` does not entail (those that are
  more than a restatement of the answer) rule out some other answer: ``N`` with some ``R'`` is
  inconsistent. So ``[m12 = 24] [m34 = 8]`` before answering that pair A turned more earns +1:
  the sizes decide the comparison. A completion needs a parsed answer listed in the column;
* **0** otherwise: no statements, only restatements of the answer (``[m12 > m34]`` before
  answering that pair A turned more, or ``[m12: left] [m34: right]`` before answering that pair
  A turned left, when *left*/*right* are the only values), or statements that decide nothing.

Direction relations are checked per axis (``m12/lr is left``), so a statement about another axis
than the question's never meets the answer. So a completion whose only claims restate its
answer earns what one without claims earns (0),
and adding a restatement never raises a score, except that, as a later statement, it may
replace (correct) an earlier one. Questions without relations (numeric blanks) score -1 or 0:
their statements are checked only against each other. The reward never sees the images: a
claim beyond the answer earns +1 when it is consistent, whether or not it is true; accuracy is
the task reward's to judge. Cost: one regex pass and a few cycle checks on a handful of
relations, about 20 us per completion (``bench/logic_reward.py``).

>>> rels = [{"if_answer": "A", "left": "m12", "op": ">", "right": "m34"},
...         {"if_answer": "B", "left": "m34", "op": ">", "right": "m12"}]
>>> logic_reward(completions=[
...     "Pair A turns about 24 degrees [m12 = 24], pair B about 8 [m34 = 8].</think><answer>A</answer>",
...     "Pair A turns more. [m12 > m34]</think><answer>A</answer>",
...     "[m12 = 24] [m34 = 8]</think><answer>B</answer>",
...     "Hmm, [m34 > m12]... no, looking again, [m12 > m34].</think><answer>A</answer>",
...     "It is hard to tell.</think><answer>A</answer>"],
...     relations=[rels] * 5, answer=["A"] * 5, parse_rule=["choice_letter"] * 5,
...     options=[["Pair A", "Pair B"]] * 5)
[1.0, 0.0, -1.0, 0.0, 0.0]
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from remot_train import scoring
from remot_train.relations import Relation, consistent, entails, number
from remot_train.rewards._common import column, completion_text
from remot_train.rewards.task import score_row

#: Direction words a statement may use (the values of the questions' attributes), by axis: a
#: motion has one value per axis, so ``[m12: left]`` and ``[m12: forward]`` do not conflict.
AXES = {"left": "lr", "right": "lr", "up": "ud", "down": "ud", "clockwise": "spin", "counterclockwise": "spin",
        "forward": "depth", "backward": "depth", "toward": "approach", "away": "approach", "opening": "gripper",
        "closing": "gripper", "holding": "gripper", "approach": "phase", "grasp": "phase", "lift": "phase",
        "place": "phase", "stationary": "motion", "moving": "motion"}
VALUES = frozenset(AXES)

_OPERAND = r"(?:m\d\d|\d+(?:\.\d+)?(?:\s*(?:°|[a-z]+))?)"
_STATEMENT = re.compile(
    rf"\[\s*(?:(m\d\d)\s*:\s*([a-z]+)|({_OPERAND}(?:\s*[<>=]\s*{_OPERAND})+))\s*\]", re.IGNORECASE)
_PART = re.compile(r"m\d\d|\d+(?:\.\d+)?|[<>=]", re.IGNORECASE)
_ANSWER_BLOCK = re.compile(r"<answer>.*?</answer>", re.IGNORECASE | re.DOTALL)


def _motion(name: str) -> bool:
    """``mIJ`` with ``1 <= I < J <= 9``."""
    return name[0] == "m" and "1" <= name[1] < name[2]


def _key(relation: Relation) -> tuple:
    """What a statement is about: a later statement with the same key replaces it."""
    left, op, right = relation
    if op == "is":
        return ("value", left, AXES.get(right, "other"))
    return ("order", frozenset("#" if number(n) is not None else n for n in (left, right)))


def _per_axis(relations: list[Relation]) -> list[Relation]:
    """Direction relations on ``motion/axis`` names, so that each axis is its own quantity."""
    return [(f"{a}/{AXES.get(b, 'other')}", op, b) if op in ("is", "is_not") else (a, op, b)
            for a, op, b in relations]


def statements(text: str, values: frozenset[str] = VALUES) -> list[Relation]:
    """The relations ``text`` states in the notation, the last statement of each thing winning.

    >>> statements("[m12 < m13 < m14] [m12: Left] [m13 = 2.5] [m13 = 3 deg] [mIJ > mKL] [m21 > m12] [m12: right]")
    [('m12', '<', 'm13'), ('m13', '<', 'm14'), ('m13', '=', '3'), ('m12', 'is', 'right')]
    >>> statements("[m12: left] [m12: forward] [m34: right?] [m12 > m34?]")  # two axes: two facts
    [('m12', 'is', 'left'), ('m12', 'is', 'forward')]
    >>> statements("[4 < 5] [m12: sideways] <answer>[m12 > m34]</answer>")
    []
    """
    if "[" not in text:
        return []
    latest: dict[tuple, Relation] = {}
    for match in _STATEMENT.finditer(_ANSWER_BLOCK.sub(" ", text) if "<" in text else text):
        motion, word, chain = match.groups()
        if motion is not None:
            word = word.lower()
            if _motion(motion.lower()) and word in values:
                relation = (motion.lower(), "is", word)
                latest.pop(_key(relation), None)
                latest[_key(relation)] = relation
            continue
        parts = [p.lower() for p in _PART.findall(chain)]
        names = parts[::2]
        if not any(n[0] == "m" for n in names) or not all(_motion(n) for n in names if n[0] == "m"):
            continue
        for i in range(1, len(parts), 2):
            relation = (parts[i - 1], parts[i], parts[i + 1])
            latest.pop(_key(relation), None)
            latest[_key(relation)] = relation
    return list(latest.values())


@lru_cache(maxsize=4096)
def _parse_relations(raw: str) -> tuple[tuple[str, Relation], ...]:
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"relations is not valid JSON: {raw[:80]!r}") from e
    return _items(items)


def _items(items: Any) -> tuple[tuple[str, Relation], ...]:
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"relations must be a list of {{if_answer, left, op, right}}, got {type(items).__name__}")
    out = []
    for item in items:
        if not isinstance(item, dict) or not {"if_answer", "left", "op", "right"} <= item.keys():
            raise ValueError(f"each relations item needs if_answer, left, op and right; got {item!r}")
        out.append((str(item["if_answer"]).strip().upper(),
                    (str(item["left"]).strip().lower(), str(item["op"]).strip(), str(item["right"]).strip().lower())))
    return tuple(out)


def answer_table(relations: Any) -> dict[str, list[Relation]]:
    """``{answer (upper case): the relations it asserts}`` from a ``relations`` cell (JSON or list).

    >>> answer_table('[{"if_answer": "true", "left": "m12", "op": "is", "right": "left"}]')
    {'TRUE': [('m12', 'is', 'left')]}
    """
    if relations is None:
        return {}
    items = _parse_relations(relations) if isinstance(relations, str) else _items(list(relations))
    table: dict[str, list[Relation]] = {}
    for answer, relation in items:
        table.setdefault(answer, []).append(relation)
    return table


def logic_score(text: str, relations: Any = None, parsed: str | None = None) -> float:
    """-1 / 0 / +1 for one completion's text (module doc); ``parsed``: its parsed final answer.

    >>> tf = [{"if_answer": "true", "left": "m12", "op": "is", "right": "left"},
    ...       {"if_answer": "false", "left": "m12", "op": "is", "right": "right"}]
    >>> [logic_score(t, tf, a) for t, a in [("[m12: left]", "true"), ("[m12: left]", "false"), ("", "true")]]
    [0.0, -1.0, 0.0]
    """
    return _score(text, answer_table(relations), lambda: parsed)


def _score(text: str, table: dict[str, list[Relation]], parse: Any) -> float:
    values = VALUES | {r[2] for rels in table.values() for r in rels if r[1] in ("is", "is_not")}
    stated = _per_axis(statements(text, values))
    if not stated:
        return 0.0
    parsed = parse() if table else None
    key = parsed.strip().upper() if parsed is not None else None
    asserted = _per_axis(table.get(key, [])) if key is not None else []
    if not consistent(stated + asserted):
        return -1.0
    if not asserted:
        return 0.0
    beyond = [s for s in stated if not entails(asserted, s)]
    if beyond and any(not consistent(beyond + _per_axis(rels)) for other, rels in table.items() if other != key):
        return 1.0
    return 0.0


def parsed_answer(text: str, answer: Any = None, parse_rule: Any = None, options: Any = None,
                  tolerance: Any = None) -> str | None:
    """The final answer as scoring parses it; the raw last ``<answer>`` text without a parse rule.

    >>> parsed_answer("x</think><answer>(b)</answer>", "A", "choice_letter", ["Pair A", "Pair B"])
    'B'
    >>> parsed_answer("<answer> maybe </answer>")
    'maybe'
    """
    if parse_rule is None:
        return scoring.last_answer(text)
    return score_row(text, answer if answer is not None else "", parse_rule, options, tolerance).parsed


def logic_reward(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                 **columns: Any) -> list[float]:
    """+1 / 0 / -1 per completion (module doc): statements that decide the answer consistently,
    nothing beyond the answer, or a contradiction.

    Columns used (all optional): ``relations`` (JSON list of ``{"if_answer", "left", "op",
    "right"}``, or the list itself), and ``answer``, ``parse_rule``, ``options``, ``tolerance`` to
    parse the final answer as scoring does.

    >>> logic_reward(completions=["[m12 < m13] [m13 < m14] [m14 < m12]</think><answer>A</answer>",
    ...                           [{"role": "assistant", "reasoning_content": "[m12: left]", "content": "<answer>true</answer>"}]])
    [-1.0, 0.0]
    """
    n = len(completions)
    rows = zip(completions, column(columns, "relations", n), column(columns, "answer", n),
               column(columns, "parse_rule", n), column(columns, "options", n), column(columns, "tolerance", n),
               strict=True)
    out = []
    for completion, relations, answer, parse_rule, options, tolerance in rows:
        text = completion_text(completion)
        out.append(_score(text, answer_table(relations),
                          lambda: parsed_answer(text, answer, parse_rule, options, tolerance)))  # noqa: B023
    return out
