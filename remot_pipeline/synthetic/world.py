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


def cached_world(cache_root: pathlib.Path, config: WorldConfig, code_version: str) -> tuple[pathlib.Path, str, bool]:
    """The world for ``config`` under ``cache_root/world-<tag>``, generated once.

    ``tag`` hashes the config and ``code_version``. Generation writes a temporary folder, marks it
    complete and renames it into place, so a half-written world is never reused. Returns
    ``(path, tag, reused)``.
    """
    import dataclasses
    import hashlib
    import json
    import shutil

    key = json.dumps({"world": dataclasses.asdict(config), "code": code_version}, sort_keys=True, separators=(",", ":"))
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    final = pathlib.Path(cache_root) / f"world-{tag}"
    if (final / ".complete").exists():
        return final, tag, True
    tmp = final.with_name(f".tmp-{final.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    generate_world(tmp, config)
    (tmp / ".complete").write_text(tag + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final, tag, False
