"""Where stage outputs live between assets, and the IO manager that uses it.

Each partitioned asset returns ``{domain: StageResult | pa.Table}``; each domain is stored as
``<root>/<asset>/<domain>/{out.parquet, quarantine.parquet, ledger.json}``, written through the
data contracts (atomic). Unpartitioned JSON-able values go to ``<root>/<asset>/value.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import atomic_write_bytes, contract_of, read_parquet, write_parquet
from remot_pipeline.core.ledger import StageResult


class StageStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, asset: str, partition: str | None) -> Path:
        return self.root / asset / (partition or "_")

    def write(self, asset: str, partition: str | None, value) -> None:
        d = self.folder(asset, partition)
        if isinstance(value, StageResult):
            name = contract_of(value.table)
            write_parquet(value.table, name, d / "out.parquet")
            write_parquet(value.quarantine, "quarantine", d / "quarantine.parquet")
            atomic_write_bytes(d / "ledger.json", json.dumps({"contract": name, **value.ledger()}).encode())
        elif isinstance(value, pa.Table):
            write_parquet(value, contract_of(value), d / "out.parquet")
            (d / "ledger.json").unlink(missing_ok=True)
        else:
            atomic_write_bytes(d / "value.json", json.dumps(value, sort_keys=True).encode())

    def read(self, asset: str, partition: str | None):
        d = self.folder(asset, partition)
        if (d / "value.json").exists():
            return json.loads((d / "value.json").read_text())
        if not (d / "out.parquet").exists():
            raise FileNotFoundError(f"{d}: asset {asset!r} partition {partition!r} has not been materialized; materialize it first")
        if (d / "ledger.json").exists():
            ledger = json.loads((d / "ledger.json").read_text())
            return StageResult(
                table=read_parquet(d / "out.parquet", ledger["contract"]),
                quarantine=read_parquet(d / "quarantine.parquet", "quarantine"),
                rows_in=ledger["rows_in"],
                rows_filtered=ledger["rows_filtered"],
            )
        return pq.read_table(d / "out.parquet")

    def quarantine(self, asset: str, partition: str) -> pa.Table | None:
        p = self.folder(asset, partition) / "quarantine.parquet"
        return read_parquet(p, "quarantine") if p.exists() else None


class StageIOManager(dg.ConfigurableIOManager):
    """Stores per-domain stage outputs through the data contracts."""

    root: str

    @property
    def store(self) -> StageStore:
        return StageStore(Path(self.root))

    def _keys(self, context) -> list[str | None]:
        return list(context.asset_partition_keys) if context.has_asset_partitions else [None]

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        asset = context.asset_key.to_user_string()
        keys = self._keys(context)
        if keys == [None]:
            self.store.write(asset, None, obj)
            return
        missing = [k for k in keys if k not in obj]
        if missing:
            raise ValueError(f"asset {asset} returned no value for partition(s) {missing}")
        for k in keys:
            self.store.write(asset, k, obj[k])

    def load_input(self, context: dg.InputContext):
        asset = context.asset_key.to_user_string()
        keys = self._keys(context)
        if keys == [None]:
            return self.store.read(asset, None)
        return {k: self.store.read(asset, k) for k in keys}
