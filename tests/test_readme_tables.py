"""bench/readme_tables.py: the README's remot-bench and coverage tables from a release's Parquet.

A tiny release is written here (only the columns the tables read); every number in the
Markdown is checked against a count made independently in the test, and rewriting the README
between the markers is idempotent."""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "readme_tables.py"
ATTRIBUTES = {"navigation": {"yaw": ("left", "right"), "camera_motion": ("moving", "stationary")},
              "manipulation": {"gripper": ("opening", "closing", "holding")},
              "simulation": {"object_lateral": ("left", "right")}}
KINDS = ("temporal_reversal", "mirror", "retrieval")
PATTERNS = (("multiple_choice", "comparative", "comparative"), ("multiple_choice", "true_false", "true_false"),
            ("multiple_choice", "fill_blank", "true_false"))


@pytest.fixture(scope="module")
def rt():
    spec = importlib.util.spec_from_file_location("readme_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_release(root: Path, seed: int = 0) -> tuple[Path, list[dict], list[dict]]:
    """``<root>/releases/<id>/`` in the release layout, and its triplet and question rows."""
    rng = random.Random(seed)
    triplets, questions = [], []
    for domain, attrs in ATTRIBUTES.items():
        for split in ("train", "test"):
            for i in range(rng.randint(12, 30)):
                attribute = rng.choice(sorted(attrs))
                tid = f"{domain[:3]}-{split}-{i:03d}"
                triplets.append({"triplet_id": tid, "domain": domain, "split": split, "attribute": attribute,
                                 "positive_value": rng.choice(attrs[attribute]), "negative_kind": rng.choice(KINDS)})
                for k, qtype in enumerate(rng.choice(PATTERNS)):
                    rule, options, answer = {
                        "multiple_choice": ("choice_letter", ["Pair A", "Pair B"], rng.choice("AB")),
                        "comparative": ("choice_letter", ["Pair A", "Pair B"], rng.choice("AB")),
                        "true_false": ("true_false", ["true", "false"], rng.choice(["true", "false"])),
                        "fill_blank": ("number_mra", [], "12 deg"),
                    }[qtype]
                    questions.append({"question_id": f"{tid}-q{k}", "triplet_id": tid, "domain": domain, "split": split,
                                      "attribute": attribute, "question_type": qtype, "answer": answer,
                                      "options": options, "parse_rule": rule,
                                      "consistency_group_id": f"{tid}-g" if qtype == "comparative" else None})
    release = root / "releases" / "0123456789abcdef"
    files = []
    for name, rows in (("triplets", triplets), ("questions", questions)):
        for domain in ATTRIBUTES:
            for split in ("test", "train"):
                part = [r for r in rows if r["domain"] == domain and r["split"] == split]
                rel = f"{name}/domain={domain}/split={split}/part-00000.parquet"
                (release / rel).parent.mkdir(parents=True, exist_ok=True)
                table = pa.Table.from_pylist(part, schema=pa.schema(
                    [(c, pa.list_(pa.string()) if c == "options" else pa.string()) for c in part[0]]))
                pq.write_table(table, release / rel)
                files.append({"path": rel, "table": name, "domain": domain, "split": split, "rows": len(part)})
    manifest = {"release_id": release.name, "files": files,
                "config": {"synthetic": {"enabled": True, "episodes_per_domain": 4, "frames_per_episode": 60}}}
    (release / "manifest.json").write_text(json.dumps(manifest))
    (root / "releases" / "LATEST").write_text(release.name + "\n")
    return release, triplets, questions


def md_tables(text: str) -> dict[str, list[dict]]:
    """Markdown tables in ``text`` keyed by their header line, as rows of ``{column: cell}`` (bold removed)."""
    out, lines = {}, text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("| ---"):
            header = [c.strip() for c in lines[i].strip("|").split("|")]
            rows, j = [], i + 2
            while j < len(lines) and lines[j].startswith("|"):
                cells = [c.strip().replace("**", "") for c in lines[j].strip("|").split("|")]
                rows.append(dict(zip(header, cells)))
                j += 1
            out[lines[i]] = rows
            i = j
        else:
            i += 1
    return out


def find(tables: dict[str, list[dict]], first_columns: str) -> list[dict]:
    (rows,) = [v for k, v in tables.items() if k.startswith(first_columns)]
    return rows


def num(cell: str) -> int:
    return int(cell.replace(",", ""))


def test_bench_tables_match_independent_counts(rt, tmp_path):
    release, triplets, questions = tiny_release(tmp_path)
    out = rt.blocks(rt.resolve_release(tmp_path))  # a data root resolves through releases/LATEST
    tables = md_tables(out[rt.BENCH])
    bench_q = [q for q in questions if q["split"] == "test"]

    comp = {r["domain"]: r for r in find(tables, "| domain | triplets | questions |")}
    assert list(comp) == ["navigation", "manipulation", "simulation", "all"]
    for domain in ATTRIBUTES:
        qs = [q for q in bench_q if q["domain"] == domain]
        types = Counter(q["question_type"] for q in qs)
        groups = {q["consistency_group_id"] for q in qs if q["consistency_group_id"]}
        row = comp[domain]
        assert num(row["triplets"]) == len({q["triplet_id"] for q in qs}) == sum(
            t["domain"] == domain and t["split"] == "test" for t in triplets)
        assert num(row["questions"]) == len(qs)
        assert num(row["multiple choice"]) == types["multiple_choice"]
        assert num(row["true/false"]) == types["true_false"]
        assert num(row["fill in the blank"]) == types["fill_blank"]
        assert row["comparative (groups)"] == f"{types['comparative']} ({len(groups)})"
    assert num(comp["all"]["questions"]) == len(bench_q)

    by_attr = find(tables, "| domain | attribute | triplets |")
    expected = Counter((q["domain"], q["attribute"], q["question_type"]) for q in bench_q)
    assert sum(num(r["questions"]) for r in by_attr) == len(bench_q)
    for r in by_attr:
        assert num(r["true/false"]) == expected[(r["domain"], r["attribute"], "true_false")]
        assert num(r["multiple choice"]) == expected[(r["domain"], r["attribute"], "multiple_choice")]

    balance = {(r["questions"], r["domain"]): r for r in find(tables, "| questions | domain |")}
    for scope, qs in (("remot-bench", bench_q), ("whole release", questions)):
        for domain in [*ATTRIBUTES, "all"]:
            sel = [q for q in qs if domain == "all" or q["domain"] == domain]
            mc = Counter(q["answer"] for q in sel if q["question_type"] == "multiple_choice")
            tf = Counter(q["answer"] for q in sel if q["parse_rule"] == "true_false")
            row = balance[(scope, domain)]
            assert row["multiple choice A/B"] == f"{mc['A']:,}/{mc['B']:,}"
            share = 100 * tf["true"] / (tf["true"] + tf["false"])
            assert row["true/false true/false"] == f"{tf['true']:,}/{tf['false']:,} ({share:.1f}% true)"

    kinds = find(tables, "| split | domain | reversal |")
    counted = Counter((t["split"], t["domain"], t["negative_kind"]) for t in triplets)
    for r in kinds:
        if r["domain"] != "all":
            split = {"remot-bench": "test"}.get(r["split"], r["split"])
            assert num(r["mirror"]) == counted[(split, r["domain"], "mirror")]
            assert num(r["triplets"]) == sum(counted[(split, r["domain"], k)] for k in KINDS)


def test_coverage_table_counts_every_value_split_and_kind(rt, tmp_path):
    release, triplets, _ = tiny_release(tmp_path, seed=3)
    rows = find(md_tables(rt.blocks(release)[rt.COVERAGE]), "| domain | attribute | value |")
    counted = Counter((t["domain"], t["attribute"], t["positive_value"], t["split"], t["negative_kind"])
                      for t in triplets)
    assert {(r["domain"], r["attribute"], r["value"]) for r in rows} == {k[:3] for k in counted}
    total = 0
    for r in rows:
        for split, label in (("train", "train"), ("test", "remot-bench")):
            for kind, name in (("temporal_reversal", "reversal"), ("mirror", "mirror"), ("retrieval", "retrieval")):
                n = num(r[f"{label} {name}"])
                assert n == counted[(r["domain"], r["attribute"], r["value"], split, kind)]
                total += n
    assert total == len(triplets)
    keys = [(r["domain"], r["attribute"], r["value"]) for r in rows]
    order = {"navigation": 0, "manipulation": 1, "simulation": 2}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1], k[2]))


