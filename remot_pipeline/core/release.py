"""Immutable, content-addressed releases (DESIGN.md §4), published only when they pass.

::

    releases/<release_id>/
      triplets/<domain>/<split>/part-00000.parquet   # part-00001, ... when a part reaches PART_MAX_BYTES
      questions/<domain>/<split>/part-00000.parquet
      episodes/part-00000.parquet
      quarantine/part-00000.parquet
      README.md            # Hugging Face dataset card (remot_pipeline.core.card), checksummed in the manifest
      manifest.json        # written last: sha256 and rows of every file, config, inputs, lineage
    releases/LATEST        # a symlink to the current <release_id>, replaced atomically

Readers take a table's files from the manifest (or glob ``triplets/*/*/*.parquet``: verification
refuses a release holding a file the manifest does not list, so the two agree).

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
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import (CONTRACT_VERSION, IMAGE, atomic_write_bytes, conform, contract, empty, sha256_file,
                            write_parquet)
from data_contracts.storage import clean_leftovers, makedirs, publish_dir, replace_symlink, storage_error, tmp_sibling
from data_contracts.tables import PARQUET_OPTIONS

PARTITIONED = ("triplets", "questions")
SINGLE = ("episodes", "quarantine")
MANIFEST = "manifest.json"
REJECTED = ".rejected"

#: Bound on one part file, in uncompressed Arrow bytes (``Table.nbytes`` of the row groups written to
#: it, measured on contiguous arrays so that it does not depend on chunking): once a part holds this
#: much it is closed and the next row group starts ``part-<n+1>``, so a part passes it by at most one
#: row group. 128 MiB is ~2,300 triplet rows (~57 KB a row in Arrow, ~43 KB on disk: JPEG bytes do not
#: compress), ~100 MB on disk in ~5 row groups, or ~100K question rows (~1.3 KB a row, a few MB
#: zstd-compressed): well under the 500 MB shards ``datasets.push_to_hub`` makes, so a large split is
#: several files that DuckDB and ``datasets`` read in parallel and that can be copied, hashed or
#: re-uploaded one at a time, while a (domain, split) of today's releases (a few hundred triplets,
#: ~30 MB) stays one ``part-00000``.
PART_MAX_BYTES = 128 * 1024 * 1024
#: Rows per Parquet row group in tables that carry inline images (``triplets``: four JPEG structs,
#: ~57 KB a row in Arrow): 512 rows is ~30 MB. A row group is what DuckDB scans per thread and what HF
#: ``datasets`` reads per batch (it takes the first row group's row count as its batch size), so a
#: reader holds tens of MB per thread, not hundreds; and it is what the writer buffers per open
#: (domain, split), six of them at most.
ROW_GROUP_ROWS = 512
#: Rows per row group in tables without images (``questions`` ~1.3 KB a row, ``episodes``,
#: ``quarantine``): 16,384 rows is ~20 MB uncompressed, large enough for zstd, dictionary pages and
#: DuckDB's per-row-group min/max statistics to pay off (512-row groups of questions would be ~0.7 MB,
#: mostly footer and page overhead), small enough to buffer one per open (domain, split).
ROW_GROUP_ROWS_WITHOUT_IMAGES = 16 * 1024

#: What :func:`stage_release` takes per table: one table, or an iterable of chunks (a generator
#: yielding one shard at a time, in any mix of domains and splits).
TableInput = pa.Table | pa.RecordBatch | Iterable[pa.Table | pa.RecordBatch]


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


def row_group_rows_for(name: str) -> int:
    """The default rows per row group of table ``name``: :data:`ROW_GROUP_ROWS` when its contract
    holds an image column, :data:`ROW_GROUP_ROWS_WITHOUT_IMAGES` otherwise."""
    has_images = any(f.type == IMAGE for f in contract(name).schema())
    return ROW_GROUP_ROWS if has_images else ROW_GROUP_ROWS_WITHOUT_IMAGES


def _chunks(data: TableInput):
    """``data`` as a stream of tables (one table, a record batch or a polars frame is one chunk)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)) or hasattr(data, "to_arrow"):
        data = [data]
    for chunk in data:
        yield pa.Table.from_batches([chunk]) if isinstance(chunk, pa.RecordBatch) else chunk


def _path_part(value: str, column: str, name: str) -> str:
    if not value or value in (".", "..") or "/" in value or "\\" in value or value.startswith("."):
        raise ValueError(f"table {name!r}: {column} {value!r} cannot name a release folder; "
                         "fix the domain or split the rows carry")
    return value


def _keys(table: pa.Table, name: str) -> list[tuple[str, str]]:
    """The (domain, split) pairs present in ``table``, sorted."""
    pairs = table.select(["domain", "split"]).group_by(["domain", "split"]).aggregate([]).to_pylist()
    return sorted((_path_part(r["domain"], "domain", name), _path_part(r["split"], "split", name)) for r in pairs)


