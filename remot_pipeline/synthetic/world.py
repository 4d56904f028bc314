"""The synthetic world's configuration and its top-level generator."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass

from .manipulation import write_manipulation
from .navigation import write_navigation
from .simulation import write_simulation


@dataclass(frozen=True)
class WorldConfig:
    """What to generate. Same config -> byte-identical files.

    Every domain gets ``episodes_per_domain`` episodes of exactly ``frames_per_episode`` frames at
    ``fps`` (constant frame rate), rendered at ``width_px`` x ``height_px`` with pinhole intrinsics
    fx = fy = 0.8 * width_px, cx = width_px / 2, cy = height_px / 2.
    """

    seed: int = 0
    episodes_per_domain: int = 8
    frames_per_episode: int = 240
    fps: float = 15.0
    width_px: int = 256
    height_px: int = 192


DomainWriter = Callable[[pathlib.Path, WorldConfig], list[pathlib.Path]]

# Domain name -> writer(root, config) -> written episode dirs (manipulation: the dataset dir).
DOMAIN_WRITERS: dict[str, DomainWriter] = {
    "navigation": write_navigation,
    "manipulation": write_manipulation,
    "simulation": write_simulation,
}


def generate_world(root: pathlib.Path, config: WorldConfig = WorldConfig()) -> dict[str, list[pathlib.Path]]:
    """Write the world under root; return {"navigation": [episode dirs], "manipulation": [dataset dir], "simulation": [episode dirs]}."""
    root = pathlib.Path(root)
    return {domain: writer(root, config) for domain, writer in DOMAIN_WRITERS.items()}
