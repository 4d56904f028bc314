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
    #: A pair is labelled with a manipulation phase only when it spans at least this long.
    min_phase_s: float = 0.6


class BandsConfig(dg.Config):
    """Magnitude bands (the paper's phi): a pair is labelled only inside [min, max]."""

    rotation_deg_min: float = 10.0
    rotation_deg_max: float = 50.0
    camera_translation_m_min: float = 0.5
    camera_translation_m_max: float = 3.0
    ee_translation_m_min: float = 0.05
    ee_translation_m_max: float = 0.5
    #: 4 cm: a 2 cm change of an ~8 cm stroke is about 7 px at the synthetic camera's distance.
    gripper_m_min: float = 0.04
    gripper_m_max: float = 0.2
    object_translation_m_min: float = 0.35
    object_translation_m_max: float = 3.0

    def table(self) -> dict[str, tuple[float, float]]:
        d = self.model_dump()
        families = {k.rsplit("_", 1)[0] for k in d}
        return {f: (d[f"{f}_min"], d[f"{f}_max"]) for f in sorted(families)}


class VisibilityConfig(dg.Config):
    """What a label needs to be seen (``core.visibility``); pixels are the stored keyframe's.

    Defaults are argued in the README ("What a label means"): 70% of the subject in view in
    every frame shown; 12 px (about 4% of a 320 px frame) for a position change or a camera
    turn; 4 px of apparent-size change toward/away; 6 px for a gripper's opening or a rotation's
    arc; "stationary" under 2 px of rotation-induced image motion and 2 cm of translation.
    """

    min_visible_fraction: float = 0.7
    camera_rotation_px: float = 12.0
    image_translation_px: float = 12.0
    apparent_size_px: float = 4.0
    gripper_opening_px: float = 6.0
    rotation_arc_px: float = 6.0
    gripper_radius_m: float = 0.05
    object_radius_m: float = 0.15
    still_px: float = 2.0
    still_translation_m: float = 0.02

    def rules(self, max_side_px: int):
        from remot_pipeline.core.visibility import VisibilityRules

        d = self.model_dump()
        kinds = ("camera_rotation", "image_translation", "apparent_size", "gripper_opening", "rotation_arc")
        return VisibilityRules(min_visible_fraction=d["min_visible_fraction"],
                               min_motion_px={k: d[f"{k}_px"] for k in kinds},
                               gripper_radius_m=d["gripper_radius_m"], object_radius_m=d["object_radius_m"],
                               still_px=d["still_px"], still_translation_m=d["still_translation_m"],
                               max_side_px=max_side_px)


class CoverageConfig(dg.Config):
    """The release's coverage check: every required attribute value needs this many triplets per split.

    Required: every labelled attribute of every domain the built-in synthetic world feeds (when it
    is enabled; it is built to cover them all), plus ``required`` (``"domain/attribute"`` entries)
    for real sources that promise an attribute."""

    min_train_triplets_per_value: int = 5
    min_bench_triplets_per_value: int = 2
    required: list[str] = []


class AuditConfig(dg.Config):
    """The shortcut audit (``core.audit``): blind baselines trained on train, scored on remot-bench."""

    enabled: bool = True
    alpha: float = 0.05
    #: Train questions each (question type, domain) cell's baselines fit on, at most (the smallest
    #: question ids; remot-bench is always scored whole): keeps the audit's memory and time flat as
    #: releases grow (README "Scale out"). ``None``: every train question.
    max_train_questions_per_cell: int | None = 4_000


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
    #: Frames per clip (``views: clips`` in training): a triplet stores, for each pair, the
    #: ``clip_frames - 2`` source frames between its two, nearest to evenly spaced times
    #: (``core.clips.between_frames``), decoded from the sources when the triplets are written.
    #: 2 (the default) stores none: the pair's two frames are the clip.
    clip_frames: int = 2
    #: Episodes per source shard, the unit of per-episode work (core/shards.py). Not content:
    #: any shard size gives the same rows, so it stays out of the config hash and release id.
    shard_episodes: int = 16
    #: Processes for the cross-episode stages (negatives, triplets), one domain each: 0 = one per CPU
    #: the step may use, 1 = one after the other in the step's process (the default: measured on 2
    #: cores at ReMoT-16K, two workers gave no speed-up, the domains' costs are uneven, and they
    #: double the memory in use; at 4x ReMoT-16K two triplets workers of ~12 GB each were OOM-killed
    #: on a 24 GB machine; README "Measured"). Not content either.
    domain_workers: int = 1
    visibility: VisibilityConfig = VisibilityConfig()
    coverage: CoverageConfig = CoverageConfig()
    audit: AuditConfig = AuditConfig()

    def pair_config(self) -> PairConfig:
        return PairConfig(**self.pairs.model_dump())

    def content_config(self) -> dict:
        """Everything that shapes the release's content."""
        return self.model_dump(exclude={"shard_episodes", "domain_workers"})

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content_config(), sort_keys=True).encode()).hexdigest()[:16]
