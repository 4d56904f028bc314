"""Source shards: the unit of per-episode work.

A shard is up to ``shard_episodes`` consecutive episodes of one source, in discovery order
sorted by episode id. Everything a shard's stage outputs depend on is in its plan: the
episodes (with their input files), the split each was given, the domain. The split is
cross-episode work, so it is decided here, over every discovered episode of the domain,
before any shard runs (:func:`remot_pipeline.core.ingest.assign_splits` over the episode and
scene ids): a shard's outputs never depend on the order shards ran in or on which machine.

Shard names are stable: ``<source>~<first episode key>`` hashed into a short, path- and
Dagster-safe id, so adding an episode to a source's end adds (or changes) only its last shard,
and adding a new source adds only that source's shards.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from remot_pipeline.core.ingest import assign_splits
from remot_pipeline.sources import EpisodeRef, SourceError, SourceSpec, reader

#: Episodes per shard by default. Each shard is one step (one process under the multiprocess
#: executor, one task under Celery); a step costs ~3 s to start (Python, Dagster, OpenCV
#: imports), so a shard should hold several seconds of work: 16 episodes of 240 frames take
#: ~5 s through ingest, motion, labels and keyframe features on one core.
SHARD_EPISODES = 16


@dataclass
class ShardPlan:
    """One shard: ``refs`` in order, with the split of each episode."""

    domain: str
    source: str
    index: int
    refs: list[EpisodeRef]
    splits: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Path- and Dagster-safe, unique per (source, index): ``navigation__tum_desk_3f2a9c__s0001``."""
        safe = re.sub(r"[^A-Za-z0-9]+", "_", self.source).strip("_")[:40] or "source"
        tag = hashlib.sha256(self.source.encode()).hexdigest()[:6]
        return f"{self.domain}__{safe}_{tag}__s{self.index:04d}"

    @property
    def partition(self) -> str:
        """Where the shard's stage outputs live in the stage store: ``<domain>/<name>``."""
        return f"{self.domain}/{self.name}"

    @property
    def episode_ids(self) -> list[str]:
        return [r.episode_id for r in self.refs]


def discover(specs: list[SourceSpec]) -> tuple[list[tuple[SourceSpec, list[EpisodeRef]]], list[dict]]:
    """Each source's episodes (sorted by id), each source on its own: a source whose discovery
    raises, or that holds no episode, is reported as ``{"source", "format", "path", "error",
    "kind"}`` (the same lines :func:`remot_pipeline.core.ingest.read_sources` gives)."""
    found, failed = [], []
    for spec in specs:
        try:
            refs = reader(spec.format).discover(spec)
            if not refs:
                raise SourceError(f"{spec.path}: source {spec.name!r} holds no episode a {spec.format!r} reader "
                                  "recognises; check `path` and `format` in the sources file")
            found.append((spec, sorted(refs, key=lambda r: r.episode_id)))
        except SourceError as exc:
            failed.append(source_failure(spec, exc))
        except Exception as exc:  # noqa: BLE001 - one reader's bug must not fail the healthy sources
            failed.append(source_failure(spec, exc))
    return found, failed


def source_failure(spec: SourceSpec, exc: BaseException) -> dict:
    """The one-line report of a source left out (``kind``: ``source_error`` or ``reader_bug``)."""
    if isinstance(exc, SourceError):
        return {"source": spec.name, "format": spec.format, "path": str(spec.path), "error": str(exc),
                "kind": "source_error"}
    first = (str(exc).strip().splitlines() or [""])[0]
    return {"source": spec.name, "format": spec.format, "path": str(spec.path), "kind": "reader_bug",
            "error": f"{spec.path}: the {spec.format!r} reader failed with {type(exc).__name__}: "
                     f"{first} (a bug: please report it with this file)"}


def plan_shards(domain: str, found: list[tuple[SourceSpec, list[EpisodeRef]]], test_fraction: float,
                shard_episodes: int = SHARD_EPISODES) -> list[ShardPlan]:
    """The domain's shards, with the split of every discovered episode decided over all of them.

    >>> from pathlib import Path
    >>> spec = SourceSpec("s", "navigation", "tum", Path("/x"))
    >>> refs = [EpisodeRef(spec, f"e{i}", f"e{i}", (), f"e{i}") for i in range(5)]
    >>> [(p.index, p.episode_ids) for p in plan_shards("navigation", [(spec, refs)], 0.25, 2)]
    [(0, ['s/e0', 's/e1']), (1, ['s/e2', 's/e3']), (2, ['s/e4'])]
    """
    if shard_episodes < 1:
        raise ValueError(f"shard_episodes must be >= 1, got {shard_episodes}")
    refs = [r for _, rs in found for r in rs]
    splits = assign_splits([r.episode_id for r in refs], test_fraction, scenes={r.episode_id: r.scene_id for r in refs})
    plans = []
    for spec, rs in sorted(found, key=lambda f: f[0].name):
        for i in range(0, len(rs), shard_episodes):
            chunk = rs[i:i + shard_episodes]
            plans.append(ShardPlan(domain, spec.name, i // shard_episodes, chunk,
                                   {r.episode_id: splits[r.episode_id] for r in chunk}))
    return plans


def shard_digest(plan: ShardPlan, digests: dict[str, str] | None = None) -> str:
    """sha256 over the shard's episodes: id, input files' sha256 (``digests``, else read here)
    and split: what its outputs depend on besides config and code."""
    digests = digests or {r.episode_id: r.input_sha256() for r in plan.refs}
    rows = [(r.episode_id, digests[r.episode_id], plan.splits[r.episode_id]) for r in plan.refs]
    return hashlib.sha256(repr(rows).encode()).hexdigest()
