"""Run the whole malformed-input corpus (tests/corpus): every case, every format, every kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from remot_pipeline.sources import READERS
from tests.corpus import KINDS, all_cases, coverage_table, make_world, not_applicable, run

CASES = all_cases()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return make_world(tmp_path_factory.mktemp("corpus_world"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, world, tmp_path):
    run(case, tmp_path, world)


def test_every_kind_is_covered_for_every_format_it_applies_to():
    assert len(CASES) >= 150
    na = not_applicable()
    missing = [(fmt, k) for fmt in READERS for k in KINDS
               if (fmt, k) not in na and not any(c.format == fmt and c.kind == k for c in CASES)]
    assert not missing, f"no case for (format, kind) {missing}; add one, or say in NOT_APPLICABLE why it cannot occur"
    assert all(why.strip() for why in na.values())
    stale = [key for key in na if any(c.format == key[0] and c.kind == key[1] for c in CASES)]
    assert not stale, f"declared not applicable but covered: {stale}"


def test_readme_coverage_table_is_current():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    m = re.search(r"<!-- corpus-coverage -->\n(.*?)\n<!-- /corpus-coverage -->", readme, re.S)
    assert m, "README lacks the corpus coverage table; paste `python -m tests.corpus` between the markers"
    assert m.group(1).strip() == coverage_table(CASES).strip(), "README's corpus table is stale: run `python -m tests.corpus`"
