"""remot's data contracts: one field registry, one contract per table, one write path."""

from data_contracts.fields import FIELDS, IMAGE, Field
from data_contracts.tables import (
    CONTRACT_VERSION,
    CONTRACTS,
    ContractError,
    TableContract,
    atomic_write_bytes,
    conform,
    contract,
    contract_of,
    empty,
    read_parquet,
    sha256_file,
    write_parquet,
)

__all__ = [
    "CONTRACT_VERSION", "CONTRACTS", "FIELDS", "IMAGE", "ContractError", "Field", "TableContract",
    "atomic_write_bytes", "conform", "contract", "contract_of", "empty", "read_parquet", "sha256_file",
    "write_parquet",
]
