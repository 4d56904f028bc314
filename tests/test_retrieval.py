"""core.retrieval: exact search against a brute-force reference, grouping, the approximate path."""

import numpy as np
import pytest

from remot_pipeline.core.retrieval import (
    ApproximateOptions,
    approximate_top_k,
    fit_pca_projection,
    grouped_top_k,
    recall_at_k,
    top_k_in_band,
)


def reference_top_k(queries, base, k, max_similarity, min_similarity, allowed=None):
    """Full similarity matrix, band (and an optional ``(Q, N)`` eligibility mask), stable argsort."""
    sim = (queries.astype(np.float32) @ base.astype(np.float32).T).astype(np.float32)
    ok = (sim <= np.float32(max_similarity)) & (sim >= np.float32(min_similarity))
    if allowed is not None:
        ok &= allowed
    masked = np.where(ok, sim, -np.inf).astype(np.float32)
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k]  # stable: ties by smaller index
    top = np.take_along_axis(masked, order, axis=1)
    indices = np.where(top > -np.inf, order, -1)
    if k > base.shape[0]:
        pad = k - base.shape[0]
        indices = np.pad(indices, ((0, 0), (0, pad)), constant_values=-1)
        top = np.pad(top, ((0, 0), (0, pad)), constant_values=-np.inf)
    return indices, top.astype(np.float32)


def unit_rows(rng, n, dim=336):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def integer_rows(rng, n, dim=40):
    """Small integers: every dot product is exact in float32, whatever BLAS's summation order,
    so ties are real ties and results must match the reference bit for bit."""
    return rng.integers(-3, 4, size=(n, dim)).astype(np.float32)


def assert_same_up_to_near_ties(indices, sims, ref_indices, ref_sims, atol=1e-5):
    """Float data: equal, except that a swap between two similarities within ``atol`` is allowed."""
    np.testing.assert_allclose(sims, ref_sims, atol=atol)
    assert np.array_equal(indices == -1, ref_indices == -1)
    differ = indices != ref_indices
    if differ.any():
        rows, cols = np.nonzero(differ)
        gap = np.abs(np.diff(ref_sims, axis=1))
        near = np.pad(gap < atol, ((0, 0), (1, 0))) | np.pad(gap < atol, ((0, 0), (0, 1)))
        assert near[rows, cols].all(), "results differ from the reference beyond near-ties"


