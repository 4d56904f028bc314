"""One pipeline run in its own process, for the reliability tests (tests/test_reliability.py).

``python tests/reliability_child.py DATA_ROOT [--world 3x40] [--cap N] [--only-release] [--kill-at REGEX [--kill-nth K]]``

The run is the real thing: ``dagster.materialize`` of the data assets on a small synthetic world
(3 episodes x 40 frames per domain by default: small, and still every domain has train and test
triplets), into ``DATA_ROOT``, recorded in the Dagster instance ``$DAGSTER_HOME`` (so a later run can
load this run's outputs). ``--kill-at`` makes the process SIGKILL itself right before the K-th
rename (``os.rename`` / ``os.replace``) whose destination matches REGEX: the moment a stage
output, a release, ``LATEST`` or the catalog would be put in place. Prints ``release <id>`` on
success, else the error's first line, and exits 0 / 1.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def arm_kill(pattern: str, nth: int) -> None:
    seen = [0]
    regex = re.compile(pattern)

    def wrap(fn):
        def renamed(src, dst, *a, **kw):
            if regex.search(str(dst)):
                seen[0] += 1
                if seen[0] >= nth:
                    os.kill(os.getpid(), signal.SIGKILL)
            return fn(src, dst, *a, **kw)
        return renamed

    os.rename, os.replace = wrap(os.rename), wrap(os.replace)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_root")
    ap.add_argument("--cap", type=int, default=None, help="max_triplets_per_domain (default: the config's)")
    ap.add_argument("--only-release", action="store_true", help="materialize release and catalog alone")
    ap.add_argument("--world", default="3x40", help="EPISODESxFRAMES per domain of the synthetic world")
    ap.add_argument("--kill-at", default=None)
    ap.add_argument("--kill-nth", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))

    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore")
    from remot_pipeline import definitions
    from remot_pipeline.defs.resources import RemotPaths
    from remot_pipeline.defs.store import StageIOManager
    from tests.conftest import small_config

    episodes, frames = (int(x) for x in args.world.split("x"))
    cfg = {} if args.cap is None else {"max_triplets_per_domain": args.cap}
    config = small_config(world={"episodes_per_domain": episodes, "frames_per_episode": frames}, **cfg)
    resources = {"config": config, "paths": RemotPaths(data_root=args.data_root),
                 "io_manager": StageIOManager(root=str(Path(args.data_root) / "stages"))}
    assets = definitions.DATA_ASSETS
    selection = [dg.AssetKey("release"), dg.AssetKey("catalog")] if args.only_release else None
    if args.kill_at:
        arm_kill(args.kill_at, args.kill_nth)
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(assets, selection=selection, resources=resources, instance=instance,
                                tags=definitions.ALL_DOMAINS_TAGS, raise_on_error=False)
    if result.success:
        md = [m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey("release")]
        print(f"release {md[-1].materialization.metadata['release_id'].value}")
        return 0
    failures = [e for e in result.all_events if e.is_step_failure]
    for e in failures:
        err = e.step_failure_data.error
        while err.cause is not None and not err.message.strip():
            err = err.cause
        print("step failed:", e.step_key, "|", (err.cause or err).message.strip().splitlines()[0])
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
