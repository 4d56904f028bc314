"""Label <-> optical-flow agreement over every triplet of a built data root.

    python bench/label_flow_agreement.py [DATA_ROOT]   # default: data (after `make run`)

For each triplet pair (anchor->positive, anchor->negative) whose attribute has a single flow
direction (yaw, pitch, lateral translation, object / end-effector lateral motion), the dense
flow accumulated over the frames between the two is compared with the label's direction
(``remot_pipeline.core.flowcheck``). Prints agreement per (domain, attribute) and every
(domain, attribute, role, negative kind) class that holds a disagreement.
"""

import collections
import sys
import time
from pathlib import Path

from remot_pipeline.core.flowcheck import domain_agreement
from remot_pipeline.core.release import latest_release
from remot_pipeline.defs.store import StageStore


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    store = StageStore(root / "stages")
    release = latest_release(root / "releases")  # the stage outputs LATEST was built from
    if release is None:
        raise SystemExit(f"{root}: no release; run `make run` first")
    per = collections.defaultdict(lambda: [0, 0])
    classes = []
    t0 = time.perf_counter()
    for d in ("navigation", "manipulation", "simulation"):
        rows = domain_agreement(store.of_release(release, "triplets", d).table,
                                store.of_release(release, "episode_frames", d).table,
                                store.of_release(release, "episodes", d), max_episodes=10**9, data_root=root)
        for r in rows:
            per[(d, r["attribute"])][0] += r["checked"]
            per[(d, r["attribute"])][1] += r["agreed"]
            if r["agreed"] < r["checked"]:
                classes.append(r)
    print(f"{time.perf_counter() - t0:.1f} s")
    print(f"{'domain':14s}{'attribute':22s}{'agree':>10s}")
    for (d, a), (n, ok) in sorted(per.items()):
        print(f"{d:14s}{a:22s}{ok:>5d}/{n:<5d}{ok / n:7.1%}")
    print("classes with disagreements:")
    for r in classes:
        print(f"  {r['domain']}/{r['attribute']} {r['role']} ({r['negative_kind']}): {r['checked'] - r['agreed']} of {r['checked']}")


if __name__ == "__main__":
    main()
