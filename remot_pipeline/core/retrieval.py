"""Nearest-descriptor search for retrieval hard negatives: exact, grouped, and approximate.

A *hard negative* for a positive pair with attribute X = v is a frame whose own labelled pair
has X with a conflicting value, and whose descriptor is the most similar to the positive's
within a similarity band ``min_similarity <= sim <= max_similarity`` (the upper bound drops
near-duplicates). Descriptors are unit-norm ``float32`` rows (``core.features.descriptor``), so
cosine similarity is a dot product, computed here as a float32 matrix product through BLAS.

Public functions, all batched (the batch axis first):

* :func:`top_k_in_band` -- exact top-k of ``queries (Q, D)`` against ``base (N, D)``, in tiles
  of bounded memory.
* :func:`grouped_top_k` -- the same, where a query may only match base rows whose group
  (an encoded ``(attribute, value)``) conflicts with its own: one search per query group
  against the union of its eligible base rows.
* :func:`approximate_top_k` -- a PCA projection (:func:`fit_pca_projection`) finds
  ``max(oversample * k, min_candidates)`` candidates cheaply; they are re-ranked with the
  exact similarities, and the band is applied to those.
* :func:`recall_at_k` -- how much of the exact top-k an approximate top-k finds.

Conventions shared by every search:

* The result is ``indices (Q, k) int64`` into ``base`` and ``similarities (Q, k) float32``,
  most similar first. Rows with fewer than ``k`` in-band matches are padded with index ``-1``
  and similarity ``-inf``.
* Ties are broken by the smaller base index, so results are deterministic. Internally each
  candidate is one ``uint64`` sort key, ``(order-preserving bits of -similarity) << 32 | index``,
  so one partition and one sort order by similarity and then index with no special cases.
* Descriptors must be finite (no NaN); ``N < 2**32``.

How the exact search stays fast. The similarity tile ``(B, Nc)`` costs one float32 GEMM; the
selection must not cost more. Instead of ``argpartition`` over every row (~3 ns an element),
the tile's columns are dealt into ``M`` strided blocks of ``w`` columns and the block maxima
``(B, M)`` are taken in one vectorised pass. The true top-k of a row lies in the ``k`` blocks
with the largest maxima: an element in any other block is beaten by the ``k`` larger block
maxima. Only those ``k * w`` elements are ranked. When the ``k``-th block maximum is tied with
another block's (possible with duplicated frames), that row is ranked over its whole tile, so
the tie-break by index stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_MEMORY_BUDGET_BYTES = 256 * 2**20
"""Sizes the working set: the similarity tile with its band mask takes about 5/6 of it, and
the sort keys of rows ranked whole (or of re-ranked candidates) about 1/2. Peak memory beyond
the inputs, the outputs and a grouped search's copy of each group's eligible base rows stays
below about 1.5x this."""

_TILE_BYTES_PER_ELEMENT = 6  # float32 similarity + bool band mask + headroom
_KEY_BYTES_PER_ELEMENT = 64  # uint64 keys and their temporaries, with headroom
_MIN_QUERY_ROWS_PER_TILE = 128  # below this GEMM loses efficiency: split the base instead
_MAX_BLOCK_WIDTH = 32
_SIGN_BIT = np.uint32(0x80000000)
_LOW_32 = np.uint64(0xFFFFFFFF)


# --------------------------------------------------------------------------- sort keys


def _descending_keys(similarities: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``(..., C) float32`` similarities and ``(..., C)`` indices -> ``(..., C) uint64`` keys.

    Ascending keys order by descending similarity, then ascending index. ``-0.0`` is folded
    onto ``+0.0`` first so that equal similarities get equal high words.
    """
    bits = (np.asarray(similarities, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    ascending = np.where(bits & _SIGN_BIT, ~bits, bits | _SIGN_BIT)
    return ((~ascending).astype(np.uint64) << np.uint64(32)) | np.asarray(indices).astype(np.uint64)


def _decode_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(..., k) uint64`` keys -> ``(indices int64, similarities float32)``; ``-inf`` -> index ``-1``."""
    ascending = ~(keys >> np.uint64(32)).astype(np.uint32)
    bits = np.where(ascending & _SIGN_BIT, ascending & ~_SIGN_BIT, ~ascending)
    similarities = bits.view(np.float32)
    indices = (keys & _LOW_32).astype(np.int64)
    indices[similarities == -np.inf] = -1
    return indices, similarities


_PAD_KEY = _descending_keys(np.array([-np.inf], np.float32), np.array([0xFFFFFFFF], np.uint64))[0]


def _smallest_keys(keys: np.ndarray, k: int) -> np.ndarray:
    """``(B, C) uint64`` -> ``(B, k)``: the ``k`` smallest keys of each row, sorted, padded."""
    rows, count = keys.shape
    if count > k:
        keys = np.partition(keys, k - 1, axis=1)[:, :k]
    keys = np.sort(keys, axis=1)
    if count < k:
        keys = np.concatenate([keys, np.full((rows, k - count), _PAD_KEY, np.uint64)], axis=1)
    return keys


# --------------------------------------------------------------------------- exact search


def _block_width(n_columns: int, k: int) -> int:
    """Columns per block for the block-maximum pruning; 1 means rank the whole tile.

    Ranking ``k * w`` candidates per row competes with a partition over ``n / w`` block
    maxima; ``w ~ sqrt(0.15 n / k)`` balances the two (measured), capped at 32.
    """
    width = int(np.sqrt(0.15 * n_columns / k))
    return min(width, _MAX_BLOCK_WIDTH) if width >= 4 else 1


def _rank_whole_rows(similarities: np.ndarray, column_offset: int, k: int, row_chunk: int) -> np.ndarray:
    """``(B, C) float32`` -> ``(B, k) uint64`` keys, ranking every column (in row chunks)."""
    columns = np.arange(column_offset, column_offset + similarities.shape[1], dtype=np.uint64)
    out = np.empty((similarities.shape[0], k), np.uint64)
    for r0 in range(0, similarities.shape[0], row_chunk):
        out[r0 : r0 + row_chunk] = _smallest_keys(_descending_keys(similarities[r0 : r0 + row_chunk], columns), k)
    return out


def _tile_top_k(similarities: np.ndarray, column_offset: int, k: int, width: int, memory_budget_bytes: int) -> np.ndarray:
    """Exact top-k keys ``(B, k) uint64`` of one tile ``(B, M * width) float32``.

    Column ``c`` of the tile is base row ``column_offset + c``; padding columns hold ``-inf``.
    """
    rows, n_columns = similarities.shape
    row_chunk = max(1, memory_budget_bytes // (_KEY_BYTES_PER_ELEMENT * max(n_columns, 1)))
    n_blocks = n_columns // width
    if width == 1 or n_blocks <= k:
        return _rank_whole_rows(similarities, column_offset, k, row_chunk)
    # Block j holds the strided columns j, j + M, j + 2M, ...: one contiguous reduction.
    block_max = np.maximum.reduce(similarities.reshape(rows, width, n_blocks), axis=1)
    top_blocks = np.argpartition(block_max, n_blocks - k, axis=1)[:, n_blocks - k :]
    kth_block_max = np.take_along_axis(block_max, top_blocks, axis=1).min(axis=1)
    columns = (top_blocks[:, :, None] + n_blocks * np.arange(width)[None, None, :]).reshape(rows, k * width)
    # A flat take is several times faster than take_along_axis's broadcast fancy indexing.
    flat = np.ascontiguousarray(similarities).reshape(-1)
    values = np.take(flat, columns + (n_columns * np.arange(rows))[:, None])
    keys = _smallest_keys(_descending_keys(values, columns + column_offset), k)
    tied = (np.count_nonzero(block_max >= kth_block_max[:, None], axis=1) > k) & (kth_block_max > -np.inf)
    if tied.any():
        tied_rows = np.flatnonzero(tied)
        keys[tied_rows] = _rank_whole_rows(similarities[tied_rows], column_offset, k, row_chunk)
    return keys


def _tile_shape(n_queries: int, n_base: int, memory_budget_bytes: int) -> tuple[int, int]:
    """``(query rows, base rows)`` of one similarity tile within the memory budget."""
    elements = max(memory_budget_bytes // _TILE_BYTES_PER_ELEMENT, 1)
    base_rows = min(n_base, max(elements // min(n_queries, _MIN_QUERY_ROWS_PER_TILE), 1))
    query_rows = min(n_queries, max(elements // base_rows, 1))
    return query_rows, base_rows


def _exact_top_k_keys(
    queries: np.ndarray, base: np.ndarray, k: int, max_similarity: float, memory_budget_bytes: int
) -> np.ndarray:
    """``(Q, D)``, ``(N, D)`` float32 -> ``(Q, k) uint64`` keys of the top-k with ``sim <= max``.

    Similarities above ``max_similarity`` are set to ``-inf`` in each tile; the lower bound of
    the band is the caller's (it can only remove entries from the end of each row).
    """
    n_queries, n_base = queries.shape[0], base.shape[0]
    result = np.full((n_queries, k), _PAD_KEY, np.uint64)
    if n_queries == 0 or n_base == 0:
        return result
    query_rows, base_rows = _tile_shape(n_queries, n_base, memory_budget_bytes)
    width = _block_width(base_rows, k)
    padded_columns = -(-base_rows // width) * width
    tile = np.empty(query_rows * padded_columns, np.float32)
    mask_upper = bool(np.isfinite(max_similarity))
    for q0 in range(0, n_queries, query_rows):
        q_block = queries[q0 : q0 + query_rows]
        for b0 in range(0, n_base, base_rows):
            b_block = base[b0 : b0 + base_rows]
            n_cols = b_block.shape[0]
            cols = -(-n_cols // width) * width
            sim = tile[: q_block.shape[0] * cols].reshape(q_block.shape[0], cols)  # contiguous
            np.matmul(q_block, b_block.T, out=sim[:, :n_cols])
            sim[:, n_cols:] = -np.inf
            if mask_upper:
                np.copyto(sim, np.float32(-np.inf), where=sim > np.float32(max_similarity))
            keys = _tile_top_k(sim, b0, k, width if cols // width > k else 1, memory_budget_bytes)
            if b0 == 0:
                result[q0 : q0 + query_rows] = keys
            else:
                merged = np.concatenate([result[q0 : q0 + query_rows], keys], axis=1)
                result[q0 : q0 + query_rows] = _smallest_keys(merged, k)
    return result


def _finish(keys: np.ndarray, min_similarity: float) -> tuple[np.ndarray, np.ndarray]:
    """Decode keys and drop entries below ``min_similarity`` (they sit at the end of each row)."""
    indices, similarities = _decode_keys(keys)
    below = similarities < np.float32(min_similarity)
    indices[below] = -1
    similarities[below] = -np.inf
    return indices, similarities


def _as_descriptors(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (rows, D), got shape {x.shape}")
    return x


def _check_search_args(queries: np.ndarray, base: np.ndarray, k: int, max_similarity: float, min_similarity: float):
    if queries.shape[1] != base.shape[1]:
        raise ValueError(f"queries have D={queries.shape[1]} but base has D={base.shape[1]}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    if base.shape[0] >= 2**32:
        raise ValueError("base must have fewer than 2**32 rows")
    if not min_similarity <= max_similarity:
        raise ValueError(f"empty band: min_similarity {min_similarity} > max_similarity {max_similarity}")


def top_k_in_band(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    max_similarity: float = 0.98,
    min_similarity: float = -1.0,
    *,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k base rows by dot product, within ``[min_similarity, max_similarity]``.

    ``queries (Q, D)``, ``base (N, D)`` (cast to float32) -> ``indices (Q, k) int64`` and
    ``similarities (Q, k) float32``, most similar first, ties by smaller index, padded with
    ``-1`` / ``-inf`` where fewer than ``k`` base rows fall in the band. Work proceeds in
    tiles of queries (and of the base when it is large) so that the similarity tile and its
    temporaries stay within ``memory_budget_bytes``.

    >>> base = np.eye(4, dtype=np.float32)
    >>> queries = np.array([[1.0, 0.5, 0.5, 0.0]], np.float32)
    >>> idx, sim = top_k_in_band(queries, base, k=3, max_similarity=0.9, min_similarity=0.1)
    >>> idx.tolist(), sim.tolist()
    ([[1, 2, -1]], [[0.5, 0.5, -inf]])
    """
    queries, base = _as_descriptors(queries, "queries"), _as_descriptors(base, "base")
    _check_search_args(queries, base, k, max_similarity, min_similarity)
    keys = _exact_top_k_keys(queries, base, int(k), float(max_similarity), int(memory_budget_bytes))
    return _finish(keys, min_similarity)


# --------------------------------------------------------------------------- approximate search


@dataclass(frozen=True, eq=False)
class PcaProjection:
    """A linear map ``(D,) -> (d,)`` for ranking dot products in ``d`` dimensions.

    ``mean (D,)`` and ``components (D, d)`` (orthonormal columns) come from a centred PCA of
    base descriptors. For a query ``q`` and base row ``b``,
    ``q . b = q . mean + (q @ C) . ((b - mean) @ C) + q . (I - C C^T) (b - mean)``: the first
    term is the same for every base row, so ranking by ``project_queries(q) . project_base(b)``
    drops only the last, the part of ``b`` outside the principal subspace.
    """

    mean: np.ndarray
    components: np.ndarray

    @property
    def dims(self) -> int:
        return int(self.components.shape[1])

    def project_queries(self, queries: np.ndarray) -> np.ndarray:
        """``(Q, D) -> (Q, d) float32``."""
        return np.ascontiguousarray(_as_descriptors(queries, "queries") @ self.components)

    def project_base(self, base: np.ndarray) -> np.ndarray:
        """``(N, D) -> (N, d) float32``, centred on ``mean`` (no ``(N, D)`` temporary)."""
        projected = _as_descriptors(base, "base") @ self.components
        projected -= self.mean @ self.components
        return np.ascontiguousarray(projected)


def fit_pca_projection(base: np.ndarray, dims: int = 64, sample_size: int = 20_000, seed: int = 0) -> PcaProjection:
    """Centred PCA of up to ``sample_size`` rows of ``base (N, D)`` -> ``dims`` principal axes.

    The sample is drawn without replacement with ``np.random.default_rng(seed)``; the fit is
    deterministic for a given base, ``dims``, ``sample_size`` and ``seed``.
    """
    base = _as_descriptors(base, "base")
    if base.shape[0] == 0:
        raise ValueError("cannot fit a projection on an empty base")
    if base.shape[0] > sample_size:
        rows = np.sort(np.random.default_rng(seed).choice(base.shape[0], size=sample_size, replace=False))
        sample = base[rows].astype(np.float64)
    else:
        sample = base.astype(np.float64)
    mean = sample.mean(axis=0)
    sample -= mean
    # The right singular vectors of the centred sample are those of its (D, D) scatter matrix;
    # the SVD of the latter is ~100x cheaper than that of the (n, D) sample for n >> D.
    _, _, components_t = np.linalg.svd(sample.T @ sample, hermitian=True)
    dims = int(min(dims, components_t.shape[0]))
    return PcaProjection(mean=mean.astype(np.float32), components=np.ascontiguousarray(components_t[:dims].T, dtype=np.float32))


@dataclass(frozen=True)
class ApproximateOptions:
    """Parameters of the approximate search (see :func:`approximate_top_k`).

    ``projection``: a fitted :class:`PcaProjection` to reuse; ``None`` fits one on the base.
    """

    dims: int = 64
    oversample: int = 4
    min_candidates: int = 50
    fit_sample: int = 20_000
    seed: int = 0
    exact_fallback: bool = True
    projection: PcaProjection | None = None

    def n_candidates(self, k: int) -> int:
        return max(self.oversample * k, self.min_candidates, k)

    def projection_for(self, base: np.ndarray) -> PcaProjection:
        if self.projection is not None:
            return self.projection
        return fit_pca_projection(base, self.dims, self.fit_sample, self.seed)


def _add(diagnostics: dict | None, **counts: int) -> None:
    if diagnostics is not None:
        for name, value in counts.items():
            diagnostics[name] = diagnostics.get(name, 0) + int(value)


def _approximate_search(
    queries: np.ndarray,
    queries_projected: np.ndarray,
    base: np.ndarray,
    base_projected: np.ndarray,
    k: int,
    max_similarity: float,
    min_similarity: float,
    options: ApproximateOptions,
    memory_budget_bytes: int,
    diagnostics: dict | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates in projected space ``(Q, d) x (N, d)``, exact re-rank in ``(Q, D) x (N, D)``.

    Queries are processed in chunks so that the ``(chunk, n_candidates)`` arrays stay in budget.
    """
    n_queries = queries.shape[0]
    n_candidates = options.n_candidates(k)
    if base.shape[0] <= n_candidates:  # nothing to prune: the exact search is as cheap
        _add(diagnostics, exact_rows=n_queries)
        return _finish(_exact_top_k_keys(queries, base, k, max_similarity, memory_budget_bytes), min_similarity)
    keys = np.empty((n_queries, k), np.uint64)
    starved = np.empty(n_queries, bool)
    query_chunk = max(1, memory_budget_bytes // (_KEY_BYTES_PER_ELEMENT * n_candidates))
    for q0 in range(0, n_queries, query_chunk):
        rows = slice(q0, q0 + query_chunk)
        candidate_keys = _exact_top_k_keys(queries_projected[rows], base_projected, n_candidates, np.inf, memory_budget_bytes)
        candidates = (candidate_keys & _LOW_32).astype(np.int64)  # never padded: N > n_candidates
        similarities = _candidate_similarities(queries[rows], base, candidates)
        in_band = (similarities <= np.float32(max_similarity)) & (similarities >= np.float32(min_similarity))
        similarities[~in_band] = -np.inf
        keys[rows] = _smallest_keys(_descending_keys(similarities, candidates), k)
        # Fewer than k survivors after the band dropped some: the next candidates were never seen.
        starved[rows] = (in_band.sum(axis=1) < k) & ~in_band.all(axis=1)
    _add(diagnostics, approximate_rows=n_queries, starved_rows=int(starved.sum()))
    if options.exact_fallback and starved.any():
        fallback = np.flatnonzero(starved)
        keys[fallback] = _exact_top_k_keys(queries[fallback], base, k, max_similarity, memory_budget_bytes)
        _add(diagnostics, exact_fallback_rows=fallback.size)
    return _finish(keys, min_similarity)


def _candidate_similarities(queries: np.ndarray, base: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``queries (B, D)``, ``base (N, D)``, ``candidates (B, C)`` -> exact ``(B, C) float32``.

    A batched matrix-vector product over small row chunks: each chunk's gathered descriptors
    (~1 MiB) are still in cache for the product (about 3x faster than one large gather).
    """
    rows, n_candidates = candidates.shape
    similarities = np.empty((rows, n_candidates), np.float32)
    row_chunk = max(1, 2**20 // (n_candidates * base.shape[1] * 4))
    for r0 in range(0, rows, row_chunk):
        gathered = base[candidates[r0 : r0 + row_chunk]]  # (R, C, D)
        similarities[r0 : r0 + row_chunk] = np.matmul(gathered, queries[r0 : r0 + row_chunk, :, None])[..., 0]
    return similarities


def approximate_top_k(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    max_similarity: float = 0.98,
    min_similarity: float = -1.0,
    *,
    dims: int = 64,
    oversample: int = 4,
    min_candidates: int = 50,
    fit_sample: int = 20_000,
    seed: int = 0,
    exact_fallback: bool = True,
    projection: PcaProjection | None = None,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
    diagnostics: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate :func:`top_k_in_band`: PCA candidates, exact re-rank, band on exact values.

    ``queries (Q, D)``, ``base (N, D)`` -> ``indices (Q, k) int64``, ``similarities (Q, k) float32``
    (exact similarities; same ordering, padding and tie rules as :func:`top_k_in_band`).

    1. ``projection`` (or a PCA fitted on ``fit_sample`` base rows, ``dims`` components);
    2. the top ``max(oversample * k, min_candidates)`` base rows per query by projected dot
       product, with no band (projected similarities are estimates);
    3. exact similarities of those candidates, the band, the top ``k``.

    A row left with fewer than ``k`` in-band results after the band dropped some candidates
    ("starved": its remaining matches lie beyond the candidate list) is searched exactly when
    ``exact_fallback``. If ``diagnostics`` is a dict, row counts are added to it
    (``approximate_rows``, ``starved_rows``, ``exact_fallback_rows``, ``exact_rows``).
    """
    queries, base = _as_descriptors(queries, "queries"), _as_descriptors(base, "base")
    _check_search_args(queries, base, k, max_similarity, min_similarity)
    options = ApproximateOptions(dims, oversample, min_candidates, fit_sample, seed, exact_fallback, projection)
    if base.shape[0] == 0 or queries.shape[0] == 0:
        return _finish(np.full((queries.shape[0], int(k)), _PAD_KEY, np.uint64), min_similarity)
    fitted = options.projection_for(base)
    return _approximate_search(
        queries, fitted.project_queries(queries), base, fitted.project_base(base), int(k),
        float(max_similarity), float(min_similarity), options, int(memory_budget_bytes), diagnostics,
    )


# --------------------------------------------------------------------------- grouped search


def _eligible_groups(conflicts: Mapping[int, Sequence[int]] | np.ndarray) -> dict[int, np.ndarray]:
    """``{query group: eligible base groups}`` from a dict or a ``(G, G) bool`` matrix."""
    if isinstance(conflicts, Mapping):
        return {int(g): np.unique(np.asarray(list(hs), dtype=np.int64)) for g, hs in conflicts.items()}
    matrix = np.asarray(conflicts)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.dtype != bool:
        raise ValueError(f"conflicts must be a dict or a square bool matrix, got {matrix.dtype} {matrix.shape}")
    return {g: np.flatnonzero(matrix[g]) for g in range(matrix.shape[0])}


def grouped_top_k(
    queries: np.ndarray,
    query_groups: np.ndarray,
    base: np.ndarray,
    base_groups: np.ndarray,
    conflicts: Mapping[int, Sequence[int]] | np.ndarray,
    k: int,
    max_similarity: float = 0.98,
    min_similarity: float = -1.0,
    *,
    approximate: ApproximateOptions | None = None,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
    diagnostics: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k in band where query ``i`` may only match base rows of a conflicting group.

    ``queries (Q, D)`` with ``query_groups (Q,) int``; ``base (N, D)`` with ``base_groups (N,) int``.
    ``conflicts``: ``{g: [h, ...]}`` or a ``(G, G) bool`` matrix, "query group g may match base
    group h" (a group encodes one ``(attribute, value)``; groups absent from the dict match
    nothing). Returns ``indices (Q, k) int64`` into ``base`` and ``similarities (Q, k) float32``
    as :func:`top_k_in_band` does.

    One search per distinct query group, against the union of its eligible base rows (indices
    kept in ascending order, so the tie rule carries over). ``approximate``: run
    :func:`approximate_top_k` per group instead, with one projection fitted on the whole base
    and shared by every group.
    """
    queries, base = _as_descriptors(queries, "queries"), _as_descriptors(base, "base")
    _check_search_args(queries, base, k, max_similarity, min_similarity)
    query_groups = np.asarray(query_groups).astype(np.int64, copy=False)
    base_groups = np.asarray(base_groups).astype(np.int64, copy=False)
    if query_groups.shape != (queries.shape[0],) or base_groups.shape != (base.shape[0],):
        raise ValueError("query_groups must be (Q,) and base_groups (N,)")
    eligible = _eligible_groups(conflicts)
    k = int(k)
    indices = np.full((queries.shape[0], k), -1, np.int64)
    similarities = np.full((queries.shape[0], k), -np.inf, np.float32)
    if queries.shape[0] == 0 or base.shape[0] == 0:
        return indices, similarities
    queries_projected = base_projected = None
    if approximate is not None:
        projection = approximate.projection_for(base)
        queries_projected, base_projected = projection.project_queries(queries), projection.project_base(base)

    # Rows sorted by group once, so each group's rows are a slice: linear in the rows, not
    # (groups x rows) as a membership test per group would be.
    base_order = np.argsort(base_groups, kind="stable")
    base_sorted = base_groups[base_order]
    query_order = np.argsort(query_groups, kind="stable")
    groups, query_starts = np.unique(query_groups[query_order], return_index=True)
    query_ends = np.append(query_starts[1:], query_order.size)
    for group, q0, q1 in zip(groups, query_starts, query_ends):
        targets = eligible.get(int(group))
        if targets is None or targets.size == 0:
            continue
        lo, hi = np.searchsorted(base_sorted, targets, "left"), np.searchsorted(base_sorted, targets, "right")
        base_rows = np.sort(np.concatenate([base_order[a:b] for a, b in zip(lo, hi)]))
        if base_rows.size == 0:
            continue
        everything = base_rows.size == base.shape[0]  # no copy of the base then
        eligible_base = base if everything else base[base_rows]
        query_rows = np.sort(query_order[q0:q1])
        if approximate is None:
            keys = _exact_top_k_keys(queries[query_rows], eligible_base, k, max_similarity, memory_budget_bytes)
            local, sims = _finish(keys, min_similarity)
        else:
            eligible_projected = base_projected if everything else base_projected[base_rows]
            local, sims = _approximate_search(
                queries[query_rows], queries_projected[query_rows], eligible_base, eligible_projected,
                k, max_similarity, min_similarity, approximate, memory_budget_bytes, diagnostics,
            )
        indices[query_rows] = np.where(local >= 0, base_rows[np.maximum(local, 0)], -1)
        similarities[query_rows] = sims
    return indices, similarities


# --------------------------------------------------------------------------- evaluation


def recall_at_k(approx_indices: np.ndarray, exact_indices: np.ndarray) -> float:
    """Fraction of the exact top-k that the approximate top-k contains, averaged over queries.

    ``approx_indices (Q, ka)``, ``exact_indices (Q, k)`` int; ``-1`` is padding and is ignored.
    Queries whose exact list is empty are left out of the average; with none left, 1.0.

    >>> recall_at_k(np.array([[3, 1, -1], [5, 6, 7]]), np.array([[1, 2, -1], [7, 5, 6]]))
    0.75
    """
    approx_indices, exact_indices = np.asarray(approx_indices), np.asarray(exact_indices)
    if approx_indices.shape[0] != exact_indices.shape[0]:
        raise ValueError("approx_indices and exact_indices must have the same number of rows")
    wanted = exact_indices >= 0
    found = (exact_indices[:, :, None] == approx_indices[:, None, :]).any(axis=2) & wanted
    n_wanted = wanted.sum(axis=1)
    counted = n_wanted > 0
    if not counted.any():
        return 1.0
    return float(np.mean(found.sum(axis=1)[counted] / n_wanted[counted]))
