"""Arrow <-> polars glue."""

from __future__ import annotations

import polars as pl
import pyarrow as pa


def to_polars(table: pa.Table) -> pl.DataFrame:
    """``pl.from_arrow`` on contiguous columns.

    polars 2.1 rejects a *chunked* fixed-size-list column that holds only nulls ("validity mask
    length must be equal to the number of values divided by size"); a large Parquet file reads
    back in several chunks, and motion tables have such columns (``ee_disp_*`` in navigation).

    >>> t = pa.table({"v": pa.array([None] * 3, pa.list_(pa.float64(), 3))})
    >>> to_polars(pa.concat_tables([t, t])).shape
    (6, 1)
    """
    return pl.from_arrow(table.combine_chunks())
