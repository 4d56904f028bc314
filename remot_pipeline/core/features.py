"""Keyframes: decode the frames the labelled pairs use, store them as JPEG, and compute a
simple visual descriptor for retrieval.

The descriptor is a zero-mean grey 16x12 thumbnail concatenated with a zero-mean colour 8x6
thumbnail, L2-normalised: cosine similarity is then a dot product. It is cheap, linear in the
number of frames, and sensitive to viewpoint, which is what a hard negative needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pyarrow as pa

from data_contracts import conform, empty
from remot_pipeline.core.arrow import to_polars
from remot_pipeline.core.ledger import QuarantineLog, StageResult
from remot_pipeline.sources.video import VideoError, read_frames_rgb

DESCRIPTOR_DIM = 16 * 12 + 8 * 6 * 3


def descriptor(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB -> ``(DESCRIPTOR_DIM,) float32``, unit L2 norm."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    g = cv2.resize(grey, (16, 12), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    c = cv2.resize(rgb, (8, 6), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(-1, 3)
    g -= g.mean()
    c -= c.mean(axis=0)
    v = np.concatenate([g, c.ravel()])
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def jpeg_size(width_px: int, height_px: int, max_side_px: int) -> tuple[int, int]:
    """The stored keyframe size: the longer side at most ``max_side_px``, the width a multiple of 16.

    A width on the 16-pixel grid keeps a horizontally mirrored frame's JPEG blocks on the grid
    (:func:`remot_pipeline.core.triplets.reencode_jpeg`). The height keeps the aspect ratio.

    >>> jpeg_size(640, 480, 320), jpeg_size(256, 192, 320), jpeg_size(180, 320, 320), jpeg_size(1920, 1080, 320)
    ((320, 240), (256, 192), (176, 313), (320, 180))
    """
    scale = min(1.0, max_side_px / max(width_px, height_px))
    w = max(16, int(round(width_px * scale / 16.0)) * 16)
    if w > width_px * scale + 8 or w > max_side_px:
        w = max(16, int(width_px * scale // 16) * 16)
    return w, max(1, int(round(height_px * w / width_px)))


def encode_jpeg(rgb: np.ndarray, max_side_px: int, quality: int) -> bytes:
    h, w = rgb.shape[:2]
    size = jpeg_size(w, h, max_side_px)
    if size != (w, h):
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_frames(frames: pa.Table, frame_indices: Iterable[int], source_root: Path
                  ) -> tuple[dict[int, np.ndarray], list[tuple[int, str, str]], int]:
    """Decode ``frame_indices`` of one episode (rows of ``frames``: ``frame_index``,
    ``media_path``, ``media_frame_index``) from its media under ``source_root``.

    Returns ``(rgb_by_frame_index, failures, no_media)``: the decoded frames (RGB uint8), one
    ``(frame_index, file, detail)`` per frame that did not decode, and how many asked frames have
    no media (a pose-only source)."""
    wanted = sorted(set(int(i) for i in frame_indices))
    fi = frames.column("frame_index").to_numpy()
    media = frames.column("media_path").to_pylist()
    media_idx = frames.column("media_frame_index").to_numpy(zero_copy_only=False)
    row_of = {int(f): r for r, f in enumerate(fi)}
    by_file: dict[str, list[tuple[int, int]]] = {}
    no_media = 0
    for f in wanted:
        r = row_of[f]
        if media[r] is None:  # pose-only source: nothing to decode
            no_media += 1
            continue
        by_file.setdefault(media[r], []).append((int(media_idx[r]), f))
    got: dict[int, np.ndarray] = {}
    failures: list[tuple[int, str, str]] = []
    for rel, items in by_file.items():
        path = Path(source_root) / rel
        local = {m: f for m, f in items}
        try:
            if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"}:
                img = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if img is not None:
                    got[items[0][1]] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            else:
                for m, rgb in read_frames_rgb(path, local.keys()):
                    got[local[m]] = rgb
        except VideoError as exc:
            failures += [(f, str(path), str(exc)) for _, f in items]
            continue
        failures += [(f, str(path), f"frame {m} of {rel} did not decode") for m, f in items if f not in got]
    return got, failures, no_media


def episode_features(
    frames: pa.Table, frame_indices: Iterable[int], source_root: Path, max_side_px: int = 320, quality: int = 90
) -> StageResult:
    """Decode ``frame_indices`` of one episode (rows of ``frames``); JPEG + descriptor per frame.

    Frames that cannot be decoded are quarantined as ``frame_undecodable``.
    """
    wanted = sorted(set(int(i) for i in frame_indices))
    episode_id = frames.column("episode_id")[0].as_py()
    domain = frames.column("domain")[0].as_py()
    q = QuarantineLog("frame_features", domain)
    fi = frames.column("frame_index").to_numpy()
    ts = frames.column("timestamp_s").to_numpy()
    row_of = {int(f): r for r, f in enumerate(fi)}
    got, failures, no_media = decode_frames(frames, wanted, source_root)
    for f, file, detail in failures:
        q.add("frame_undecodable", detail, file=file, episode_id=episode_id, frame_index=f)
    done = [f for f in wanted if f in got]
    filtered = {"no_media": no_media}
    if not done:
        return StageResult(empty("frame_features"), q.table(), len(wanted), filtered)
    images = [{"bytes": encode_jpeg(got[f], max_side_px, quality), "path": f"{episode_id}/frame_{f:06d}.jpg"} for f in done]
    desc = np.stack([descriptor(got[f]) for f in done])
    table = pa.table(
        {
            "episode_id": pa.array([episode_id] * len(done), pa.string()),
            "domain": pa.array([domain] * len(done), pa.string()),
            "frame_index": pa.array(done, pa.int64()),
            "timestamp_s": pa.array(ts[[row_of[f] for f in done]]),
            "image": pa.array(images),
            "descriptor": pa.array(list(desc), pa.list_(pa.float32())),
        }
    )
    return StageResult(conform(table, "frame_features"), q.table(), len(wanted), filtered)


def view_change(pairs: pl.DataFrame, features: pa.Table, first: str, second: str, episode: str = "episode_id") -> np.ndarray:
    """How much each pair's view changes, ``1 - cos`` of its two frames' descriptors (NaN when a
    frame has none): a proxy of the global pixel change between the two images."""
    feat = to_polars(features.select(["episode_id", "frame_index"])).with_row_index("_row")
    desc = np.asarray(features.column("descriptor").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    desc = desc.reshape(features.num_rows, -1) if features.num_rows else desc.reshape(0, 1)
    rows = []
    for col in (first, second):
        j = pairs.select(pl.col(episode).alias("episode_id"), pl.col(col).alias("frame_index")).join(
            feat, on=["episode_id", "frame_index"], how="left", maintain_order="left")["_row"]
        rows.append(j.fill_null(-1).to_numpy())
    ok = np.flatnonzero((rows[0] >= 0) & (rows[1] >= 0))
    out = np.full(pairs.height, np.nan)
    # In blocks: gathering every pair's two descriptors at once would hold 2 x pairs x dim floats.
    for i in range(0, ok.size, _VIEW_CHANGE_BLOCK):
        sel = ok[i : i + _VIEW_CHANGE_BLOCK]
        out[sel] = 1.0 - np.einsum("nd,nd->n", desc[rows[0][sel]], desc[rows[1][sel]])
    return out


#: Pairs per block of :func:`view_change` (a block gathers 2 x block x dim float32).
_VIEW_CHANGE_BLOCK = 16384
