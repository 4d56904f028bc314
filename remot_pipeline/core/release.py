"""Immutable, content-addressed releases (DESIGN.md §4), published only when they pass.

::

    releases/<release_id>/
      triplets/<domain>/<split>/part-00000.parquet
      questions/<domain>/<split>/part-00000.parquet
      episodes/part-00000.parquet
      quarantine/part-00000.parquet
      manifest.json        # written last: sha256 and rows of every file, config, inputs, lineage
    releases/LATEST        # a symlink to the current <release_id>, replaced atomically

Publishing is one ordered commit (:func:`stage_release`, then the caller's checks, then
:func:`publish`): the files and the manifest are written under a unique temporary name, the
folder is verified (every file's sha256, rows and contract), the blocking checks run on it,
and only then is it renamed to ``releases/<release_id>`` and ``LATEST`` re-pointed. A release that
fails goes to ``releases/.rejected/<release_id>`` for inspection and ``LATEST`` stays where it
was. An existing release is verified before it is reused; one that fails is moved aside and
rewritten, never served. ``LATEST`` is a relative symlink, so the catalog's views
(``releases/LATEST/...``) follow it at query time and the two cannot disagree.

Nothing in a release depends on where the data root is: paths are relative to it, and the same
inputs give the same bytes. The folders are named ``<domain>/<split>`` rather than
``domain=<d>`` because the files hold ``domain`` and ``split`` themselves, and hive-style names
would clash with those columns in pyarrow's dataset API and pandas.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import CONTRACT_VERSION, atomic_write_bytes, contract, write_parquet
from data_contracts.storage import clean_leftovers, makedirs, publish_dir, replace_symlink, tmp_sibling

PARTITIONED = ("triplets", "questions")
SINGLE = ("episodes", "quarantine")
MANIFEST = "manifest.json"
REJECTED = ".rejected"


class ReleaseInvalid(RuntimeError):
    """A release on disk does not match its manifest; it is never served (one line)."""


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_release_id(code_version: str, config: dict, input_hashes: dict[str, str]) -> str:
    """``sha256(contract version, code version, config, input hashes)``, 16 hex digits."""
    payload = {"contract_version": CONTRACT_VERSION, "code_version": code_version, "config": config,
               "inputs": dict(sorted(input_hashes.items()))}
    return hashlib.sha256(canonical_json(payload)).hexdigest()[:16]


def is_release(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_latest(releases_root: Path) -> str | None:
    """The release id ``LATEST`` names (a symlink; a plain file from older roots is read too)."""
    latest = Path(releases_root) / "LATEST"
    if latest.is_symlink():
        return Path(os.readlink(latest)).name
    if latest.is_file():
        return latest.read_text().strip() or None
    return None


def latest_release(releases_root: Path) -> Path | None:
    """The release LATEST points at, if it exists with its manifest (not verified: see
    :func:`verified_release`)."""
    rid = read_latest(releases_root)
    if rid is None:
        return None
    path = Path(releases_root) / rid
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


def stage_release(releases_root: Path, release_id: str, tables: dict[str, pa.Table], manifest_extra: dict) -> Path:
    """Write the release's files and manifest under a unique temporary folder; returns it.

    Nothing a reader looks at changes: the folder is published by :func:`publish` (or dropped
    by :func:`reject`). Leftovers of killed writers in ``releases_root`` are removed first.
    """
    releases_root = makedirs(releases_root)
    clean_leftovers(releases_root)
    tmp = tmp_sibling(releases_root / release_id)
    files = []
    try:
        for name in PARTITIONED:
            for domain, split, part in _partitions(tables[name]):
                rel = f"{name}/{domain}/{split}/part-00000.parquet"
                files.append({"path": rel, "table": name, "domain": domain, "split": split,
                              **write_parquet(part, name, tmp / rel)})
        for name in SINGLE:
            rel = f"{name}/part-00000.parquet"
            files.append({"path": rel, "table": name, **write_parquet(tables[name], name, tmp / rel)})
        manifest = {
            "release_id": release_id,
            "contract_version": CONTRACT_VERSION,
            "files": files,
            "rows": {name: int(tables[name].num_rows) for name in PARTITIONED + SINGLE},
            **manifest_extra,
        }
        atomic_write_bytes(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def publish(releases_root: Path, staged: Path, release_id: str) -> tuple[Path, bool]:
    """Move a verified staged release into ``releases/<release_id>`` and point ``LATEST`` at it.

    Returns ``(path, written)``; ``written`` is False when a sound release with this id was
    already there (concurrent or earlier run), in which case ``staged`` is dropped; pass the
    release folder itself as ``staged`` to re-point ``LATEST`` at a release already verified. An unsound
    one (altered file, missing manifest) is moved aside and replaced, never reused.
    """
    final = Path(releases_root) / release_id
    written = Path(staged) != final and publish_dir(staged, final, verify_release)
    clean_leftovers(releases_root)  # e.g. a LATEST link a killed writer made but never renamed
    replace_symlink(Path(releases_root) / "LATEST", release_id)
    return final, written


def reject(releases_root: Path, staged: Path, release_id: str) -> Path:
    """Keep a release that failed its checks at ``releases/.rejected/<release_id>``, unserved (the
    newest rejection of an id replaces an older one; writers take turns)."""
    final = makedirs(Path(releases_root) / REJECTED) / release_id
    clean_leftovers(final.parent)
    publish_dir(staged, final, lambda p: ["replace"])
    return final


def verify_release(path: Path) -> list[str]:
    """Problems with a release on disk, empty if sound: the manifest names this folder's release
    id, every file it lists is there with its sha256, row count and contract schema, and no other
    file is (a reader's glob would serve it)."""
    import pyarrow.parquet as pq

    from data_contracts import sha256_file

    path = Path(path)
    if not is_release(path):
        return [f"{path}: no {MANIFEST}"]
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        listed = manifest["files"]
        rid = manifest["release_id"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return [f"{path / MANIFEST}: unreadable ({exc!r})"]
    problems = []
    if rid != Path(os.path.realpath(path)).name.split("~")[-1]:  # a staged folder ends in ~<release_id>
        problems.append(f"{path / MANIFEST}: names release {rid!r}, not this folder")
    for f in listed:
        p = path / f["path"]
        if not p.is_file():
            problems.append(f"{p}: missing")
            continue
        if sha256_file(p) != f["sha256"]:
            problems.append(f"{p}: sha256 mismatch")
            continue
        meta = pq.ParquetFile(p)
        if meta.metadata.num_rows != f["rows"]:
            problems.append(f"{p}: row count mismatch")
        elif not meta.schema_arrow.remove_metadata().equals(contract(f["table"]).schema().remove_metadata()):
            problems.append(f"{p}: schema differs from contract {f['table']!r}")
    known = {f["path"] for f in listed} | {MANIFEST}
    extra = sorted(str(p.relative_to(path)) for p in path.rglob("*") if not p.is_dir() and str(p.relative_to(path)) not in known)
    problems += [f"{path / e}: not in the manifest" for e in extra]
    return problems


_VERIFIED: dict[tuple, bool] = {}


def _signature(path: Path) -> tuple:
    stats = [(str(p), p.lstat()) for p in sorted(Path(path).rglob("*"))]
    return (str(Path(path).resolve()),) + tuple((n, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for n, s in stats)


def verified_release(path: Path) -> Path:
    """``path`` if the release verifies and was published, else :class:`ReleaseInvalid` naming
    the first problem.

    A full check (every file's sha256) runs once per process for an unchanged folder (the same
    files, inodes, sizes, modification and change times: any write, even one that restores the
    modification time, changes the change time)."""
    path = Path(path)
    if path.resolve().parent.name == REJECTED:
        raise ReleaseInvalid(f"{path}: release {path.resolve().name} failed its blocking checks and is not served; "
                             "see the run's asset checks")
    sig = _signature(path)
    if not _VERIFIED.get(sig):
        problems = verify_release(path)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ReleaseInvalid(f"{problems[0]}{more}: release {path.name} does not match its manifest and is "
                                 "not served; rebuild it (make run) or restore the file")
        _VERIFIED[sig] = True
    return path
