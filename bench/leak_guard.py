"""The leakage guard measured on paraphrases: recall on leaking patch texts, false drops on safe ones.

Runs :func:`remot_train.teacher.check_leak` on every case of ``bench/leak_corpus.py`` (hand-written,
independently of the guard) as a patch over all of the question's images (no regions, no times), and
reports, per split (``dev``: the corpus the guard was developed against; ``heldout``: written in a
thinking model's voice and not used for tuning; ``probe``: written to find blind spots, first scored
at 10/21 leaks caught and 2/20 safe dropped, then the guard was adjusted to it; ``probe2``: written
after that and scored once, unadjusted: the closest thing here to an out-of-sample estimate):

* ``recall``: leaking texts the guard drops (target >= 95%);
* ``false_drop_rate``: safe texts the guard drops (target <= 5%);
* both broken down by attribute and by style (how a text leaks, or what kind of guidance it is);
* ``frame_accuracy``: among caught direction/state leaks, how often the value the guard read (after
  inverting scene motion for camera ego-motion) is the value the text states;
* ``metadata_teacher``: every text the ``MetadataTeacher`` can write (all attributes x error classes x
  question kinds) through the guard: drops there are false drops of the default teacher.

Writes ``bench/results/leak_guard.{json,md}``.

    .venv/bin/python bench/leak_guard.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from leak_corpus import cases  # noqa: E402

from remot_pipeline.core.questions import _PHRASES  # noqa: E402
from remot_train.scoring import wilson_interval  # noqa: E402
from remot_train.teacher import EvidencePatch, check_leak  # noqa: E402
from remot_train.teacher.metadata import compose_text  # noqa: E402


def judge(case: dict) -> str | None:
    """The guard's reason for dropping the case's text as a patch, or None."""
    n = len(case["sample"]["image_roles"])
    return check_leak(EvidencePatch("spatial", list(range(1, n + 1)), case["text"]), case["sample"])


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson_interval(k, n)
    return {"n": n, "k": k, "rate": round(k / n, 4) if n else 0.0, "ci95": [round(lo, 4), round(hi, 4)]}


def measure(split: str) -> dict:
    rows = []
    for case in cases(split):
        reason = judge(case)
        rows.append({**{k: case[k] for k in ("text", "label", "style", "attribute", "question_type", "spec", "implies")},
                     "dropped": reason is not None, "reason": reason})
    leaks = [r for r in rows if r["label"] == "leak"]
    safe = [r for r in rows if r["label"] == "safe"]
    out = {"recall": _rate(sum(r["dropped"] for r in leaks), len(leaks)),
           "false_drop_rate": _rate(sum(r["dropped"] for r in safe), len(safe))}
    for key in ("attribute", "style", "question_type"):
        groups: dict[str, dict] = defaultdict(lambda: {"leaks": 0, "caught": 0, "safe": 0, "dropped": 0})
        for r in rows:
            g = groups[r[key]]
            if r["label"] == "leak":
                g["leaks"] += 1
                g["caught"] += r["dropped"]
            else:
                g["safe"] += 1
                g["dropped"] += r["dropped"]
        out[f"by_{key}"] = dict(sorted(groups.items()))
    read = [r for r in leaks if r["implies"] and r["reason"] and r["reason"].startswith("states ")]
    right = [r for r in read if f"= {r['implies']!r}" in r["reason"]]
    out["frame_accuracy"] = _rate(len(right), len(read))
    out["missed_leaks"] = [{"text": r["text"], "attribute": r["attribute"], "style": r["style"]}
                           for r in leaks if not r["dropped"]]
    out["false_drops"] = [{"text": r["text"], "attribute": r["attribute"], "reason": r["reason"]}
                          for r in safe if r["dropped"]]
    out["misread_frames"] = [{"text": r["text"], "implies": r["implies"], "reason": r["reason"]}
                             for r in read if r not in right]
    return out


def metadata_texts() -> list[tuple[dict, str]]:
    """Every text the MetadataTeacher composes, with a question it would be written for."""
    boxes = [(0.05, 0.1, 0.45, 0.5), (0.55, 0.5, 0.95, 0.9), (0.3, 0.3, 0.7, 0.7)]
    out = []
    kinds = (("true_false", [(1, 2)], ["anchor", "positive"], "true_false", "true", ["true", "false"]),
             ("multiple_choice", [(1, 2), (1, 3)], ["anchor", "negative", "positive"], "choice_letter", "B",
              ["Image 2", "Image 3"]),
             ("comparative", [(1, 2), (3, 4)], ["anchor", "positive", "negative_anchor", "negative"], "choice_letter",
              "A", ["Pair A", "Pair B"]),
             ("number", [(1, 2)], ["anchor", "positive"], "number_mra", "24 deg", []))
    for attribute, values in _PHRASES.items():
        value = next(iter(values))
        for error_class in ("temporal", "spatial", "misconception"):
            for kind, pairs, roles, rule, answer, options in kinds:
                for box in boxes:
                    text = compose_text(attribute, "red", error_class, pairs, [box] * len(pairs), kind)
                    sample = {"attribute": attribute, "question_type": "fill_blank" if kind == "number" else kind,
                              "parse_rule": rule, "answer": answer, "options": options, "image_roles": roles,
                              "positive_value": value, "negative_value": None, "tolerance": None}
                    out.append((sample, text))
    return out


def measure_metadata() -> dict:
    texts = metadata_texts()
    drops = []
    for sample, text in texts:
        n = len(sample["image_roles"])
        reason = check_leak(EvidencePatch("spatial", list(range(1, n + 1)), text), sample)
        if reason:
            drops.append({"attribute": sample["attribute"], "question_type": sample["question_type"], "text": text,
                          "reason": reason})
    return {"texts": len(texts), "distinct": len({t for _, t in texts}), "dropped": len(drops), "drops": drops[:20]}


def _table(result: dict) -> str:
    lines = ["| split | leaks | recall | 95% CI | safe | false drops | 95% CI | frame read right |",
             "|---|---:|---:|---|---:|---:|---|---:|"]
    for split in ("dev", "heldout", "probe", "probe2", "all"):
        r = result[split]
        rec, fd, fa = r["recall"], r["false_drop_rate"], r["frame_accuracy"]
        lines.append(f"| {split} | {rec['n']} | {100 * rec['rate']:.1f}% | {100 * rec['ci95'][0]:.1f}-{100 * rec['ci95'][1]:.1f}% "
                     f"| {fd['n']} | {100 * fd['rate']:.1f}% ({fd['k']}) | {100 * fd['ci95'][0]:.1f}-{100 * fd['ci95'][1]:.1f}% "
                     f"| {fa['k']}/{fa['n']} |")
    lines += ["", "probe was adjusted to after a first score of 10/21 leaks caught, 2/20 safe dropped; probe2 is "
                  "unadjusted.", "", "| style | leaks caught | safe dropped |", "|---|---:|---:|"]
    for style, g in result["all"]["by_style"].items():
        lines.append(f"| {style} | {g['caught']}/{g['leaks']} | {g['dropped']}/{g['safe']} |")
    lines += ["", "| attribute | leaks caught | safe dropped |", "|---|---:|---:|"]
    for attribute, g in result["all"]["by_attribute"].items():
        lines.append(f"| {attribute} | {g['caught']}/{g['leaks']} | {g['dropped']}/{g['safe']} |")
    md = result["metadata_teacher"]
    lines += ["", f"MetadataTeacher: {md['texts']} texts ({md['distinct']} distinct) through the guard, "
                  f"{md['dropped']} dropped."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for leak_guard.{json,md}")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    result = {split: measure(split) for split in ("dev", "heldout", "probe", "probe2", "all")}
    result["metadata_teacher"] = measure_metadata()
    result["seconds"] = round(time.perf_counter() - started, 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leak_guard.json").write_text(json.dumps(result, indent=2) + "\n")
    md = _table(result)
    (out / "leak_guard.md").write_text(md)
    print(md)
    for split in ("dev", "heldout", "probe", "probe2"):
        for r in result[split]["missed_leaks"]:
            print(f"MISSED [{split}] {r['attribute']}/{r['style']}: {r['text']}")
        for r in result[split]["false_drops"]:
            print(f"FALSE DROP [{split}] {r['attribute']}: {r['text']}  <- {r['reason']}")
        for r in result[split]["misread_frames"]:
            print(f"MISREAD [{split}] implies {r['implies']}: {r['text']}  <- {r['reason']}")
    for r in result["metadata_teacher"]["drops"]:
        print(f"METADATA DROP {r['attribute']}/{r['question_type']}: {r['text']}  <- {r['reason']}")
    return result


if __name__ == "__main__":
    main()
