"""Deterministic H.264 mp4 writer (PyAV / libx264).

Constant frame rate: frame i has pts = i in time base 1/fps. Single-threaded x264 with a fixed
preset and ``+bitexact`` muxing, so the same frames give byte-identical files.
"""

from __future__ import annotations

import pathlib
from fractions import Fraction

import av
import numpy as np

X264_OPTIONS = {"preset": "veryfast", "crf": "18", "threads": "1", "x264-params": "threads=1:lookahead-threads=1"}


def fps_fraction(fps: float) -> Fraction:
    """The frame rate as an exact fraction (e.g. 15 -> 15/1, 29.97 -> 2997/100)."""
    return Fraction(fps).limit_denominator(1001)


class Mp4Writer:
    """Write BGR uint8 frames (H, W, 3) to an H.264 yuv420p mp4; use as a context manager."""

    def __init__(self, path: pathlib.Path, fps: float, width_px: int, height_px: int, keyframe_interval: int | None = None):
        rate = fps_fraction(fps)
        self._container = av.open(str(path), mode="w", format="mp4")
        self._container.flags |= av.container.Flags.bitexact.value  # no library version / time tags
        stream = self._container.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
        stream.width, stream.height, stream.pix_fmt = width_px, height_px, "yuv420p"
        stream.time_base = 1 / rate
        stream.codec_context.thread_count = 1
        stream.codec_context.gop_size = keyframe_interval or max(1, round(float(rate)))
        self._stream, self._time_base, self.frames_written = stream, 1 / rate, 0

    def write(self, frame_bgr: np.ndarray, keyframe: bool = False) -> None:
        """Append one frame; ``keyframe`` forces an IDR frame (e.g. at an episode start)."""
        frame = av.VideoFrame.from_ndarray(frame_bgr, format="bgr24")
        frame.pts, frame.time_base = self.frames_written, self._time_base
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> int:
        """Flush the encoder, close the file and return the number of frames written."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self.frames_written

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._container.close()
