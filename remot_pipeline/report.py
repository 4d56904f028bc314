"""``python -m remot_pipeline.report``: where the latest release is, and one DuckDB query over it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from remot_pipeline.core.catalog import EXAMPLE_QUERIES, connect
from remot_pipeline.core.release import ReleaseInvalid, latest_release, verified_release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root", default=os.environ.get("REMOT_DATA_ROOT", "data"))
    parser.add_argument("--query", default="triplets by domain and attribute", choices=sorted(EXAMPLE_QUERIES))
    args = parser.parse_args(argv)
    root = Path(args.data_root)
    release = latest_release(root / "releases")
    if release is None:
        print(f"{root / 'releases'}: no release with a manifest yet; run `make run` first", file=sys.stderr)
        return 1
    try:
        verified_release(release)
    except ReleaseInvalid as exc:
        print(exc, file=sys.stderr)
        return 1
    catalog = root / "catalog.duckdb"
    print(f"release: {release.resolve()} (verified against its manifest)")
    print(f"catalog: {catalog.resolve()}  (duckdb -cmd \"SET file_search_path='{root}'\" {catalog} then e.g. "
          "SELECT * FROM triplets LIMIT 5)")
    con = connect(root, catalog)
    try:
        print(f"-- {args.query}")
        sys.stdout.flush()
        con.sql(EXAMPLE_QUERIES[args.query]).show(max_rows=10_000)  # every row: the summary is short
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