def thumbnail_like(rng, n_frames=24_000, n_episodes=24, dim=336):
    """Clustered, image-like descriptors: per-episode scenes plus smooth walks, power-law spectrum."""
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    spectrum = (1.0 + np.arange(dim)) ** -0.8
    frequencies = rng.normal(scale=0.6, size=(6, dim))
    out = []
    for length in np.full(n_episodes, n_frames // n_episodes):
        walk = rng.normal(scale=2.0, size=6) + np.cumsum(rng.normal(scale=0.03, size=(length, 6)), axis=0)
        coefficients = spectrum * (0.8 * rng.standard_normal(dim) + 1.2 * np.cos(walk @ frequencies))
        out.append(coefficients @ basis.T + rng.normal(scale=0.012, size=(length, dim)))
    x = np.concatenate(out).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --------------------------------------------------------------------------- exact


@pytest.mark.parametrize("max_similarity, min_similarity", [(0.98, -1.0), (0.15, 0.05), (np.inf, -np.inf)])
@pytest.mark.parametrize("k", [1, 10, 64])
def test_exact_matches_brute_force_on_random_unit_vectors(k, max_similarity, min_similarity):
    rng = np.random.default_rng(k)
    base, queries = unit_rows(rng, 3000), unit_rows(rng, 150)
    queries[:5] = base[:5]  # self-matches (sim 1) must be dropped by a finite upper bound
    got = top_k_in_band(queries, base, k, max_similarity, min_similarity)
    assert got[0].dtype == np.int64 and got[1].dtype == np.float32 and got[0].shape == (150, k)
    assert_same_up_to_near_ties(*got, *reference_top_k(queries, base, k, max_similarity, min_similarity))


@pytest.mark.parametrize("memory_budget_bytes", [256 * 2**20, 2**20, 40_000, 1_000])
@pytest.mark.parametrize("k", [1, 7, 60, 700])
def test_exact_is_bit_identical_with_ties_and_tiling(k, memory_budget_bytes):
    # Duplicated base rows give exact ties (also between block maxima); small budgets split the
    # queries and the base into many tiles; k=60/700 reach the whole-row selection path.
    rng = np.random.default_rng(0)
    base, queries = integer_rows(rng, 2500), integer_rows(rng, 90)
    base[500:700] = base[3]
    base[1000:1100] = queries[0]
    for max_similarity, min_similarity in [(30.0, -5.0), (np.inf, -np.inf), (5.0, 4.0)]:
        idx, sim = top_k_in_band(queries, base, k, max_similarity, min_similarity, memory_budget_bytes=memory_budget_bytes)
        ref_idx, ref_sim = reference_top_k(queries, base, k, max_similarity, min_similarity)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(sim, ref_sim)


def test_band_padding_and_order():
    rng = np.random.default_rng(3)
    base, queries = unit_rows(rng, 400, 16), unit_rows(rng, 50, 16)
    idx, sim = top_k_in_band(queries, base, 20, max_similarity=0.6, min_similarity=0.5)
    valid = idx >= 0
    n_in_band = ((queries @ base.T <= 0.6) & (queries @ base.T >= 0.5)).sum(axis=1)
    assert (valid.sum(axis=1) == np.minimum(n_in_band, 20)).all() and (n_in_band < 20).any()
    assert (sim[~valid] == -np.inf).all() and ((sim[valid] >= 0.5) & (sim[valid] <= 0.6)).all()
    assert (np.diff(valid.astype(int), axis=1) <= 0).all()  # padding only at the end
    assert (np.diff(np.where(valid, sim, -9), axis=1) <= 0).all()  # most similar first
    np.testing.assert_allclose(sim[valid], np.einsum("qd,qd->q", np.repeat(queries, 20, 0)[valid.ravel()], base[idx[valid]]), atol=1e-6)
    empty = top_k_in_band(queries, base, 3, max_similarity=-0.99, min_similarity=-1.0)[0]
    assert (empty == -1).all()


def test_k_larger_than_base_and_empty_inputs():
    rng = np.random.default_rng(4)
    base, queries = unit_rows(rng, 5, 8), unit_rows(rng, 3, 8)
    idx, sim = top_k_in_band(queries, base, 8, max_similarity=np.inf)
    np.testing.assert_array_equal(idx, reference_top_k(queries, base, 8, np.inf, -np.inf)[0])
    assert (idx[:, 5:] == -1).all() and (sim[:, 5:] == -np.inf).all()
    assert top_k_in_band(queries[:0], base, 2)[0].shape == (0, 2)
    assert (top_k_in_band(queries, base[:0], 2)[0] == -1).all()


def test_input_validation():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="D="):
        top_k_in_band(unit_rows(rng, 2, 8), unit_rows(rng, 3, 9), 1)
    with pytest.raises(ValueError, match="k must"):
        top_k_in_band(unit_rows(rng, 2, 8), unit_rows(rng, 3, 8), 0)
    with pytest.raises(ValueError, match="empty band"):
        top_k_in_band(unit_rows(rng, 2, 8), unit_rows(rng, 3, 8), 1, max_similarity=0.1, min_similarity=0.2)


# --------------------------------------------------------------------------- grouped


