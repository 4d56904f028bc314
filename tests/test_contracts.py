import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import data_contracts as dc


def test_every_contract_yields_a_schema_with_units_and_descriptions():
    assert dc.CONTRACT_VERSION
    for name in ("episodes", "frames", "motion_pairs", "triplets", "questions", "quarantine"):
        schema = dc.contract(name).schema()
        assert schema.metadata[b"remot.contract"] == name.encode()
        for f in schema:
            assert f.metadata[b"description"], f.name
    assert dc.contract("frames").schema().field("cam2world").metadata[b"unit"] == b"m"


def _quarantine_row(**over):
    row = dict(stage="s", domain="navigation", source_name=None, episode_id=None, file="f", line=1, frame_index=None,
               reason_code="nan_pose", detail="d")
    row.update(over)
    return row


def test_conform_names_missing_and_unknown_columns():
    t = pa.Table.from_pylist([_quarantine_row()]).drop(["detail"]).append_column("surprise", pa.array([1]))
    with pytest.raises(dc.ContractError, match=r"missing column\(s\) \['detail'\].*unknown column\(s\) \['surprise'\]"):
        dc.conform(t, "quarantine")


def test_conform_refuses_nulls_in_non_nullable_and_unsafe_casts():
    with pytest.raises(dc.ContractError, match="'reason_code' is not nullable"):
        dc.conform(pa.Table.from_pylist([_quarantine_row(reason_code=None)]), "quarantine")
    with pytest.raises(dc.ContractError, match="'line'"):
        dc.conform(pa.Table.from_pylist([_quarantine_row(line=1.5)]), "quarantine")


def test_write_parquet_is_atomic_conformed_and_reproducible(tmp_path):
    t = pa.Table.from_pylist([_quarantine_row(), _quarantine_row(line=2)])
    a = dc.write_parquet(t, "quarantine", tmp_path / "a.parquet")
    b = dc.write_parquet(t, "quarantine", tmp_path / "b.parquet")
    assert a == b and a["rows"] == 2
    assert list(tmp_path.iterdir()) and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    back = pq.read_table(tmp_path / "a.parquet")
    assert dc.contract_of(back) == "quarantine"
    assert back.schema.field("line").type == pa.int64()
    with pytest.raises(dc.ContractError):
        dc.write_parquet(t.drop(["stage"]), "quarantine", tmp_path / "c.parquet")
    assert not (tmp_path / "c.parquet").exists()


def test_unknown_contract_is_a_clear_error():
    with pytest.raises(dc.ContractError, match="no contract named 'nope'"):
        dc.contract("nope")


def test_conform_to_a_projection_of_the_contract():
    full = dc.conform(pa.table({c: pa.nulls(0, dc.contract("episodes").schema().field(c).type)
                                for c in dc.contract("episodes").columns}), "episodes")
    cols = list(reversed(dc.contract("episodes").columns[:3]))
    got = dc.conform(full.select(cols), "episodes", cols)
    assert got.column_names == cols and got.schema == pa.schema([full.schema.field(c) for c in cols])
    with pytest.raises(dc.ContractError, match="has no column"):
        dc.conform(full.select(cols), "episodes", [*cols, "not_a_column"])
    with pytest.raises(dc.ContractError, match="unknown column"):
        dc.conform(full.select(cols), "episodes", cols[:2])
