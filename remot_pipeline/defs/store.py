"""Stage outputs between assets: content-addressed by lineage, checksummed, verified on read.

Each output of a stage for one domain lives at ``<root>/<asset>/<domain>/<key>/``::

    out.parquet, quarantine.parquet   # a StageResult (or out.parquet alone for a plain table)
    value.json                        # an unpartitioned JSON-able value
    entry.json                        # written last: lineage, ledger, sha256 and rows per file

``key`` hashes what produced the output (:func:`lineage_key`): the asset, the domain, its code
version, the run's config hash, the keys of the stage outputs it read, and, for ingestion, the
digest of the raw input files. Two runs with different configs therefore write different folders
and can never read each other's outputs; a rerun with the same lineage finds the same key and
reuses a folder that still verifies. A folder is assembled under a unique temporary name and
renamed into place (:func:`data_contracts.storage.publish_dir`), so a killed writer leaves only
a leftover that the next write removes.

Reading verifies every file's sha256 against ``entry.json`` while loading it: a flipped byte is
:class:`StageCorrupted`, one line naming the file and the fix, never data.

The IO manager resolves which key to load for ``(asset, domain)``: the one this run wrote (same
process, else this run's materialization events), else the latest materialization of that
partition in the Dagster instance. The release then walks the lineage of what it read
(:meth:`StageStore.closure`) and refuses a mix of configs or code versions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import conform, contract_of, sha256_file, write_parquet
from data_contracts.storage import clean_leftovers, makedirs, publish_dir, storage_error, tmp_sibling
from data_contracts.tables import atomic_write_bytes
from remot_pipeline.core.ledger import StageResult

#: Stage files already hashed by this process, by path, expected sha256 and file signature.
_VERIFIED: set[tuple] = set()

ENTRY = "entry.json"
#: Output metadata keys the assets set and the IO manager reads (``emit`` fills them).
LINEAGE_MD = "remot/lineage"
KEYS_MD = "stage_keys"
#: Input metadata (``AssetIn(metadata={LAZY_MD: True})``): load a stage result as a :class:`LazyResult`.
LAZY_MD = "remot/lazy"
_TABLE_KEY = b"remot.stage_key"
#: Op outputs that are no asset, per run and step (``<root>/_steps/<run_id>/<step_key>/<output>``).
STEP_VALUES = "_steps"
#: Stage outputs a shard index leads to in the lineage (``shard_notes`` is metadata, not a stage).
STAGE_LINEAGE = frozenset({"episodes", "episode_frames", "motion_pairs", "positive_pairs", "frame_features",
                           "negatives"})


class StageMissing(FileNotFoundError):
    """No stage output for this asset and domain (one line naming it and the fix)."""


class StageCorrupted(RuntimeError):
    """A stage output's bytes differ from its entry's checksums (one line naming the file and fix)."""


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def lineage_key(asset: str, partition: str | None, lineage: dict) -> str:
    """20 hex digits of ``sha256(asset, partition, lineage)``; ``lineage`` holds the code version,
    the config hash, the input keys and (for ingestion) the raw inputs' digest.

    >>> lineage_key("triplets", "navigation", {"code_version": "6", "config_hash": "ab", "inputs": {}})
    'b06f262e235ee4a87968'
    """
    payload = {"asset": asset, "partition": partition, **lineage}
    return hashlib.sha256(canonical_json(payload)).hexdigest()[:20]


def stage_key_of(value) -> str | None:
    """The key a loaded stage value came from (``None`` for a value computed in memory)."""
    if isinstance(value, (StageResult, ShardSet, LazyResult)):
        return value.stage_key
    if isinstance(value, pa.Table):
        raw = (value.schema.metadata or {}).get(_TABLE_KEY)
        return raw.decode() if raw else None
    return None


class _Ledgered:
    """A stored stage output's ledger, read from its entry (``self._ledger``), as a StageResult
    reports it."""

    rows_in = property(lambda self: self._ledger["rows_in"])
    rows_out = property(lambda self: self._ledger["rows_out"])
    rows_quarantined = property(lambda self: self._ledger["rows_quarantined"])
    rows_filtered = property(lambda self: dict(self._ledger["rows_filtered"]))

    def ledger(self) -> dict:
        return {**self._ledger, "rows_filtered": dict(self._ledger["rows_filtered"])}

    def balanced(self) -> bool:
        return self.rows_in == self.rows_out + self.rows_quarantined + sum(self.rows_filtered.values())


class ShardSet(_Ledgered):
    """One domain's output of a per-shard stage: the shards' stage outputs, in order, read
    lazily. It reads like a :class:`StageResult` (``table``, ``quarantine``, the ledger), where
    ``table`` concatenates every shard; :meth:`tables` yields one shard at a time, which is
    what bounded-memory readers use. The ledger is the sum of the shards' ledgers, read from
    their entries without loading a table."""

    def __init__(self, store: "StageStore", asset: str, domain: str, shards: list[dict], contract: str,
                 ledger: dict | None = None) -> None:
        self.store, self.asset, self.domain, self.contract = store, asset, domain, contract
        self.shards = [{"partition": s["partition"], "key": s["key"]} for s in shards]
        self.stage_key: str | None = None
        self.notes: dict = {}
        if ledger is None:
            ledger = {"rows_in": 0, "rows_out": 0, "rows_quarantined": 0, "rows_filtered": {}}
            for s in self.shards:
                e = store.entry(asset, s["partition"], s["key"])["ledger"]
                for k in ("rows_in", "rows_out", "rows_quarantined"):
                    ledger[k] += e[k]
                for k, v in e["rows_filtered"].items():
                    ledger["rows_filtered"][k] = ledger["rows_filtered"].get(k, 0) + v
        self._ledger = ledger
        self._table: pa.Table | None = None

    def inputs(self) -> dict[str, str]:
        """``{"asset/domain/shard": key}``: the lineage of the set."""
        return {_name(self.asset, s["partition"]): s["key"] for s in self.shards}

    def results(self):
        """Each shard's :class:`StageResult`, read and verified one at a time."""
        for s in self.shards:
            yield self.store.read(self.asset, s["partition"], s["key"])

    def tables(self, columns: list[str] | None = None):
        """Each shard's rows (only ``columns`` when given: the other columns are never read from
        disk), one shard in memory at a time."""
        for s in self.shards:
            yield self.store.read(self.asset, s["partition"], s["key"], columns=columns).table

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            from data_contracts import empty

            parts = [t for t in self.tables() if t.num_rows]
            self._table = pa.concat_tables(parts) if parts else empty(self.contract)
        return self._table

    @property
    def quarantine(self) -> pa.Table:
        from data_contracts import empty

        parts = [q for s in self.shards if (q := self.store.quarantine(self.asset, s["partition"], s["key"])) is not None
                 and q.num_rows]
        return pa.concat_tables(parts) if parts else empty("quarantine")

    def contract_problems(self) -> list[str]:
        """Shards whose entry is stamped with another contract (each file was conformed on write)."""
        return [f"{s['partition']}: stamped {e.get('contract')!r}" for s in self.shards
                if (e := self.store.entry(self.asset, s["partition"], s["key"])).get("contract") != self.contract]