def grouped_case(seed=7, n_groups=6):
    rng = np.random.default_rng(seed)
    base, queries = integer_rows(rng, 3000), integer_rows(rng, 200)
    base[100:150] = queries[0]  # near-duplicates of a query, in every group
    base_groups = rng.integers(0, n_groups, 3000)
    query_groups = rng.integers(0, n_groups + 1, 200)  # group n_groups conflicts with nothing
    conflicts = {g: [g ^ 1] for g in range(n_groups)}
    conflicts[0] = [1, 4]
    return queries, query_groups, base, base_groups, conflicts


def test_grouped_matches_the_brute_force_grouped_reference():
    queries, query_groups, base, base_groups, conflicts = grouped_case()
    allowed = np.array([[h in conflicts.get(g, ()) for h in base_groups] for g in query_groups])
    for k, band in [(1, (30.0, -40.0)), (10, (30.0, -40.0)), (25, (np.inf, -np.inf))]:
        idx, sim = grouped_top_k(queries, query_groups, base, base_groups, conflicts, k, *band)
        ref_idx, ref_sim = reference_top_k(queries, base, k, *band, allowed=allowed)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(sim, ref_sim)
        found = idx >= 0
        assert allowed[np.nonzero(found)[0], idx[found]].all()  # never a non-conflicting group
        assert (idx[query_groups == 6] == -1).all()


def test_grouped_accepts_a_conflict_matrix():
    queries, query_groups, base, base_groups, conflicts = grouped_case(seed=8)
    matrix = np.zeros((7, 7), bool)
    for g, hs in conflicts.items():
        matrix[g, hs] = True
    by_dict = grouped_top_k(queries, query_groups, base, base_groups, conflicts, 5, 30.0)
    by_matrix = grouped_top_k(queries, query_groups, base, base_groups, matrix, 5, 30.0)
    np.testing.assert_array_equal(by_dict[0], by_matrix[0])
    with pytest.raises(ValueError, match="square bool"):
        grouped_top_k(queries, query_groups, base, base_groups, matrix.astype(int), 5)


def test_approximate_grouped_respects_conflicts_and_band():
    rng = np.random.default_rng(9)
    base = thumbnail_like(rng, 6000, 12)
    base_groups = np.repeat(rng.integers(0, 4, 60), 100)
    rows = rng.choice(6000, 300, replace=False)
    conflicts = {0: [1], 1: [0], 2: [3], 3: [2]}
    idx, sim = grouped_top_k(base[rows], base_groups[rows], base, base_groups, conflicts, 10,
                             approximate=ApproximateOptions(dims=32))
    found = idx >= 0
    assert ((base_groups[idx[found]] ^ 1) == np.repeat(base_groups[rows], 10)[found.ravel()]).all()
    assert (sim[found] <= np.float32(0.98)).all()
    exact_idx, _ = grouped_top_k(base[rows], base_groups[rows], base, base_groups, conflicts, 10)
    assert recall_at_k(idx, exact_idx) >= 0.95


# --------------------------------------------------------------------------- approximate


