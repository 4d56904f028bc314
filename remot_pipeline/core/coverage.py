"""Coverage by design: which attribute values a release holds, per split and negative kind.

A release must teach and test every attribute it claims in both directions. The coverage table
counts triplets by ``(domain, attribute, positive_value, split, negative_kind)``; the check
fails when a required ``(domain, attribute, value)`` has fewer than the configured minimum of
triplets in train or in remot-bench (the test split).
"""

from __future__ import annotations

import pyarrow as pa

from remot_pipeline.core.labels import attributes

KEYS = ["domain", "attribute", "positive_value", "split", "negative_kind"]
#: Categorical attributes (no sign): their values, per domain.
CATEGORICAL = {
    "navigation": {"camera_motion": ("stationary", "moving")},
    "manipulation": {"phase": ("approach", "grasp", "lift", "place")},
}


def coverage_table(triplets: pa.Table) -> pa.Table:
    """Triplet counts by :data:`KEYS`, sorted."""
    if triplets.num_rows == 0:
        return pa.table({**{k: pa.array([], pa.string()) for k in KEYS}, "triplets": pa.array([], pa.int64())})
    t = triplets.select(KEYS).group_by(KEYS).aggregate([([], "count_all")]).rename_columns([*KEYS, "triplets"])
    return t.sort_by([(k, "ascending") for k in KEYS])


def required_values(domains: list[str]) -> list[tuple[str, str, str]]:
    """``(domain, attribute, value)`` for every labelled attribute of ``domains``, both directions."""
    out = []
    for d in domains:
        for a in attributes(d):
            if a.labelled:
                out += [(d, a.name, v) for v in a.values]
        for name, values in CATEGORICAL.get(d, {}).items():
            out += [(d, name, v) for v in values]
    return out


def coverage_problems(table: pa.Table, required: list[tuple[str, str, str]], min_train: int, min_bench: int
                      ) -> list[str]:
    """Every required value below its minimum, as ``domain/attribute=value: train n < min``.

    >>> t = coverage_table(pa.table({"domain": ["navigation"] * 3, "attribute": ["yaw"] * 3,
    ...     "positive_value": ["left", "left", "right"], "split": ["train", "test", "train"],
    ...     "negative_kind": ["mirror"] * 3}))
    >>> coverage_problems(t, [("navigation", "yaw", "left"), ("navigation", "yaw", "right")], 1, 1)
    ['navigation/yaw=right: test 0 < 1']
    """
    counts: dict[tuple, int] = {}
    for r in table.to_pylist():
        key = (r["domain"], r["attribute"], r["positive_value"], r["split"])
        counts[key] = counts.get(key, 0) + r["triplets"]
    problems = []
    for d, a, v in required:
        for split, minimum in (("train", min_train), ("test", min_bench)):
            n = counts.get((d, a, v, split), 0)
            if n < minimum:
                problems.append(f"{d}/{a}={v}: {split} {n} < {minimum}")
    return problems
