"""The README's remot-bench and coverage tables, computed from a release's Parquet files.

    python bench/readme_tables.py [RELEASE] [--write README.md | --check README.md]

``RELEASE`` is a release folder (holding ``manifest.json``), a ``LATEST`` file, a releases
folder or a data root (default ``data/releases/LATEST``). Without ``--write`` the two Markdown
blocks are printed, each between its marker comments:

    <!-- remot-bench:begin --> ... <!-- remot-bench:end -->
    <!-- remot-coverage:begin --> ... <!-- remot-coverage:end -->

``--write README.md`` replaces the text between each marker pair the file holds (at least one
must be there), so running it twice changes nothing; ``--check README.md`` exits 1 when the
file's blocks differ from the release's (a stale README).

remot-bench is the release's ``split = 'test'`` part. Tables:

* remot-bench composition: per domain, triplets, questions and questions per type (the two
  comparatives of a triplet form one consistency group, counted in parentheses);
* remot-bench by attribute: the same per domain and attribute;
* answer balance, per domain on remot-bench and on the whole release: letter answers per
  letter for multiple choice and for comparatives, the chi-square p of all letter answers
  against uniform over the offered letters, and true/false answers with the true share;
* negative kinds: triplets per domain, split and negative kind;
* coverage: triplets per domain, attribute, value (the anchor -> positive value), split and
  negative kind.

Only the columns named here are read (never the images). The output is deterministic: domains
in the README's order (navigation, manipulation, simulation, then any other alphabetically),
everything else sorted.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

DOMAIN_ORDER = ("navigation", "manipulation", "simulation")
TYPE_ORDER = ("multiple_choice", "true_false", "fill_blank", "comparative")
TYPE_NAMES = {"multiple_choice": "multiple choice", "true_false": "true/false", "fill_blank": "fill in the blank",
              "comparative": "comparative"}
KIND_ORDER = ("temporal_reversal", "mirror", "retrieval")
KIND_NAMES = {"temporal_reversal": "reversal", "mirror": "mirror", "retrieval": "retrieval"}
SPLIT_NAMES = {"train": "train", "test": "remot-bench"}
BENCH = "remot-bench"
COVERAGE = "remot-coverage"
QUESTION_COLUMNS = ["triplet_id", "domain", "split", "attribute", "question_type", "answer", "options", "parse_rule",
                    "consistency_group_id"]
TRIPLET_COLUMNS = ["triplet_id", "domain", "split", "attribute", "positive_value", "negative_kind"]


# ----------------------------------------------------------------------------- reading ---

def resolve_release(path: str | Path) -> Path:
    """A release folder from a release folder, a LATEST file, a releases folder or a data root."""
    from remot_pipeline.core.release import read_latest

    p = Path(path)
    if p.name == "LATEST" and (rid := read_latest(p.parent)):
        p = p.parent / rid
    elif p.is_dir() and not (p / "manifest.json").is_file():
        for base in (p, p / "releases"):
            if (rid := read_latest(base)):
                p = base / rid
                break
    if not (p / "manifest.json").is_file():
        raise FileNotFoundError(f"{path}: not a release (no manifest.json); build one with `make run` or name "
                                "a release folder")
    return p


def read_release(release: Path) -> tuple[pa.Table, pa.Table, dict]:
    """``(questions, triplets, manifest)`` with only the columns the tables need."""
    manifest = json.loads((release / "manifest.json").read_text())

    def read(name: str, columns: list[str]) -> pa.Table:
        files = sorted(str(release / f["path"]) for f in manifest["files"] if f["table"] == name)
        return ds.dataset(files, format="parquet").to_table(columns=columns)

    return read("questions", QUESTION_COLUMNS), read("triplets", TRIPLET_COLUMNS), manifest


# ------------------------------------------------------------------------------ helpers ---

def domain_key(d: str) -> tuple:
    return (DOMAIN_ORDER.index(d), "") if d in DOMAIN_ORDER else (len(DOMAIN_ORDER), d)


def ordered(values, order: tuple[str, ...]) -> list[str]:
    values = set(values)
    return [v for v in order if v in values] + sorted(values - set(order))


def n(x: int) -> str:
    return f"{x:,}"


def table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["l"] + ["r"] * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def chi2_uniform_p(counts: list[int]) -> float | None:
    """p of Pearson's chi-square test of ``counts`` against the uniform distribution."""
    total, k = sum(counts), len(counts)
    if total == 0 or k < 2:
        return None
    expected = total / k
    stat = sum((c - expected) ** 2 / expected for c in counts)
    if k == 2:
        return math.erfc(math.sqrt(stat / 2))
    from scipy.stats import chi2

    return float(chi2.sf(stat, k - 1))


def rows_of(t: pa.Table) -> list[dict]:
    return t.to_pylist()


# ------------------------------------------------------------------------------- tables ---

