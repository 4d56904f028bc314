"""Immutable, content-addressed releases (DESIGN.md §4).

::

    releases/<release_id>/
      triplets/domain=<d>/split=<s>/part-00000.parquet
      questions/domain=<d>/split=<s>/part-00000.parquet
      episodes/part-00000.parquet
      quarantine/part-00000.parquet
      manifest.json        # written last
    releases/LATEST        # the current release_id, replaced atomically

The release is assembled in a temporary folder, ``manifest.json`` is written last, and the
folder is renamed into place; ``LATEST`` is then replaced by rename. A folder without a
manifest is not a release: readers ignore it. The same inputs give the same ``release_id``,
and an existing release is never rewritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import CONTRACT_VERSION, atomic_write_bytes, write_parquet

PARTITIONED = ("triplets", "questions")
SINGLE = ("episodes", "quarantine")
MANIFEST = "manifest.json"


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_release_id(code_version: str, config: dict, input_hashes: dict[str, str]) -> str:
    """``sha256(contract version, code version, config, input hashes)``, 16 hex digits."""
    payload = {"contract_version": CONTRACT_VERSION, "code_version": code_version, "config": config,
               "inputs": dict(sorted(input_hashes.items()))}
    return hashlib.sha256(canonical_json(payload)).hexdigest()[:16]


def is_release(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def latest_release(releases_root: Path) -> Path | None:
    """The release LATEST points at, if it exists with its manifest."""
    latest = Path(releases_root) / "LATEST"
    if not latest.is_file():
        return None
    path = Path(releases_root) / latest.read_text().strip()
    return path if is_release(path) else None


def _partitions(table: pa.Table) -> list[tuple[str, str, pa.Table]]:
    out = []
    for domain in sorted(set(table.column("domain").to_pylist())):
        for split in ("test", "train"):
            mask = pc.and_(pc.equal(table.column("domain"), domain), pc.equal(table.column("split"), split))
            part = table.filter(mask)
            if part.num_rows:
                out.append((domain, split, part))
    return out


def write_release(
    releases_root: Path, release_id: str, tables: dict[str, pa.Table], manifest_extra: dict
) -> tuple[Path, bool]:
    """Write the release unless it exists. Returns ``(path, written)``."""
    releases_root = Path(releases_root)
    final = releases_root / release_id
    if is_release(final):
        _point_latest(releases_root, release_id)
        return final, False
    tmp = releases_root / f".tmp-{release_id}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    files = []
    for name in PARTITIONED:
        for domain, split, part in _partitions(tables[name]):
            rel = f"{name}/domain={domain}/split={split}/part-00000.parquet"
            files.append({"path": rel, "table": name, "domain": domain, "split": split,
                          **write_parquet(part, name, tmp / rel)})
    for name in SINGLE:
        rel = f"{name}/part-00000.parquet"
        files.append({"path": rel, "table": name, **write_parquet(tables[name], name, tmp / rel)})
    manifest = {
        "release_id": release_id,
        "contract_version": CONTRACT_VERSION,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": files,
        "rows": {name: int(tables[name].num_rows) for name in PARTITIONED + SINGLE},
        **manifest_extra,
    }
    atomic_write_bytes(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
    if final.exists():  # a leftover without manifest is not a release: replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    _point_latest(releases_root, release_id)
    return final, True


def _point_latest(releases_root: Path, release_id: str) -> None:
    atomic_write_bytes(Path(releases_root) / "LATEST", (release_id + "\n").encode())


def verify_release(path: Path) -> list[str]:
    """Problems with a release on disk (missing files, sha256 or row mismatches); empty if sound."""
    import pyarrow.parquet as pq

    from data_contracts import sha256_file

    path = Path(path)
    if not is_release(path):
        return [f"{path}: no {MANIFEST}"]
    manifest = json.loads((path / MANIFEST).read_text())
    problems = []
    for f in manifest["files"]:
        p = path / f["path"]
        if not p.is_file():
            problems.append(f"{p}: missing")
            continue
        if sha256_file(p) != f["sha256"]:
            problems.append(f"{p}: sha256 mismatch")
            continue
        if pq.ParquetFile(p).metadata.num_rows != f["rows"]:
            problems.append(f"{p}: row count mismatch")
    return problems
