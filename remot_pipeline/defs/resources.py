"""The pipeline's typed configuration, as one Dagster resource with nested config models.

Every knob that changes the release's content is here, and all of it (except where files
live) enters the release's config hash, so a changed knob gives a new ``release_id``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from remot_pipeline.core.motion import PairConfig


class SyntheticWorldConfig(dg.Config):
    enabled: bool = True
    seed: int = 0
    episodes_per_domain: int = 8
    frames_per_episode: int = 240


class PairsConfig(dg.Config):
    min_offset: int = 2
    max_offset: int = 30
    offset_step: int = 2
    max_dt_s: float = 3.0
    max_frame_gap_s: float = 0.5


class RemotConfig(dg.ConfigurableResource):
    """Where data lives and how the experts behave."""

    data_root: str = "data"
    sources_file: str | None = None
    synthetic: SyntheticWorldConfig = SyntheticWorldConfig()
    test_fraction: float = 0.25
    pairs: PairsConfig = PairsConfig()
    dominance_margin: float = 1.5
    near_duplicate_max: float = 0.98
    max_triplets_per_domain: int = 500
    seed: int = 0
    jpeg_max_side_px: int = 320
    jpeg_quality: int = 90

    @property
    def root(self) -> Path:
        return Path(self.data_root)

    def pair_config(self) -> PairConfig:
        return PairConfig(**self.pairs.model_dump())

    def content_config(self) -> dict:
        """Everything that shapes the release's content (not where files live)."""
        d = self.model_dump()
        d.pop("data_root")
        d.pop("sources_file")
        return d

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content_config(), sort_keys=True).encode()).hexdigest()[:16]