def test_approximate_recall_at_10_on_structured_descriptors():
    rng = np.random.default_rng(11)
    base = thumbnail_like(rng)
    queries = base[rng.choice(len(base), 600, replace=False)] + rng.normal(scale=0.01, size=(600, 336)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact_idx, exact_sim = top_k_in_band(queries, base, 10)
    diagnostics = {}
    approx_idx, approx_sim = approximate_top_k(queries, base, 10, dims=64, oversample=4, diagnostics=diagnostics)
    assert recall_at_k(approx_idx, exact_idx) >= 0.95
    assert diagnostics["approximate_rows"] == 600
    # re-ranked with exact similarities, inside the band
    valid = approx_idx >= 0
    np.testing.assert_allclose(
        approx_sim[valid], np.einsum("qd,qd->q", np.repeat(queries, 10, 0)[valid.ravel()], base[approx_idx[valid]]), atol=1e-5
    )
    assert (approx_sim[valid] <= np.float32(0.98)).all()


def test_approximate_falls_back_to_exact_when_the_band_starves_the_candidates():
    rng = np.random.default_rng(12)
    base = unit_rows(rng, 4000, 64)
    queries = unit_rows(rng, 20, 64)
    # 80 near-duplicates (sim > 0.98) of every query crowd out the 50 projected candidates.
    noise = rng.normal(scale=0.01, size=(20, 80, 64)).astype(np.float32)
    dups = queries[:, None, :] + noise
    base = np.concatenate([base, (dups / np.linalg.norm(dups, axis=2, keepdims=True)).reshape(-1, 64)])
    exact = top_k_in_band(queries, base, 5)
    diagnostics = {}
    with_fallback = approximate_top_k(queries, base, 5, dims=16, min_candidates=50, diagnostics=diagnostics)
    assert diagnostics["starved_rows"] == diagnostics["exact_fallback_rows"] == 20
    np.testing.assert_array_equal(with_fallback[0], exact[0])
    without = approximate_top_k(queries, base, 5, dims=16, min_candidates=50, exact_fallback=False)[0]
    assert (without == -1).all()  # every candidate was a near-duplicate


def test_approximate_results_do_not_depend_on_the_memory_budget():
    rng = np.random.default_rng(16)
    base = thumbnail_like(rng, 4000, 8)
    queries = base[::37]
    roomy = approximate_top_k(queries, base, 10, 0.95, dims=32)
    tight = approximate_top_k(queries, base, 10, 0.95, dims=32, memory_budget_bytes=50_000)  # many chunks
    np.testing.assert_array_equal(roomy[0], tight[0])
    np.testing.assert_allclose(roomy[1], tight[1], atol=1e-6)


def test_approximate_on_a_small_base_is_exact():
    rng = np.random.default_rng(13)
    base, queries = unit_rows(rng, 40, 32), unit_rows(rng, 10, 32)
    np.testing.assert_array_equal(approximate_top_k(queries, base, 5)[0], top_k_in_band(queries, base, 5)[0])


def test_pca_projection_is_orthonormal_and_reusable():
    rng = np.random.default_rng(14)
    base = thumbnail_like(rng, 3000, 6)
    projection = fit_pca_projection(base, dims=24, sample_size=1000, seed=1)
    np.testing.assert_allclose(projection.components.T @ projection.components, np.eye(24), atol=1e-5)
    assert projection.project_base(base).shape == (3000, 24) and projection.dims == 24
    reused = approximate_top_k(base[:50], base, 10, projection=projection)
    refit = approximate_top_k(base[:50], base, 10, dims=24, fit_sample=1000, seed=1)
    np.testing.assert_array_equal(reused[0], refit[0])


# --------------------------------------------------------------------------- determinism, recall


def test_searches_are_deterministic():
    rng = np.random.default_rng(15)
    base = thumbnail_like(rng, 6000, 6)
    groups = np.repeat(np.arange(4), 1500)
    queries = base[::20]
    for run in [
        lambda: top_k_in_band(queries, base, 10),
        lambda: approximate_top_k(queries, base, 10, dims=32),
        lambda: grouped_top_k(queries, groups[::20], base, groups, {0: [1], 1: [0], 2: [3], 3: [2]}, 10),
        lambda: grouped_top_k(queries, groups[::20], base, groups, {0: [1, 2], 2: [0]}, 10, approximate=ApproximateOptions()),
    ]:
        first, second = run(), run()
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])


def test_recall_at_k_ignores_padding():
    exact = np.array([[4, 2, -1], [-1, -1, -1], [1, 2, 3]])
    approx = np.array([[2, 9, -1], [5, -1, -1], [3, 1, 2]])
    assert recall_at_k(approx, exact) == pytest.approx((0.5 + 1.0) / 2)
    assert recall_at_k(approx[1:2], exact[1:2]) == 1.0
    assert recall_at_k(np.array([[-1, -1]]), np.array([[7, -1]])) == 0.0
