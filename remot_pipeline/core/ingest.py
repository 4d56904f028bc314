"""Ingestion: discovered episodes -> the canonical ``episodes`` and ``frames`` tables.

The split is assigned here, per episode and deterministically, so that no episode can
ever appear in both train and test.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import pyarrow as pa

from data_contracts import conform, empty
from remot_pipeline.core.ledger import StageResult, concat
from remot_pipeline.sources import EpisodeRead, EpisodeRef, SourceError, SourceSpec, metric_scale, reader
from remot_pipeline.sources.base import to_frames_arrow


def assign_splits(
    episode_ids: list[str], test_fraction: float, scenes: dict[str, str] | None = None, salt: str = "remot-split-v1"
) -> dict[str, str]:
    """Deterministic split by scene (or by episode when there is only one scene).

    Scenes are ordered by ``sha256(salt + scene)`` and whole scenes go to ``test`` until it holds
    at least ``ceil(n * test_fraction)`` episodes (at least one when there are two or more
    episodes, and never all of them), so no scene and no episode is shared between train and
    test, and the split depends only on the ids, not on discovery order or other domains. With a
    single scene (or ``scenes=None``) every episode is its own unit.

    >>> assign_splits(["a", "b", "c", "d"], 0.25)
    {'a': 'train', 'b': 'train', 'c': 'test', 'd': 'train'}
    >>> assign_splits(["a", "b", "c", "d"], 0.25, scenes={"a": "s1", "b": "s1", "c": "s2", "d": "s2"})
    {'a': 'train', 'b': 'train', 'c': 'test', 'd': 'test'}
    """
    ids = sorted(set(episode_ids))
    if len(ids) < 2 or test_fraction <= 0:
        return {e: "train" for e in ids}
    unit = {e: (scenes or {}).get(e, e) for e in ids}
    if len(set(unit.values())) < 2:
        unit = {e: e for e in ids}
    members: dict[str, list[str]] = {}
    for e in ids:
        members.setdefault(unit[e], []).append(e)
    want = min(len(ids) - 1, max(1, math.ceil(len(ids) * test_fraction)))
    test: set[str] = set()
    for u in sorted(members, key=lambda u: hashlib.sha256((salt + u).encode()).hexdigest()):
        if len(test) >= want:
            break
        if len(test) + len(members[u]) < len(ids):
            test.update(members[u])
    return {e: ("test" if e in test else "train") for e in ids}


def portable_path(path: Path | str, data_root: Path | str | None) -> str:
    """``path`` relative to ``data_root`` (POSIX) when it lies inside it, else absolute: what a
    release stores, so the same inputs give the same bytes wherever the data root is.

    >>> portable_path("/data/raw/synthetic/world-1/navigation", "/data")
    'raw/synthetic/world-1/navigation'
    >>> portable_path("/datasets/tum", "/data")
    '/datasets/tum'
    """
    if data_root is None:
        return str(path)
    p, root = Path(os.path.abspath(path)), Path(os.path.abspath(data_root))
    try:
        return p.relative_to(root).as_posix() or "."
    except ValueError:
        return str(p)


def read_sources(specs: list[SourceSpec]) -> tuple[list[EpisodeRead], list[dict]]:
    """Discover and read every source, each on its own: a source whose discovery or any episode
    raises, or that holds no episode, is left out whole and reported as ``{"source", "format",
    "path", "error", "kind"}``, so one broken source never fails its healthy neighbours.

    ``kind`` is ``"source_error"`` for a :class:`SourceError` (the reader's one line naming the
    file and the fix) and ``"reader_bug"`` for any other exception: a reader must never raise one
    (tests/test_sources_fuzz.py), and the line then says which reader to report.
    """
    reads, failed = [], []
    for spec in specs:
        try:
            r = reader(spec.format)
            refs = r.discover(spec)
            if not refs:
                raise SourceError(f"{spec.path}: source {spec.name!r} holds no episode a {spec.format!r} reader "
                                  "recognises; check `path` and `format` in the sources file")
            reads += [r.read(ref) for ref in refs]
        except SourceError as exc:
            failed.append({"source": spec.name, "format": spec.format, "path": str(spec.path),
                           "error": str(exc), "kind": "source_error"})
        except Exception as exc:  # noqa: BLE001 - one reader's bug must not fail the healthy sources
            first = (str(exc).strip().splitlines() or [""])[0]
            failed.append({"source": spec.name, "format": spec.format, "path": str(spec.path), "kind": "reader_bug",
                           "error": f"{spec.path}: the {spec.format!r} reader failed with {type(exc).__name__}: "
                                    f"{first} (a bug: please report it with this file)"})
    return reads, failed


def ingest_episodes(refs: list[EpisodeRef], test_fraction: float,
                    data_root: Path | str | None = None) -> tuple[pa.Table, StageResult]:
    """:func:`ingest_reads` of the episodes ``refs`` name, read here."""
    return ingest_reads([reader(r.spec.format).read(r) for r in refs], test_fraction, data_root)


def ingest_reads(reads: list[EpisodeRead], test_fraction: float,
                 data_root: Path | str | None = None, splits: dict[str, str] | None = None,
                 digests: dict[str, str] | None = None) -> tuple[pa.Table, StageResult]:
    """The read episodes as ``(episodes table, frames StageResult)``. ``source_root`` is
    stored relative to ``data_root`` when the source lies inside it (:func:`portable_path`).

    ``splits`` (episode id -> split) is given when the split was decided over more episodes
    than these (a shard of a domain, :mod:`remot_pipeline.core.shards`); otherwise it is
    assigned here over the usable episodes. ``digests`` (episode id -> input sha256) saves
    hashing the input files again when the caller already did.

    Episodes whose every row was quarantined stay out of ``episodes`` (their rows are in
    the quarantine with reasons); the caller fails the partition when nothing is left.
    """
    usable = [r for r in reads if r.n_frames >= 2]
    if splits is None:
        splits = assign_splits([r.ref.episode_id for r in usable], test_fraction,
                               scenes={r.ref.episode_id: r.ref.scene_id for r in usable})
    results = []
    for r in reads:
        split = splits.get(r.ref.episode_id, "train")
        frames = conform(to_frames_arrow(r, split), "frames") if r.n_frames else empty("frames")
        results.append(StageResult(frames, r.quarantine.table(), rows_in=r.rows_in))
    rows = []
    for r in usable:
        intr = r.intrinsics_px or (None, None, None, None)
        rows.append(
            dict(
                episode_id=r.ref.episode_id, domain=r.ref.spec.domain, split=splits[r.ref.episode_id],
                source_name=r.ref.spec.name, source_format=r.ref.spec.format, source_root=portable_path(r.ref.spec.path, data_root),
                episode_path=r.ref.episode_path, scene_id=r.ref.scene_id, n_frames=r.n_frames, fps=r.fps,
                width_px=r.width_px, height_px=r.height_px, fx_px=intr[0], fy_px=intr[1], cx_px=intr[2],
                cy_px=intr[3], input_sha256=(digests or {}).get(r.ref.episode_id) or r.ref.input_sha256(), signals=r.signals,
                metric_scale=metric_scale(r.ref.spec), note=r.note,
            )
        )
    episodes = conform(pa.Table.from_pylist(rows), "episodes") if rows else empty("episodes")
    return episodes, concat(results, "frames")