def composition_rows(questions: list[dict], key) -> tuple[list[str], dict, dict]:
    """Per key: triplets, questions, per-type counts and comparative groups."""
    types = ordered({q["question_type"] for q in questions}, TYPE_ORDER)
    acc: dict = {}
    for q in questions:
        a = acc.setdefault(key(q), {"triplets": set(), "questions": 0, "types": Counter(), "groups": set()})
        a["triplets"].add(q["triplet_id"])
        a["questions"] += 1
        a["types"][q["question_type"]] += 1
        if q["question_type"] == "comparative" and q["consistency_group_id"]:
            a["groups"].add(q["consistency_group_id"])
    total = {"triplets": set(), "questions": 0, "types": Counter(), "groups": set()}
    for a in acc.values():
        total["triplets"] |= a["triplets"]
        total["questions"] += a["questions"]
        total["types"] += a["types"]
        total["groups"] |= a["groups"]
    return types, acc, total


def type_cells(a: dict, types: list[str]) -> list[str]:
    cells = []
    for t in types:
        c = a["types"].get(t, 0)
        cells.append(f"{n(c)} ({n(len(a['groups']))})" if t == "comparative" else n(c))
    return cells


def type_header(types: list[str]) -> list[str]:
    return [TYPE_NAMES.get(t, t) + (" (groups)" if t == "comparative" else "") for t in types]


def bench_composition(bench_q: list[dict]) -> str:
    types, acc, total = composition_rows(bench_q, lambda q: q["domain"])
    rows = [[d, n(len(acc[d]["triplets"])), n(acc[d]["questions"]), *type_cells(acc[d], types)]
            for d in sorted(acc, key=domain_key)]
    rows.append(["**all**", f"**{n(len(total['triplets']))}**", f"**{n(total['questions'])}**",
                 *type_cells(total, types)])
    return table(["domain", "triplets", "questions", *type_header(types)], rows)


def bench_by_attribute(bench_q: list[dict]) -> str:
    types, acc, _ = composition_rows(bench_q, lambda q: (q["domain"], q["attribute"]))
    rows = [[d, a, n(len(v["triplets"])), n(v["questions"]), *type_cells(v, types)]
            for (d, a), v in sorted(acc.items(), key=lambda kv: (domain_key(kv[0][0]), kv[0][1]))]
    return table(["domain", "attribute", "triplets", "questions", *type_header(types)], rows, ["l", "l"] + ["r"] * (2 + len(types)))


def letters_offered(q: dict) -> list[str]:
    k = max(2, len(q["options"] or []))
    return [chr(ord("A") + i) for i in range(k)]


def balance_cells(qs: list[dict]) -> list[str]:
    letter_q = [q for q in qs if q["parse_rule"] == "choice_letter"]
    offered = sorted({x for q in letter_q for x in letters_offered(q)} | {a for a in (q["answer"] for q in letter_q)})

    def split_letters(kind: str | None) -> str:
        c = Counter(q["answer"] for q in letter_q if kind is None or q["question_type"] == kind)
        return "/".join(n(c.get(x, 0)) for x in offered) if c else "–"

    all_counts = Counter(q["answer"] for q in letter_q)
    p = chi2_uniform_p([all_counts.get(x, 0) for x in offered])
    tf = [q["answer"] for q in qs if q["parse_rule"] == "true_false"]
    n_true = sum(a == "true" for a in tf)
    return [split_letters("multiple_choice"), split_letters("comparative"),
            f"{split_letters(None)} (p = {p:.2f})" if p is not None else "–",
            f"{n(n_true)}/{n(len(tf) - n_true)} ({100 * n_true / len(tf):.1f}% true)" if tf else "–"]


def balance(questions: list[dict]) -> str:
    letters = sorted({x for q in questions if q["parse_rule"] == "choice_letter" for x in letters_offered(q)}
                     | {q["answer"] for q in questions if q["parse_rule"] == "choice_letter"}) or ["A", "B"]
    lab = "/".join(letters)
    rows = []
    for scope, qs in ((BENCH, [q for q in questions if q["split"] == "test"]), ("whole release", questions)):
        for d in sorted({q["domain"] for q in qs}, key=domain_key):
            rows.append([scope, d, *balance_cells([q for q in qs if q["domain"] == d])])
        rows.append([scope, "**all**", *balance_cells(qs)])
    return table(["questions", "domain", f"multiple choice {lab}", f"comparative {lab}",
                  f"all letters {lab} (chi-square p)", "true/false true/false"], rows, ["l", "l", "r", "r", "r", "r"])


def negative_kinds(triplets: list[dict]) -> str:
    kinds = ordered({t["negative_kind"] for t in triplets}, KIND_ORDER)
    c = Counter((t["domain"], t["split"], t["negative_kind"]) for t in triplets)
    splits = ordered({t["split"] for t in triplets}, ("train", "test"))
    rows = []
    for s in splits:
        for d in sorted({t["domain"] for t in triplets}, key=domain_key):
            counts = [c.get((d, s, k), 0) for k in kinds]
            if sum(counts):
                rows.append([SPLIT_NAMES.get(s, s), d, *map(n, counts), n(sum(counts))])
        counts = [sum(c.get((d, s, k), 0) for d in {t["domain"] for t in triplets}) for k in kinds]
        rows.append([SPLIT_NAMES.get(s, s), "**all**", *map(n, counts), n(sum(counts))])
    return table(["split", "domain", *[KIND_NAMES.get(k, k) for k in kinds], "triplets"], rows,
                 ["l", "l"] + ["r"] * (len(kinds) + 1))


