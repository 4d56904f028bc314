"""Relations between named quantities and values, and whether a set of them can all hold.

A relation is a triple ``(left, op, right)`` of strings, of one of two kinds:

* **order**, ``op`` one of ``<``, ``>``, ``=``: ``("m12", "<", "m13")``, "the motion from image 1
  to 2 is smaller than from 1 to 3". A name that is a plain decimal number (``"24"``,
  ``"0.80"``) is that number, so ``("m12", "=", "24")`` gives a size and numbers are ordered
  among themselves (``"8" < "24"``, ``"0.8" = "0.80"``).
* **value**, ``op`` one of ``is``, ``is_not``: ``("m12", "is", "left")``, "the motion from image 1
  to 2 has the value *left*" of the question's attribute (its direction). A name has one value:
  two different ``is`` values for one name, or ``is`` and ``is_not`` of the same value, contradict.

The two kinds never constrain each other (``m12``'s size and its direction are two quantities).
A set of relations is *consistent* when some assignment satisfies them all: for order relations
that is exactly when the graph "a < b" (equal names merged, numbers chained in their order) has
no cycle. The questions' consistency groups, the logical-consistency metric and the logic
reward all use this one check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Relation = tuple[str, str, str]
ORDER_OPS = ("<", ">", "=")
VALUE_OPS = ("is", "is_not")
_FLIP = {"<": ">", ">": "<", "=": "="}
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def normalise(relation: Relation) -> Relation:
    """The relation with ``>`` rewritten as ``<`` (and names stripped).

    >>> normalise(("m13", ">", "m12")), normalise((" m12", "is", "left "))
    (('m12', '<', 'm13'), ('m12', 'is', 'left'))
    """
    left, op, right = (str(x).strip() for x in relation)
    if op not in _FLIP and op not in VALUE_OPS:
        raise ValueError(f"unknown relation operator {op!r}; use <, >, =, is or is_not")
    return (right, "<", left) if op == ">" else (left, op, right)


def number(name: str) -> float | None:
    """The number a name stands for, or None when it is a name.

    >>> number("0.80"), number("m12"), number("inf")
    (0.8, None, None)
    """
    return float(name) if _NUMBER.fullmatch(name) else None


def _values_consistent(rels: list[Relation]) -> bool:
    value: dict[str, str] = {}
    for left, op, right in rels:
        if op == "is" and value.setdefault(left, right) != right:
            return False
    return not any(op == "is_not" and value.get(left) == right for left, op, right in rels)


def _number_chain(rels: list[Relation]) -> list[Relation]:
    """Order relations between the numbers the relations name: consecutive ones, by value."""
    numbers = sorted({(number(n), n) for r in rels for n in (r[0], r[2]) if number(n) is not None})
    return [(a, "=" if x == y else "<", b) for (x, a), (y, b) in zip(numbers, numbers[1:])]


def consistent(relations: Iterable[Relation]) -> bool:
    """Whether the relations admit an assignment: no cycle through a strict ``<``, one value per name.

    >>> consistent([("a", "<", "b"), ("b", "<", "c")])
    True
    >>> consistent([("a", "<", "b"), ("b", "<", "c"), ("c", "<", "a")])
    False
    >>> consistent([("a", ">", "b"), ("a", "<", "b")])
    False
    >>> consistent([("a", "=", "b"), ("b", "<", "a")])
    False
    >>> consistent([("m12", "=", "24"), ("m34", "=", "8"), ("m12", "<", "m34")])
    False
    >>> consistent([("m12", "is", "left"), ("m12", "is", "right")]), consistent([("m12", "is_not", "left"), ("m12", "is", "right")])
    (False, True)
    >>> consistent([])
    True
    """
    rels = [normalise(r) for r in relations]
    order = [r for r in rels if r[1] in ORDER_OPS]
    if not _values_consistent([r for r in rels if r[1] in VALUE_OPS]):
        return False
    order += _number_chain(order)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for left, op, right in order:
        if op == "=":
            parent[find(left)] = find(right)
    edges: dict[str, set[str]] = {}
    for left, op, right in order:
        if op == "<":
            a, b = find(left), find(right)
            if a == b:
                return False
            edges.setdefault(a, set()).add(b)
    # Depth-first search for a cycle (white/grey/black colouring), iteratively.
    state: dict[str, int] = {}
    for start in list(edges):
        if state.get(start):
            continue
        stack = [(start, iter(edges.get(start, ())))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                return False
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(edges.get(child, ()))))
    return True


def negations(relation: Relation) -> list[Relation]:
    """Relations one of which holds exactly when ``relation`` does not.

    >>> negations(("a", "<", "b")), negations(("m12", "is", "left"))
    ([('a', '>', 'b'), ('a', '=', 'b')], [('m12', 'is_not', 'left')])
    """
    left, op, right = normalise(relation)
    if op == "<":
        return [(left, ">", right), (left, "=", right)]
    if op == "=":
        return [(left, "<", right), (left, ">", right)]
    return [(left, "is_not" if op == "is" else "is", right)]


def entails(premises: Iterable[Relation], relation: Relation) -> bool:
    """Whether every assignment that satisfies ``premises`` satisfies ``relation``.

    >>> entails([("a", "<", "b"), ("b", "<", "c")], ("c", ">", "a"))
    True
    >>> entails([("m12", "is", "left")], ("m12", "is_not", "right")), entails([("m12", "is_not", "left")], ("m12", "is", "right"))
    (True, False)
    """
    premises = list(premises)
    return all(not consistent([*premises, negation]) for negation in negations(relation))
