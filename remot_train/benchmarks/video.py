"""Uniform frame sampling from a video file with PyAV (OpenCV cannot decode AV1 here).

:func:`sample_frames` returns ``n`` RGB PIL images at the indices
``linspace(0, total - 1, n)`` rounded down (lmms-eval's VSI-Bench sampling), decoded in one
sequential pass that stops at the last wanted frame (no seeking, so any codec PyAV bundles works:
H.264, MPEG-4, AV1, VP9). The frame count is the container's (or the demuxed packets'); when
fewer frames decode than it claims, the decodable frames are counted and sampled instead. A file
that does not open or decodes no frame raises :class:`~remot_train.benchmarks.BenchmarkError` with
one line naming the file and the fix.
"""

from __future__ import annotations

from pathlib import Path

from remot_train.benchmarks.errors import BenchmarkError


def frame_indices(total: int, n: int) -> list[int]:
    """``n`` indices spread uniformly over ``total`` frames, first and last included (fewer
    distinct frames repeat, as lmms-eval's sampling does).

    >>> frame_indices(10, 4), frame_indices(3, 5), frame_indices(1, 2)
    ([0, 3, 6, 9], [0, 0, 1, 1, 2], [0, 0])
    """
    if total < 1 or n < 1:
        raise ValueError(f"need total >= 1 and n >= 1, got total={total}, n={n}")
    if n == 1:
        return [0]
    return [int(i * (total - 1) / (n - 1)) for i in range(n)]


def _shrink(img, max_side: int | None):
    from PIL import Image

    if max_side and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return img


def count_frames(path: str | Path, decode: bool = False) -> int:
    """The number of video frames: the container's count, else the video packets counted by
    demuxing (no decode); ``decode=True`` counts the frames that actually decode."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if decode:
            return sum(1 for _ in container.decode(stream))
        if stream.frames:
            return int(stream.frames)
        return sum(1 for p in container.demux(stream) if p.size)


def _pick(path: Path, wanted: list[int], max_side: int | None) -> dict[int, object]:
    import av

    picked: dict[int, object] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                picked[i] = _shrink(frame.to_image().convert("RGB"), max_side)
            if i >= wanted[-1]:
                break
    return picked


def sample_frames(path: str | Path, n: int = 8, max_side: int | None = None, fix: str = "") -> list:
    """``n`` uniformly spaced RGB frames of ``path`` as PIL images, shrunk to ``max_side``."""
    import av

    path = Path(path)
    hint = fix or "re-download or re-encode the video (H.264/MPEG-4/AV1/VP9 mp4)"
    try:
        total = count_frames(path)
        if total == 0:
            raise BenchmarkError(f"{path}: the video has no decodable frame; {hint}")
        wanted = frame_indices(total, n)
        picked = _pick(path, wanted, max_side)
        if len(picked) < len(set(wanted)):  # the container's count was wrong: count what decodes, once
            total = count_frames(path, decode=True)
            if total == 0:
                raise BenchmarkError(f"{path}: the video has no decodable frame; {hint}")
            wanted = frame_indices(total, n)
            picked = _pick(path, wanted, max_side)
    except BenchmarkError:
        raise
    except (av.error.FFmpegError, IndexError, OSError, ValueError) as e:  # IndexError: no video stream
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BenchmarkError(f"{path}: cannot decode the video ({reason}); {hint}") from None
    missing = [i for i in wanted if i not in picked]
    if missing:
        raise BenchmarkError(f"{path}: the video ended before frame {missing[0]} of {total}; {hint}")
    return [picked[i] for i in wanted]