def coverage(triplets: list[dict]) -> str:
    kinds = ordered({t["negative_kind"] for t in triplets}, KIND_ORDER)
    splits = ordered({t["split"] for t in triplets}, ("train", "test"))
    c = Counter((t["domain"], t["attribute"], t["positive_value"], t["split"], t["negative_kind"]) for t in triplets)
    keys = sorted({k[:3] for k in c}, key=lambda k: (domain_key(k[0]), k[1], k[2]))
    header = ["domain", "attribute", "value"]
    for s in splits:
        header += [f"{SPLIT_NAMES.get(s, s)} {KIND_NAMES.get(k, k)}" for k in kinds] + [f"{SPLIT_NAMES.get(s, s)} total"]
    rows = []
    for d, a, v in keys:
        row = [d, a, v]
        for s in splits:
            counts = [c.get((d, a, v, s, k), 0) for k in kinds]
            row += [n(x) for x in counts] + [f"**{n(sum(counts))}**"]
        rows.append(row)
    return table(header, rows, ["l", "l", "l"] + ["r"] * (len(header) - 3))


def bench_block(questions: pa.Table, triplets: pa.Table, manifest: dict) -> str:
    q, t = rows_of(questions), rows_of(triplets)
    bench_q = [r for r in q if r["split"] == "test"]
    bench_t = [r for r in t if r["split"] == "test"]
    rid = manifest.get("release_id", "?")
    syn = (manifest.get("config") or {}).get("synthetic") or {}
    world = (f"; synthetic world {syn['episodes_per_domain']} episodes x {syn['frames_per_episode']} frames per domain"
             if syn.get("enabled") and "episodes_per_domain" in syn else "")
    return "\n\n".join([
        f"_Generated by `python bench/readme_tables.py` from release `{rid}`: {n(len(t))} triplets and "
        f"{n(len(q))} questions, of which remot-bench (the test split) holds {n(len(bench_t))} triplets and "
        f"{n(len(bench_q))} questions{world}._",
        "**remot-bench composition** (questions per type):",
        bench_composition(bench_q),
        "**remot-bench by attribute:**",
        bench_by_attribute(bench_q),
        "**Answer balance** (letter answers per letter, the chi-square p of all letter answers against "
        "uniform; true/false answers and the true share):",
        balance(q),
        "**Negative kinds** (triplets):",
        negative_kinds(t),
    ])


def coverage_block(triplets: pa.Table, manifest: dict) -> str:
    return "\n\n".join([
        f"_Generated by `python bench/readme_tables.py` from release `{manifest.get('release_id', '?')}`: "
        "triplets per attribute value (the anchor -> positive value), split and negative kind._",
        coverage(rows_of(triplets)),
    ])


def blocks(release: Path) -> dict[str, str]:
    questions, triplets, manifest = read_release(release)
    return {BENCH: bench_block(questions, triplets, manifest), COVERAGE: coverage_block(triplets, manifest)}


# ------------------------------------------------------------------------------ markers ---

def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def wrap(name: str, body: str) -> str:
    begin, end = markers(name)
    return f"{begin}\n{body.strip()}\n{end}"


def replace_sections(text: str, bodies: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with each marker pair's content replaced; the names found. Idempotent."""
    found = []
    for name, body in bodies.items():
        begin, end = markers(name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if len(pattern.findall(text)) > 1:
            raise ValueError(f"marker {begin} appears more than once")
        if pattern.search(text):
            found.append(name)
            text = pattern.sub(lambda _m: wrap(name, body), text)
    return text, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("release", nargs="?", default="data/releases/LATEST")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--write", type=Path, metavar="README", help="replace the marked sections of this file")
    g.add_argument("--check", type=Path, metavar="README", help="exit 1 if the marked sections are stale")
    args = ap.parse_args(argv)
    try:
        release = resolve_release(args.release)
    except FileNotFoundError as e:
        print(f"readme_tables: {e}", file=sys.stderr)
        return 2
    bodies = blocks(release)
    target = args.write or args.check
    if target is None:
        print("\n\n".join(wrap(k, v) for k, v in bodies.items()))
        return 0
    text = target.read_text()
    try:
        new, found = replace_sections(text, bodies)
    except ValueError as e:
        print(f"readme_tables: {target}: {e}; keep one begin/end pair per table block", file=sys.stderr)
        return 2
    if not found:
        names = ", ".join(markers(k)[0] for k in bodies)
        print(f"readme_tables: {target} has none of the markers {names}; add a begin/end pair where the "
              "tables belong", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(f"readme_tables: {target} is stale for release {release.name} (sections {', '.join(found)}); "
                  f"run python bench/readme_tables.py {args.release} --write {target}", file=sys.stderr)
            return 1
        return 0
    if new != text:
        target.write_text(new)
    print(f"readme_tables: {target}: {'updated' if new != text else 'unchanged'} ({', '.join(found)}) from release "
          f"{release.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
