"""Leakage of the MetadataTeacher's evidence patches on remot-bench.

Every remot-bench question (the release's test split) is given to the MetadataTeacher with a
failed rollout of each error class (a wrong answer with a temporal, a spatial and a generic
rationale), and every proposed patch is checked by the leakage guard. The acceptance target is
0 leaking patches. Writes ``bench/results/teacher_leakage_<teacher>.{json,md}``.

    .venv/bin/python bench/teacher_leakage.py [--release data]                  # MetadataTeacher
    .venv/bin/python bench/teacher_leakage.py --teacher model --model-path M --limit 60

``--teacher model`` runs a frozen local VLM (``ModelTeacher``); without ``--model-path`` it builds
the random tiny model, whose output is never a valid patch, so it measures the fallback path.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from remot_train.data import release_files, resolve_release
from remot_train.teacher import MetadataTeacher, ModelTeacher, leakage_rate

FAILED = [
    "<think>image 2 comes before image 1, so I read the pair backwards</think><answer>{wrong}</answer>",
    "<think>the view moves to the other side</think><answer>{wrong}</answer>",
    "<think>nothing seems to change</think><answer>{wrong}</answer>",
]


def bench_samples(release: Path) -> list[dict]:
    """Each bench question merged with its triplet's metadata (what the teacher is given)."""
    con = duckdb.connect()
    try:
        rows = con.sql("""
            SELECT t.*, q.* EXCLUDE (triplet_id, episode_id, domain, split, attribute)
            FROM read_parquet(?) q JOIN read_parquet(?) t USING (triplet_id)
            WHERE q.split = 'test' ORDER BY q.question_id""",
                       params=[release_files(release, "questions"), release_files(release, "triplets")]
                       ).to_arrow_table().to_pylist()
    finally:
        con.close()
    return rows


def wrong_answer(sample: dict) -> str:
    opts = [o for o in (sample.get("options") or []) if o != sample["answer"]]
    if sample["parse_rule"] == "choice_letter":
        return "B" if sample["answer"] == "A" else "A"
    if sample["parse_rule"] == "true_false":
        return "false" if sample["answer"] == "true" else "true"
    if sample["parse_rule"] in ("number", "number_mra"):
        return "0"
    return opts[0] if opts else "unknown"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release", default="data", help="data root or release folder (default: data)")
    ap.add_argument("--teacher", choices=["metadata", "model"], default="metadata")
    ap.add_argument("--model-path", help="local VLM checkpoint for --teacher model (default: the random tiny model)")
    ap.add_argument("--limit", type=int, help="only the first N bench questions (by question_id)")
    args = ap.parse_args(argv)
    release = resolve_release(args.release)
    samples = bench_samples(release)[: args.limit]
    if args.teacher == "model":
        path = args.model_path
        if path is None:
            from remot_train.model import build_tiny_model

            path = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
        teacher = ModelTeacher(path)
    else:
        teacher = MetadataTeacher()
    started = time.perf_counter()
    result = leakage_rate(teacher, samples, failed_rollouts=lambda s: [f.format(wrong=wrong_answer(s)) for f in FAILED])
    result = {"teacher": args.teacher, "model_path": str(args.model_path or "random tiny"), "release_id": release.name,
              "questions": len(samples), "seconds": round(time.perf_counter() - started, 1), **result}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    name = f"teacher_leakage_{args.teacher}"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2, default=list) + "\n")
    lo, hi = result["leakage_ci95"]
    md = (f"{type(teacher).__name__} on remot-bench (release {release.name}, {len(samples)} questions, "
          f"{result['seconds']} s): {result['delivered']} patches delivered, {result['leaked']} leaking "
          f"proposals dropped (leakage rate {100 * result['leakage_rate']:.2f}%, 95% CI [{100 * lo:.2f}, {100 * hi:.2f}]), "
          f"{result['fallbacks']} fallbacks (no patch), {result['post_guard_leaks']} leaks after the guard.\n")
    (out / f"{name}.md").write_text(md)
    print(md)
    return result


if __name__ == "__main__":
    main()