def test_write_replaces_between_markers_and_is_idempotent(rt, tmp_path, capsys):
    tiny_release(tmp_path)
    readme = tmp_path / "README.md"
    before = "# title\n\nintro\n\n<!-- remot-bench:begin -->\nold table\n<!-- remot-bench:end -->\n\nmiddle\n\n" \
             "<!-- remot-coverage:begin -->\n<!-- remot-coverage:end -->\ntail\n"
    readme.write_text(before)
    latest = str(tmp_path / "releases" / "LATEST")
    assert rt.main([latest, "--check", str(readme)]) == 1  # stale
    assert rt.main([latest, "--write", str(readme)]) == 0
    once = readme.read_text()
    assert "old table" not in once and once.startswith("# title\n\nintro\n\n<!-- remot-bench:begin -->\n")
    assert "\nmiddle\n" in once and once.endswith("<!-- remot-coverage:end -->\ntail\n")
    assert rt.main([latest, "--write", str(readme)]) == 0
    assert readme.read_text() == once
    assert rt.main([latest, "--check", str(readme)]) == 0
    # printing gives the same blocks, markers included, so a paste into a README is already current
    capsys.readouterr()
    assert rt.main([latest]) == 0
    printed = capsys.readouterr().out
    assert rt.wrap(rt.BENCH, rt.blocks(rt.resolve_release(latest))[rt.BENCH]) in printed
    assert rt.wrap(rt.BENCH, rt.blocks(rt.resolve_release(latest))[rt.BENCH]) in once


def test_missing_markers_or_release_is_one_line_and_status_2(rt, tmp_path, capsys):
    tiny_release(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert rt.main([str(tmp_path), "--write", str(readme)]) == 2
    assert "none of the markers" in capsys.readouterr().err
    assert readme.read_text() == "no markers here\n"
    assert rt.main([str(tmp_path / "nowhere")]) == 2
    assert "not a release" in capsys.readouterr().err


def test_a_doubled_marker_is_refused_and_the_file_left_alone(rt, tmp_path, capsys):
    tiny_release(tmp_path)
    readme = tmp_path / "README.md"
    text = "<!-- remot-bench:begin -->\na\n<!-- remot-bench:end -->\n<!-- remot-bench:begin -->\nb\n<!-- remot-bench:end -->\n"
    readme.write_text(text)
    assert rt.main([str(tmp_path), "--write", str(readme)]) == 2
    assert "more than once" in capsys.readouterr().err
    assert readme.read_text() == text