class LazyResult(_Ledgered):
    """A stored :class:`StageResult` read on demand: the ledger comes from its entry, the rows a
    projection and a batch at a time (:meth:`tables`, like :meth:`ShardSet.tables`), or whole
    (``table``, read once). What a step that streams one large stage output (the release reading
    the questions) loads instead of the table (``AssetIn(metadata={LAZY_MD: True})``). The file is
    verified against its checksum before the first batch, as any read."""

    def __init__(self, store: "StageStore", asset: str, partition: str | None, key: str, entry: dict) -> None:
        self.store, self.asset, self.partition, self.stage_key, self._entry = store, asset, partition, key, entry
        self.contract = entry["contract"]
        self._ledger = entry["ledger"]
        self.notes: dict = {}
        self._table: pa.Table | None = None

    def tables(self, columns: list[str] | None = None, batch_rows: int = 16 * 1024):
        """The rows in batches of at most ``batch_rows`` (only ``columns`` when given: the other
        columns are never decoded), conformed to the contract; nothing for an empty output."""
        path = self.store._verified(self.store.path(self.asset, self.partition, self.stage_key), "out.parquet",
                                    self._entry)
        with pq.ParquetFile(path) as f:
            for batch in f.iter_batches(batch_size=batch_rows, columns=columns):
                yield conform(pa.Table.from_batches([batch]), self.contract, columns)

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            self._table = self.store.read(self.asset, self.partition, self.stage_key).table
        return self._table

    @property
    def quarantine(self) -> pa.Table:
        from data_contracts import empty

        q = self.store.quarantine(self.asset, self.partition, self.stage_key)  # never reads the rows
        return empty("quarantine") if q is None else q


