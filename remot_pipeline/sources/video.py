"""Video access through PyAV (OpenCV's bundled FFmpeg cannot decode AV1; STACK_NOTES).

PyAV decodes and counts; OpenCV does the image work downstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np


class VideoError(RuntimeError):
    """A video could not be opened or decoded."""


def count_frames(path: Path) -> int:
    """Number of video frames in ``path``, by demuxing packets (no decoding).

    Container headers can lie about the frame count; packets cannot. Raises
    :class:`VideoError` when the file cannot be opened (a truncated mp4 has no index).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream")
            stream = container.streams.video[0]
            return sum(1 for packet in container.demux(stream) if packet.size)
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot open video ({exc})") from None


def read_frames_rgb(path: Path, frame_indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, rgb uint8 (H, W, 3))`` for the requested frames, in ascending order.

    One sequential decode up to the last requested frame; frames that fail to decode are
    not yielded (the caller quarantines what it asked for and did not get).
    """
    wanted = sorted(set(int(i) for i in frame_indices))
    if not wanted:
        return
    last = wanted[-1]
    wanted_set = set(wanted)
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot open video ({exc})") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                if index in wanted_set:
                    yield index, frame.to_ndarray(format="rgb24")
                index += 1
                if index > last:
                    break
        except av.FFmpegError:
            # A truncated or corrupt stream: stop here; missing indices are reported upstream.
            return
