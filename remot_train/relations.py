"""Order relations between named quantities, and whether a set of them can all hold.

A relation is a triple ``(left, op, right)`` with ``op`` one of ``<``, ``>``, ``=``, for example
``("m12", "<", "m13")``: "the motion from image 1 to 2 is smaller than from 1 to 3". A set of
relations is *consistent* when some assignment of real numbers satisfies them all; for strict
orders and equalities that is exactly when the graph "a < b" (with equal names merged) has no
cycle. The questions' consistency groups, the logical-consistency metric and the logic reward
all use this one check.
"""

from __future__ import annotations

from collections.abc import Iterable

Relation = tuple[str, str, str]
_FLIP = {"<": ">", ">": "<", "=": "="}


def normalise(relation: Relation) -> Relation:
    """The relation with ``>`` rewritten as ``<`` (and names stripped).

    >>> normalise(("m13", ">", "m12"))
    ('m12', '<', 'm13')
    """
    left, op, right = (str(x).strip() for x in relation)
    if op not in _FLIP:
        raise ValueError(f"unknown relation operator {op!r}; use <, > or =")
    return (right, "<", left) if op == ">" else (left, op, right)


def consistent(relations: Iterable[Relation]) -> bool:
    """Whether the relations admit an assignment: no cycle through a strict ``<``.

    >>> consistent([("a", "<", "b"), ("b", "<", "c")])
    True
    >>> consistent([("a", "<", "b"), ("b", "<", "c"), ("c", "<", "a")])
    False
    >>> consistent([("a", ">", "b"), ("a", "<", "b")])
    False
    >>> consistent([("a", "=", "b"), ("b", "<", "a")])
    False
    >>> consistent([])
    True
    """
    rels = [normalise(r) for r in relations]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for left, op, right in rels:
        if op == "=":
            parent[find(left)] = find(right)
    edges: dict[str, set[str]] = {}
    for left, op, right in rels:
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
