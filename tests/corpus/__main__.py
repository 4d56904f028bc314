"""``python -m tests.corpus``: the corpus coverage table (cases per format and kind) for the README."""

from tests.corpus import KINDS, coverage_table

print(coverage_table())
print()
print("Kinds: " + "; ".join(f"{k}. {title}" for k, title in KINDS.items()) + ".")