def _with_key(value, key: str):
    if isinstance(value, (StageResult, ShardSet)):
        value.stage_key = key
    elif isinstance(value, pa.Table):
        value = value.replace_schema_metadata({**(value.schema.metadata or {}), _TABLE_KEY: key.encode()})
    return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class StageStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, asset: str, partition: str | None) -> Path:
        return self.root / asset / (partition or "_")

    def path(self, asset: str, partition: str | None, key: str) -> Path:
        return self.folder(asset, partition) / key

    # ------------------------------------------------------------------------- write ---

    def write(self, asset: str, partition: str | None, value, lineage: dict) -> str:
        """Store ``value`` under its lineage key; returns the key. A sound folder already there
        (the same lineage, written by an earlier or a concurrent run) is kept as it is."""
        key = lineage_key(asset, partition, lineage)
        final = self.path(asset, partition, key)
        makedirs(final.parent)
        clean_leftovers(final.parent)
        if (final / ENTRY).is_file() and not self.problems(final):
            return key  # the same lineage gives the same bytes: keep what is there
        tmp = tmp_sibling(final)
        try:
            files = self._write_files(tmp, value)
            entry = {"asset": asset, "partition": partition, "key": key, "lineage": lineage, "files": files}
            if isinstance(value, ShardSet):
                entry.update(kind="shards", contract=value.contract, ledger=value.ledger())
            elif isinstance(value, StageResult):
                entry.update(kind="stage_result", contract=contract_of(value.table), ledger=value.ledger())
            elif isinstance(value, pa.Table):
                entry.update(kind="table", contract=contract_of(value))
            else:
                entry.update(kind="json")
            atomic_write_bytes(tmp / ENTRY, json.dumps(entry, indent=1, sort_keys=True, default=str).encode())
            publish_dir(tmp, final, self.problems)
        except OSError as exc:
            raise storage_error(exc, final) from None
        finally:
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
        return key

    def sound(self, asset: str, partition: str | None, key: str) -> bool:
        """Whether the output ``key`` is there and verifies (every file's sha256): reusable."""
        folder = self.path(asset, partition, key)
        return (folder / ENTRY).is_file() and not self.problems(folder)

    @staticmethod
    def _write_files(tmp: Path, value) -> dict:
        makedirs(tmp)
        if isinstance(value, ShardSet):
            data = json.dumps({"asset": value.asset, "domain": value.domain, "shards": value.shards},
                              sort_keys=True).encode()
            atomic_write_bytes(tmp / "shards.json", data)
            return {"shards.json": {"sha256": _sha256(data), "rows": value.rows_out}}
        if isinstance(value, StageResult):
            return {"out.parquet": write_parquet(value.table, contract_of(value.table), tmp / "out.parquet"),
                    "quarantine.parquet": write_parquet(value.quarantine, "quarantine", tmp / "quarantine.parquet")}
        if isinstance(value, pa.Table):
            return {"out.parquet": write_parquet(value, contract_of(value), tmp / "out.parquet")}
        data = json.dumps(value, sort_keys=True).encode()
        atomic_write_bytes(tmp / "value.json", data)
        return {"value.json": {"sha256": _sha256(data), "rows": None}}

    # -------------------------------------------------------------------------- read ---

    def entry(self, asset: str, partition: str | None, key: str) -> dict:
        """The entry of a stage output, checked: its lineage hashes to ``key``."""
        p = self.path(asset, partition, key) / ENTRY
        if not p.is_file():
            raise StageMissing(f"{p.parent}: stage output {asset}[{partition or '-'}] {key} is missing; "
                               f"materialize {asset} again (make run)")
        try:
            entry = json.loads(p.read_text())
            ok = lineage_key(entry["asset"], entry["partition"], entry["lineage"]) == key
        except (ValueError, KeyError, TypeError) as exc:
            raise StageCorrupted(f"{p}: unreadable ({exc!r}); materialize {asset} again (make run)") from None
        if not ok:
            raise StageCorrupted(f"{p}: its lineage does not hash to {key} (altered); materialize {asset} again (make run)")
        return entry

    def problems(self, folder: Path) -> list[str]:
        """What is wrong with a stage folder on disk (no entry, a missing or altered file)."""
        folder = Path(folder)
        if not (folder / ENTRY).is_file():
            return [f"{folder}: no {ENTRY}"]
        try:
            entry = json.loads((folder / ENTRY).read_text())
            if lineage_key(entry["asset"], entry["partition"], entry["lineage"]) != folder.name.split("~")[-1]:
                return [f"{folder / ENTRY}: its lineage does not hash to this folder's key"]
        except (ValueError, KeyError, TypeError, OSError) as exc:
            return [f"{folder / ENTRY}: unreadable ({exc!r})"]
        out = []
        for name, meta in entry.get("files", {}).items():
            p = folder / name
            if not p.is_file():
                out.append(f"{p}: missing")
            elif sha256_file(p) != meta["sha256"]:
                out.append(f"{p}: sha256 mismatch")
        return out

    def _verified(self, folder: Path, name: str, entry: dict) -> Path:
        """``folder / name`` after checking its sha256 against the entry (streamed: a stage file
        can be GBs; the reader then finds it in the page cache).

        A file is hashed once per process while it stays the same file (inode, size, modification
        and change times: any write changes the change time): a step that reads a shard several
        times (labels, then descriptors, then images) pays for one hash."""
        p = folder / name
        try:
            st = p.stat()
        except FileNotFoundError:
            st = None
        if st is None or not p.is_file():
            raise StageMissing(f"{p}: missing from stage output {entry['asset']}[{entry['partition'] or '-'}]; "
                               f"materialize {entry['asset']} again (make run)")
        want = entry["files"][name]["sha256"]
        signature = (str(p.resolve()), want, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if signature in _VERIFIED:
            return p
        if sha256_file(p) != want:
            raise StageCorrupted(f"{p}: sha256 does not match {ENTRY} (the file was altered or corrupted); "
                                 f"materialize {entry['asset']} again (make run) to recompute it")
        if len(_VERIFIED) > 100_000:
            _VERIFIED.clear()
        _VERIFIED.add(signature)
        return p

    def read(self, asset: str, partition: str | None, key: str, columns: list[str] | None = None):
        """The value stored under ``key``, every file verified against its checksum; ``columns``:
        of a table, read only these (a projection: the file is checksummed whole, the other
        columns are not decoded)."""
        entry = self.entry(asset, partition, key)
        folder = self.path(asset, partition, key)
        if entry["kind"] == "json":
            return json.loads(self._verified(folder, "value.json", entry).read_bytes())
        if entry["kind"] == "shards":
            doc = json.loads(self._verified(folder, "shards.json", entry).read_bytes())
            return _with_key(ShardSet(self, doc["asset"], doc["domain"], doc["shards"], entry["contract"],
                                      entry["ledger"]), key)

        def table(name: str, contract: str, columns: list[str] | None = None) -> pa.Table:
            return conform(pq.read_table(self._verified(folder, name, entry), columns=columns), contract, columns)

        if entry["kind"] == "table":
            return _with_key(table("out.parquet", entry["contract"], columns), key)
        ledger = entry["ledger"]
        return _with_key(StageResult(table=table("out.parquet", entry["contract"], columns),
                                     quarantine=table("quarantine.parquet", "quarantine"),
                                     rows_in=ledger["rows_in"], rows_filtered=ledger["rows_filtered"]), key)

    def lazy(self, asset: str, partition: str | None, key: str):
        """:meth:`read`, except that a stage result comes back as a :class:`LazyResult` (read on
        demand); any other kind is read as :meth:`read` reads it."""
        entry = self.entry(asset, partition, key)
        if entry["kind"] == "stage_result":
            return LazyResult(self, asset, partition, key, entry)
        return self.read(asset, partition, key)

    def quarantine(self, asset: str, partition: str | None, key: str) -> pa.Table | None:
        entry = self.entry(asset, partition, key)
        if "quarantine.parquet" not in entry["files"]:
            return None
        return conform(pq.read_table(self._verified(self.path(asset, partition, key), "quarantine.parquet", entry)),
                       "quarantine")

    def of_release(self, release: Path, asset: str, partition: str | None):
        """The stage output ``asset[partition]`` that release folder ``release`` was built from
        (its manifest records every stage key of its lineage), verified like any read."""
        stages = json.loads((Path(release) / "manifest.json").read_text()).get("stages", {})
        name = _name(asset, partition)
        if name not in stages:
            raise StageMissing(f"{release}: its manifest records no stage output {name}")
        return self.read(asset, partition, stages[name])

    def closure(self, keys: dict[str, str]) -> dict[str, dict]:
        """Every stage output in the lineage of ``keys`` (``{"asset/partition": key}``), as
        ``{"asset/partition": entry}``; inputs are followed through each ``entry.json``."""
        out: dict[str, dict] = {}
        todo = list(keys.items())
        while todo:
            name, key = todo.pop()
            if name in out:
                if out[name]["key"] != key:
                    raise StageCorrupted(f"lineage holds two outputs of {name} ({out[name]['key']} and {key}); "
                                         "materialize the whole graph again (make run)")
                continue
            asset, _, part = name.partition("/")
            out[name] = self.entry(asset, None if part == "_" else part, key)
            todo += list(out[name]["lineage"].get("inputs", {}).items())
        return out


# ----------------------------------------------------------------------------- IO manager ---

#: Per process: what each run wrote ``{run_id: {(asset, partition): key}}`` and what each step
#: read ``{(run_id, step_key): {"asset/partition": key}}`` (the lineage of its outputs).
_WRITTEN: dict[str, dict[tuple[str, str | None], str]] = {}
_READ: dict[tuple[str, str], dict[tuple[str, str | None], str]] = {}


def _plain(v):
    return getattr(v, "value", v)


def _name(asset: str, partition: str | None) -> str:
    return f"{asset}/{partition or '_'}"


class StageIOManager(dg.ConfigurableIOManager):
    """Stores per-domain stage outputs content-addressed by lineage (see the module docstring)."""

    root: str

    @property
    def store(self) -> StageStore:
        return StageStore(Path(self.root))

    def _keys(self, context) -> list[str | None]:
        return list(context.asset_partition_keys) if context.has_asset_partitions else [None]

    def _step_value(self, run_id: str, step_key: str, name: str, mapping_key: str | None) -> Path:
        """Where an op output that is no asset lives (a shard plan, a shard's stage keys: a few
        KB, pickled): under the data root, which every process and machine running steps shares."""
        return Path(self.root) / STEP_VALUES / run_id / step_key / (name + (f"[{mapping_key}]" if mapping_key else ""))

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if not context.has_asset_key:
            import pickle

            path = self._step_value(context.run_id, context.step_key, context.name, context.mapping_key)
            makedirs(path.parent)
            atomic_write_bytes(path, pickle.dumps(obj))
            return
        asset = context.asset_key.to_user_string()
        parts = self._keys(context)
        if parts != [None]:
            missing = [k for k in parts if k not in obj]
            if missing:
                raise ValueError(f"asset {asset} returned no value for partition(s) {missing}")
        base = json.loads(_plain(context.output_metadata.get(LINEAGE_MD)) or "{}")
        sources = base.pop("sources", {})
        read = _READ.get((context.run_id, context.step_key), {})
        written = {}
        for p in parts:
            # An output for one domain is keyed by the inputs of that domain and the unpartitioned ones.
            inputs = {_name(a, q): k for (a, q), k in read.items() if p is None or q in (p, None)}
            value = obj if p is None else obj[p]
            if isinstance(value, ShardSet):  # keyed by, and leading to, the shard outputs it lists
                inputs = {**inputs, **value.inputs()}
            elif isinstance(value, dict) and isinstance(value.get("shards"), list):  # a shard index
                inputs = {**inputs, **{_name(a, x["partition"]): k for x in value["shards"]
                                       for a, k in x["keys"].items() if a in STAGE_LINEAGE}}
            lineage = {**base, "inputs": inputs}
            if p in sources:
                lineage["sources"] = sources[p]
            written[p or "_"] = key = self.store.write(asset, p, value, lineage)
            _WRITTEN.setdefault(context.run_id, {})[(asset, p)] = key
        context.add_output_metadata({KEYS_MD: dg.MetadataValue.json(written)})

    def load_input(self, context: dg.InputContext):
        if not context.has_asset_key:
            import pickle

            up = context.upstream_output
            path = self._step_value(up.run_id, up.step_key, up.name, up.mapping_key)
            if not path.is_file():
                raise StageMissing(f"{path}: the output of step {up.step_key} is missing; re-execute the run")
            return pickle.loads(path.read_bytes())
        asset = context.asset_key.to_user_string()
        run_id = context.step_context.run_id
        read = _READ.setdefault((run_id, context.step_context.step.key), {})
        out = {}
        lazy = bool((context.definition_metadata or {}).get(LAZY_MD))
        for p in self._keys(context):
            key = self._find(context, run_id, asset, p)
            out[p] = self.store.lazy(asset, p, key) if lazy else self.store.read(asset, p, key)
            read[(asset, p)] = key
        return out[None] if list(out) == [None] else out

    @staticmethod
    def _find(context: dg.InputContext, run_id: str, asset: str, partition: str | None) -> str:
        """The key to load: this run's output, else the latest materialization of the partition."""
        if (key := _WRITTEN.get(run_id, {}).get((asset, partition))):
            return key
        instance = context.instance
        asset_key = dg.AssetKey.from_user_string(asset)

        def key_in(mat) -> str | None:
            keys = _plain((mat.metadata or {}).get(KEYS_MD)) if mat else None
            return (keys or {}).get(partition or "_")

        # This run, then the run it re-executes (from failure) and that run's root: their outputs
        # share its config; only then the latest materialization in the instance.
        run = instance.get_run_by_id(run_id)
        chain = [run_id] + ([r for r in (run.parent_run_id, run.root_run_id) if r] if run else [])
        for rid in dict.fromkeys(chain):
            for event in reversed(instance.all_logs(rid, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)):
                mat = event.asset_materialization
                if mat and mat.asset_key == asset_key and (key := key_in(mat)):
                    return key
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition] if partition else None), limit=1)
        for record in records.records:
            if (key := key_in(record.asset_materialization)):
                return key
        raise StageMissing(f"{asset}[{partition or '-'}] has no stage output in this Dagster instance; "
                           f"materialize {asset} (and its upstream) first (make run)")
