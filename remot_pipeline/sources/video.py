"""Video access through PyAV (OpenCV's bundled FFmpeg cannot decode AV1; STACK_NOTES).

PyAV demuxes, seeks and decodes; OpenCV does the image work downstream.

Frame ``i`` of a file is the ``i``-th frame in presentation order, i.e. the ``i``-th smallest
packet pts. :func:`read_frames_rgb` decodes only the groups of pictures that hold a requested
frame: it seeks to the keyframe before a target whenever a whole GOP can be skipped, and
otherwise keeps decoding forward, so no frame is decoded twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


class VideoError(RuntimeError):
    """A video could not be opened or decoded."""


class FrameIndexError(IndexError):
    """A requested frame index is not an integer >= 0 (or, with ``strict``, lies beyond the end).

    Deliberately not a :class:`VideoError`: the readers validate frame indices before anything
    is decoded (``frame_index_invalid``), so reaching the decoder with one is a bug, and it must
    fail loudly instead of wrapping around to the video's last frame (Python's ``pts[-1]``).
    """


def checked_frame_indices(path: Path, frame_indices: Iterable) -> list[int]:
    """``frame_indices`` as sorted unique Python ints; a :class:`FrameIndexError` for any index that
    is negative, fractional (``9.7``), not finite, or not a number at all (a bool included)."""
    out = set()
    for i in frame_indices:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer, float, np.floating)):
            raise FrameIndexError(f"{path}: frame index {i!r} is not an integer")
        if isinstance(i, (float, np.floating)) and not (np.isfinite(i) and float(i).is_integer()):
            raise FrameIndexError(f"{path}: frame index {i!r} is not an integer (never truncated)")
        if i < 0:
            raise FrameIndexError(f"{path}: frame index {int(i)} is negative (frames count from 0; never wrapped around)")
        out.add(int(i))
    return sorted(out)


@dataclass(frozen=True)
class VideoIndex:
    """Presentation timestamps of every frame (sorted) and of the keyframes, in stream time_base."""

    pts: np.ndarray  # (n_frames,) int64, ascending
    keyframe_pts: np.ndarray  # (n_keyframes,) int64, ascending

    @property
    def n_frames(self) -> int:
        return int(self.pts.size)


def index_video(path: Path) -> VideoIndex:
    """Demux ``path`` (no decoding) into a :class:`VideoIndex`.

    Container headers can lie about the frame count; packets cannot. Raises
    :class:`VideoError` when the file cannot be opened (a truncated mp4 has no index).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream")
            stream = container.streams.video[0]
            pts, keys = [], []
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                p = packet.pts if packet.pts is not None else packet.dts
                pts.append(-1 if p is None else int(p))
                if packet.is_keyframe:
                    keys.append(pts[-1])
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot open video ({exc})") from None
    return VideoIndex(np.sort(np.asarray(pts, dtype=np.int64)), np.sort(np.asarray(keys, dtype=np.int64)))


def count_frames(path: Path) -> int:
    """Number of video frames in ``path``, by demuxing packets (no decoding)."""
    return index_video(path).n_frames


def read_frames_rgb(path: Path, frame_indices: Iterable[int], index: VideoIndex | None = None,
                    strict: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, rgb uint8 (H, W, 3))`` for the requested frames, in ascending order.

    A negative, fractional or non-numeric index raises :class:`FrameIndexError` before anything
    is decoded (it is never wrapped around nor truncated). Frames that fail to decode, or lie
    beyond the end, are not yielded: the caller quarantines what it asked for and did not get;
    with ``strict=True`` an index beyond the end raises :class:`FrameIndexError` as well.
    """
    wanted = checked_frame_indices(path, frame_indices)
    if not wanted:
        return
    idx = index or index_video(path)
    if strict and wanted[-1] >= idx.n_frames:
        raise FrameIndexError(f"{path}: frame index {wanted[-1]} is beyond the video's {idx.n_frames} frames")
    if idx.n_frames == 0:
        return
    if (idx.pts < 0).any() or idx.keyframe_pts.size == 0:
        yield from _read_sequential(path, wanted)
        return
    wanted = [w for w in wanted if 0 <= w < idx.n_frames]  # never index pts with a negative number
    if not wanted:
        return
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot open video ({exc})") from None
    with container:
        stream = container.streams.video[0]
        frames = None  # the live decode generator
        last_pts = None  # pts of the last decoded frame
        for w in wanted:
            target = int(idx.pts[w])
            key = int(idx.keyframe_pts[np.searchsorted(idx.keyframe_pts, target, side="right") - 1]) \
                if idx.keyframe_pts[0] <= target else int(idx.keyframe_pts[0])
            # Seek when going backwards, or when at least one whole GOP lies between here and the
            # target's keyframe; otherwise decoding forward is cheaper than a seek's decoder flush.
            skip_gop = last_pts is not None and key > _next_key(idx.keyframe_pts, last_pts)
            if frames is None or last_pts is None or target <= last_pts or skip_gop:
                container.seek(key, stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
                last_pts = None
            try:
                for frame in frames:
                    if frame.pts is None:
                        continue
                    last_pts = int(frame.pts)
                    if last_pts == target:
                        yield w, frame.to_ndarray(format="rgb24")
                        break
                    if last_pts > target:
                        break
            except av.FFmpegError:
                frames = None  # corrupt data inside this GOP: try the next target from its own keyframe


def _next_key(keyframe_pts: np.ndarray, pts: int) -> int:
    i = np.searchsorted(keyframe_pts, pts, side="right")
    return int(keyframe_pts[i]) if i < keyframe_pts.size else np.iinfo(np.int64).max


def _read_sequential(path: Path, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Fallback for streams without usable pts: one forward decode up to the last wanted frame."""
    wanted = checked_frame_indices(path, wanted)
    if not wanted:
        return
    wanted_set, last = set(wanted), wanted[-1]
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot open video ({exc})") from None
    with container:
        stream = container.streams.video[0]
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted_set:
                    yield i, frame.to_ndarray(format="rgb24")
                if i >= last:
                    break
        except av.FFmpegError:
            return


def media_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image, or of a video's first stream; ``(0, 0)`` when unreadable."""
    from remot_pipeline.sources.base import IMAGE_SUFFIXES

    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        return (0, 0) if img is None else (int(img.shape[1]), int(img.shape[0]))
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            return int(s.codec_context.width), int(s.codec_context.height)
    except (av.FFmpegError, IndexError):
        return 0, 0
