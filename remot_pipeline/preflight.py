"""``python -m remot_pipeline.preflight``: before a run, fail in one line when the data root
cannot be written, and warn when its disk is nearly full (``make run`` calls it first).

The same check runs inside the job (the ``synthetic_world`` step), so a run launched from the UI
or with ``dagster job execute`` fails at its first step with the same line.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from data_contracts.storage import StorageError, check_writable
from remot_pipeline.core.catalog import CatalogError, check_root

#: Below this much free space the run is likely to stop with "no space left on device".
MIN_FREE_BYTES = 2 << 30


def main(argv: list[str] | None = None) -> int:
    root = Path((argv or [None])[0] or os.environ.get("REMOT_DATA_ROOT", "data"))
    try:
        check_writable(root)
        check_root(root)
    except (StorageError, CatalogError) as exc:
        print(f"remot: {exc}", file=sys.stderr)
        return 1
    free = shutil.disk_usage(root).free
    if free < MIN_FREE_BYTES:
        print(f"remot: warning: {root.resolve()} has {free / 2**30:.1f} GiB free; a run may stop with "
              "'no space left on device' (old stage outputs under stages/ can go)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
