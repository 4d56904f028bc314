"""Drop folders: every sub-folder of ``<data_root>/raw/<domain>/`` is a source.

A user adds a dataset by copying it to ``data/raw/<domain>/<name>/``. The format is declared in
an optional ``<name>/remot_source.yaml`` (``format: tum`` plus ``options: {...}``) or detected
from the files (:data:`SIGNATURES`, first match wins). The sensor in ``defs/sensors.py`` watches
these folders and requests a run for the domain whose folder changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from remot_pipeline.sources.base import DOMAINS, SourceError, SourceSpec

SOURCE_FILE = "remot_source.yaml"

#: (domain, format, glob that identifies it), tried in order.
SIGNATURES: tuple[tuple[str, str, str], ...] = (
    ("navigation", "tum", "**/groundtruth.txt"),
    ("navigation", "nerf", "**/transforms.json"),
    ("navigation", "euroc", "**/mav0/state_groundtruth_estimate0/data.csv"),
    ("navigation", "sevenscenes", "**/seq-*/frame-*.pose.txt"),
    ("navigation", "scannet", "**/pose/*.txt"),
    ("navigation", "kitti", "**/poses/*.txt"),
    ("manipulation", "lerobot_v3", "**/meta/episodes/chunk-*/file-*.parquet"),
    ("manipulation", "lerobot_v21", "**/meta/episodes.jsonl"),
    ("manipulation", "umi_v1", "**/episode_*_flat.csv"),
    ("simulation", "remot_sim_jsonl", "**/log.jsonl"),
)


def detect_format(folder: Path, domain: str, known: set[str]) -> str | None:
    """The first signature of ``domain`` whose glob matches a file under ``folder``."""
    for d, fmt, pattern in SIGNATURES:
        if d == domain and fmt in known and next(Path(folder).glob(pattern), None) is not None:
            return fmt
    return None


def drop_folder_sources(raw_root: Path, domain: str, known: set[str]) -> list[SourceSpec]:
    """Sources found under ``raw_root/<domain>/``; a folder whose format cannot be told is an error."""
    base = Path(raw_root) / domain
    if domain not in DOMAINS or not base.is_dir():
        return []
    specs = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        declared = folder / SOURCE_FILE
        options: dict = {}
        fmt = None
        if declared.exists():
            try:
                doc = yaml.safe_load(declared.read_text()) or {}
            except yaml.YAMLError as exc:
                raise SourceError(f"{declared}: invalid YAML ({str(exc).splitlines()[0]}); fix it or delete it") from None
            fmt, options = doc.get("format"), dict(doc.get("options") or {})
            if fmt not in known:
                raise SourceError(f"{declared}: format {fmt!r} is not one of {sorted(known)}; fix `format`")
        else:
            fmt = detect_format(folder, domain, known)
            if fmt is None:
                raise SourceError(
                    f"{folder}: cannot tell the dataset's format; add {SOURCE_FILE} with `format: <one of {sorted(known)}>`"
                )
        specs.append(SourceSpec(f"raw_{folder.name}", domain, fmt, folder, options))
    return specs


def fingerprint(raw_root: Path, domain: str) -> str | None:
    """A cheap change detector for a domain's drop folder: names, sizes and mtimes of its files."""
    base = Path(raw_root) / domain
    if not base.is_dir():
        return None
    h = hashlib.sha256()
    n = 0
    for p in sorted(base.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(base)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            n += 1
    return h.hexdigest()[:16] if n else None