class _PartWriter:
    """The part files of one table folder (``<name>/<domain>/<split>`` or ``<name>``), streamed.

    Rows are buffered until a row group is full (``row_group_rows`` rows), then written as one
    row group combined into contiguous arrays: where the row groups and parts end depends on the
    rows alone, never on how they arrived in chunks, so equal rows give equal bytes. A part is
    closed once the Arrow bytes of its row groups reach ``part_max_bytes``. Each part is written
    under a unique temporary name and renamed when closed."""

    def __init__(self, root: Path, folder: str, name: str, keys: dict, row_group_rows: int, part_max_bytes: int):
        self.root, self.folder, self.name, self.keys = root, folder, name, keys
        self.row_group_rows, self.part_max_bytes = row_group_rows, part_max_bytes
        self.schema = contract(name).schema()
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.part = 0
        self.writer = None
        self.tmp: Path | None = None
        self.part_rows = self.part_bytes = 0
        self.files: list[dict] = []
        self.rows = 0

    def _rel(self) -> str:
        return f"{self.folder}/part-{self.part:05d}.parquet"

    def add(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.pending.append(table)
        self.pending_rows += table.num_rows
        while self.pending_rows >= self.row_group_rows:
            self._write_group(self.row_group_rows)

    def _write_group(self, n: int) -> None:
        buffered = pa.concat_tables(self.pending)
        group, rest = buffered.slice(0, n).combine_chunks(), buffered.slice(n)
        self.pending, self.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        final = self.root / self._rel()
        try:
            if self.writer is None:
                import pyarrow.parquet as pq

                makedirs(final.parent)
                self.tmp = tmp_sibling(final)
                self.writer = pq.ParquetWriter(self.tmp, self.schema, **PARQUET_OPTIONS)
            self.writer.write_table(group, row_group_size=group.num_rows)
        except OSError as exc:
            raise storage_error(exc, final) from None
        self.part_rows += group.num_rows
        self.part_bytes += group.nbytes
        if self.part_bytes >= self.part_max_bytes:
            self._close_part()

    def _close_part(self) -> None:
        final = self.root / self._rel()
        try:
            self.writer.close()
            os.replace(self.tmp, final)
        except OSError as exc:
            raise storage_error(exc, final) from None
        self.files.append({"path": self._rel(), "table": self.name, **self.keys,
                           "rows": self.part_rows, "sha256": sha256_file(final)})
        self.rows += self.part_rows
        self.writer, self.tmp = None, None
        self.part, self.part_rows, self.part_bytes = self.part + 1, 0, 0

    def finish(self) -> list[dict]:
        if self.pending_rows:
            self._write_group(self.pending_rows)
        if self.writer is not None:
            self._close_part()
        return self.files

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - the staged folder is removed anyway
                pass


def _stage_table(tmp: Path, name: str, data: TableInput, row_group_rows: int | None,
                 part_max_bytes: int) -> tuple[list[dict], int]:
    """Stream table ``name`` into its part files under ``tmp``; returns (manifest entries, rows)."""
    rg = row_group_rows or row_group_rows_for(name)
    writers: dict[tuple, _PartWriter] = {}
    try:
        for chunk in _chunks(data):
            chunk = conform(chunk, name)
            # Slices of at most one row group: filtering by (domain, split) copies no more than that.
            for offset in range(0, chunk.num_rows, rg):
                piece = chunk.slice(offset, rg)
                if name in SINGLE:
                    groups = [((), piece)]
                else:
                    keys = _keys(piece, name)
                    groups = [(keys[0], piece)] if len(keys) == 1 else [
                        ((d, s), piece.filter(pc.and_(pc.equal(piece["domain"], d), pc.equal(piece["split"], s))))
                        for d, s in keys]
                for key, rows in groups:
                    if key not in writers:
                        folder = "/".join((name, *key))
                        writers[key] = _PartWriter(tmp, folder, name, dict(zip(("domain", "split"), key)), rg,
                                                   part_max_bytes)
                    writers[key].add(rows)
        files = [f for key in sorted(writers) for f in writers[key].finish()]
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    if name in SINGLE and not files:  # an empty single table is still one file, with the schema
        rel = f"{name}/part-00000.parquet"
        files = [{"path": rel, "table": name, **write_parquet(empty(name), name, tmp / rel)}]
    return files, sum(w.rows for w in writers.values())


def stage_release(releases_root: Path, release_id: str, tables: dict[str, TableInput], manifest_extra: dict, *,
                  part_max_bytes: int | None = None, row_group_rows: int | None = None) -> Path:
    """Write the release's files and manifest under a unique temporary folder; returns it.

    ``tables`` maps each of :data:`PARTITIONED` and :data:`SINGLE` to a ``pa.Table`` or to an
    iterable of chunks (tables or record batches, e.g. a generator yielding one shard at a time;
    a chunk may mix domains and splits). Chunks are streamed: each is conformed to the table's
    contract, split by (domain, split) and appended, in input order, to that folder's open part;
    no table is ever concatenated whole. Memory is bounded by one chunk plus one row group per
    open (domain, split) (at most one writer each, few of them). Rows of a (domain, split) keep
    their input order across its parts ``part-00000``, ``part-00001``, ...: a part is closed
    once it holds ``part_max_bytes`` (default :data:`PART_MAX_BYTES`), and row groups hold
    ``row_group_rows`` rows (default :data:`ROW_GROUP_ROWS` for tables with images,
    :data:`ROW_GROUP_ROWS_WITHOUT_IMAGES` otherwise). The same rows give byte-identical files
    however they are chunked (a table of at most one row group gives the bytes
    :func:`~data_contracts.write_parquet` gives it). A partitioned table with no rows writes no
    file; a single one writes one empty file with its schema.

    ``manifest["files"]`` lists every part (path, table, domain and split for partitioned tables,
    rows, sha256), tables in order, then domain, split and part; ``manifest["rows"]`` the total
    rows per table; ``manifest["card"]`` the path and sha256 of the dataset card ``README.md``
    (:mod:`remot_pipeline.core.card`), written just before the manifest, so that
    ``datasets.load_dataset(release_folder)`` works and the folder can be pushed to a hub as is (it
    is not in ``files``, which lists Parquet parts only). Nothing a reader looks at changes: the
    folder is published by :func:`publish` (or dropped by :func:`reject`). Leftovers of killed
    writers in ``releases_root`` are removed first.
    """
    part_max_bytes = PART_MAX_BYTES if part_max_bytes is None else int(part_max_bytes)
    if part_max_bytes <= 0 or (row_group_rows is not None and int(row_group_rows) <= 0):
        raise ValueError(f"part_max_bytes ({part_max_bytes}) and row_group_rows ({row_group_rows}) must be positive")
    releases_root = makedirs(releases_root)
    clean_leftovers(releases_root)
    tmp = tmp_sibling(releases_root / release_id)
    files, rows = [], {}
    try:
        makedirs(tmp)
        for name in PARTITIONED + SINGLE:
            table_files, rows[name] = _stage_table(tmp, name, tables[name], row_group_rows and int(row_group_rows),
                                                   part_max_bytes)
            files += table_files
        manifest = {
            "release_id": release_id,
            "contract_version": CONTRACT_VERSION,
            "files": files,
            "rows": rows,
            **manifest_extra,
        }
        manifest["card"] = _write_card(tmp, manifest)
        atomic_write_bytes(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _write_card(folder: Path, manifest: dict) -> dict:
    """Write the release's Hugging Face dataset card (:mod:`remot_pipeline.core.card`) into the
    staged ``folder``; returns its manifest entry (``path``, ``sha256``). The card is a pure function
    of the manifest, so the same release gives the same bytes."""
    from remot_pipeline.core.card import CARD, dataset_card, split_bytes

    atomic_write_bytes(folder / CARD, dataset_card(manifest, split_bytes(folder, manifest)).encode())
    return {"path": CARD, "sha256": sha256_file(folder / CARD)}


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
    id, every file it lists (every part) is there with its sha256, row count and contract schema,
    its per-table ``rows`` are the sum of its files', the dataset card matches its sha256 when the
    manifest lists one (``manifest["card"]``), and no other file is (a reader's glob, e.g.
    DuckDB's ``triplets/*/*/*.parquet``, would serve it)."""
    import pyarrow.parquet as pq

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
    totals = manifest.get("rows")
    if isinstance(totals, dict):
        for name, n in sorted(totals.items()):
            held = sum(f["rows"] for f in listed if f["table"] == name)
            if held != n:
                problems.append(f"{path / MANIFEST}: rows of {name!r} are {n} but its files list {held}")
    card = manifest.get("card")  # the dataset card (README.md), absent from releases made before it
    if card is not None:
        try:
            cp = path / card["path"]
            if not cp.is_file():
                problems.append(f"{cp}: missing")
            elif sha256_file(cp) != card["sha256"]:
                problems.append(f"{cp}: sha256 mismatch")
        except (KeyError, TypeError):
            problems.append(f"{path / MANIFEST}: unreadable card entry {card!r}")
    known = {f["path"] for f in listed} | {MANIFEST} | ({card.get("path")} if isinstance(card, dict) else set())
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
