"""The logic reward on a labelled corpus of thinking-model completions (bench/logic_corpus.py).

    python bench/logic_reward.py [--per-label 6] [--seed 0] [--repeats 20] [--json out.json]

Reports, per label, how often the reward gives -1 / 0 / +1 and its mean, then the targets:

* -1 on sound reasoning (labels ``sound``, ``self_correcting``, ``no_claims``): at most 2%;
* -1 on contradictions written in the notation: at least 90% (contradictions written only in
  prose are counted apart: the reward does not read prose, by design);
* the mean reward of ``gaming`` completions (only restatements of the answer) is at most that of
  completions without claims (``no_claims``).

Cost: the whole corpus scored by :func:`remot_train.rewards.logic_reward` ``--repeats`` times,
interleaved in the same process with the named baseline, :func:`remot_train.rewards.format_reward`
(a regex over the same texts); microseconds per completion (best of the repeats, CPU time) and the
ratio. tests/test_logic_corpus.py asserts the same thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from logic_corpus import LABELS, build  # noqa: E402

from remot_train.rewards import format_reward, logic_reward  # noqa: E402

SOUND = ("sound", "self_correcting", "no_claims")
TARGETS = {"sound_minus_one_max": 0.02, "contradiction_minus_one_min": 0.90}


def columns(records: list[dict]) -> dict:
    """The dataset columns trl would pass for these rows."""
    return dict(answer=[r["answer"] for r in records], parse_rule=[r["parse_rule"] for r in records],
                options=[r["options"] for r in records], relations=[json.dumps(r["relations"]) for r in records])


def measure(records: list[dict]) -> dict:
    """Rates per label and the targets' numbers (no timing)."""
    scores = logic_reward(completions=[r["completion"] for r in records], **columns(records))
    by_label: dict[str, dict] = {}
    for label in LABELS:
        got = [s for r, s in zip(records, scores) if r["label"] == label]
        by_label[label] = {"n": len(got), "minus_one": got.count(-1.0) / len(got), "zero": got.count(0.0) / len(got),
                           "plus_one": got.count(1.0) / len(got), "mean": sum(got) / len(got)}

    def rate(select) -> tuple[float, int]:
        got = [s for r, s in zip(records, scores) if select(r)]
        return (got.count(-1.0) / len(got) if got else float("nan")), len(got)

    sound, n_sound = rate(lambda r: r["label"] in SOUND)
    hedged, n_hedged = rate(lambda r: r["label"] == "hedged")
    contra, n_contra = rate(lambda r: r["label"] == "contradictory" and r["notation"])
    prose, n_prose = rate(lambda r: r["label"] == "contradictory" and not r["notation"])
    return {"n": len(records), "by_label": by_label,
            "sound_minus_one": sound, "n_sound": n_sound, "hedged_minus_one": hedged, "n_hedged": n_hedged,
            "contradiction_minus_one": contra, "n_contradiction": n_contra,
            "prose_contradiction_minus_one": prose, "n_prose_contradiction": n_prose,
            "gaming_mean": by_label["gaming"]["mean"], "no_claims_mean": by_label["no_claims"]["mean"],
            "scores": scores}


def cost(records: list[dict], repeats: int) -> dict:
    """CPU microseconds per completion, best of ``repeats``, logic reward vs format reward."""
    completions = [r["completion"] for r in records]
    cols = columns(records)
    best = {"logic_reward": float("inf"), "format_reward": float("inf")}
    for _ in range(repeats):
        for name, call in (("logic_reward", lambda: logic_reward(completions=completions, **cols)),
                           ("format_reward", lambda: format_reward(completions=completions, **cols))):
            start = time.process_time()
            call()
            best[name] = min(best[name], time.process_time() - start)
    us = {k: v / len(records) * 1e6 for k, v in best.items()}
    return {"us_per_completion": us, "ratio_to_format_reward": us["logic_reward"] / us["format_reward"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-label", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()
    records = build(args.per_label, args.seed)
    m = measure(records)
    c = cost(records, args.repeats)
    print(f"logic reward on {m['n']} labelled completions (bench/logic_corpus.py, per-label {args.per_label}, "
          f"seed {args.seed})\n")
    print(f"{'label':<16}{'n':>5}{'-1':>8}{'0':>8}{'+1':>8}{'mean':>8}")
    for label, b in m["by_label"].items():
        print(f"{label:<16}{b['n']:>5}{b['minus_one']:>8.1%}{b['zero']:>8.1%}{b['plus_one']:>8.1%}{b['mean']:>8.2f}")
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print(f"\n-1 on sound reasoning ({', '.join(SOUND)}; n={m['n_sound']}): {m['sound_minus_one']:.1%} "
          f"(target <= {TARGETS['sound_minus_one_max']:.0%}: {ok(m['sound_minus_one'] <= TARGETS['sound_minus_one_max'])})")
    print(f"-1 on hedged reasoning (n={m['n_hedged']}): {m['hedged_minus_one']:.1%}")
    print(f"-1 on contradictions in the notation (n={m['n_contradiction']}): {m['contradiction_minus_one']:.1%} "
          f"(target >= {TARGETS['contradiction_minus_one_min']:.0%}: "
          f"{ok(m['contradiction_minus_one'] >= TARGETS['contradiction_minus_one_min'])})")
    print(f"-1 on contradictions in prose only, not read by design (n={m['n_prose_contradiction']}): "
          f"{m['prose_contradiction_minus_one']:.1%}")
    print(f"mean reward: gaming {m['gaming_mean']:+.2f}, no claims {m['no_claims_mean']:+.2f} "
          f"(target gaming <= no claims: {ok(m['gaming_mean'] <= m['no_claims_mean'])})")
    us = c["us_per_completion"]
    print(f"\ncost, CPU, best of {args.repeats}: logic_reward {us['logic_reward']:.1f} us/completion, "
          f"format_reward (baseline) {us['format_reward']:.1f} us/completion: ratio {c['ratio_to_format_reward']:.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({**{k: v for k, v in m.items() if k != "scores"}, **c}, indent=2))


if __name__ == "__main__":
    main()
