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


class BandsConfig(dg.Config):
    """Magnitude bands (the paper's phi): a pair is labelled only inside [min, max]."""

    rotation_deg_min: float = 10.0
    rotation_deg_max: float = 50.0
    camera_translation_m_min: float = 0.5
    camera_translation_m_max: float = 3.0
    ee_translation_m_min: float = 0.05
    ee_translation_m_max: float = 0.5
    gripper_m_min: float = 0.02
    gripper_m_max: float = 0.2
    object_translation_m_min: float = 0.35
    object_translation_m_max: float = 3.0

    def table(self) -> dict[str, tuple[float, float]]:
        d = self.model_dump()
        families = {k.rsplit("_", 1)[0] for k in d}
        return {f: (d[f"{f}_min"], d[f"{f}_max"]) for f in sorted(families)}


class RemotPaths(dg.ConfigurableResource):
    """Where data lives: raw inputs, stage outputs, releases, the catalog; and the sources file.

    Kept apart from :class:`RemotConfig` so that editing the experts' config in the launchpad
    never moves the data.
    """

    data_root: str = "data"
    sources_file: str | None = None

    @property
    def root(self) -> Path:
        return Path(self.data_root)


class RemotConfig(dg.ConfigurableResource):
    """How the experts behave. All of it enters the release's config hash."""

    synthetic: SyntheticWorldConfig = SyntheticWorldConfig()
    test_fraction: float = 0.25
    pairs: PairsConfig = PairsConfig()
    bands: BandsConfig = BandsConfig()
    #: The labelled attribute's normalised magnitude must exceed every competitor's by this factor.
    dominance_margin: float = 1.5
    near_duplicate_max: float = 0.98
    #: Train triplets per domain (a cap: a small world gives fewer).
    max_triplets_per_domain: int = 500
    #: remot-bench (the test split) triplets per domain: 3 x 200 = 600, the shape of ReMoT-16K-Test.
    bench_triplets_per_domain: int = 200
    seed: int = 0
    #: Episodes per domain whose triplets are checked against optical flow (0 disables the check).
    flow_check_episodes_per_domain: int = 2
    jpeg_max_side_px: int = 320
    jpeg_quality: int = 90

    def pair_config(self) -> PairConfig:
        return PairConfig(**self.pairs.model_dump())

    def content_config(self) -> dict:
        """Everything that shapes the release's content."""
        return self.model_dump()

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content_config(), sort_keys=True).encode()).hexdigest()[:16]
