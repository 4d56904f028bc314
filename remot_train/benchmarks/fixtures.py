"""Tiny benchmark folders in each benchmark's exact published layout, for tests and the CPU demo.

    python -m remot_train.benchmarks.fixtures vsibench OUT     # OUT/test-00000-of-00001.parquet, OUT/<dataset>/<scene>.mp4
    python -m remot_train.benchmarks.fixtures mmsi OUT         # OUT/MMSI_Bench.parquet (PNG bytes inline)
    python -m remot_train.benchmarks.fixtures camerabench OUT  # OUT/test.jsonl, OUT/videos/<clip>.mp4
    python -m remot_train.benchmarks.fixtures all OUT          # OUT/vsibench, OUT/mmsi, OUT/camerabench

Videos are short generated H.264 clips (PyAV, libx264): a textured scene whose view pans, tilts
or stays, so CameraBench's yes/no truths hold for the clips. The questions are written in each
benchmark's wording and column types (see the reader modules); their answers are the fixtures'
own, known, truths, for checking the readers and the metrics, not for judging a model.
Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: (question id, dataset, scene, question_type, question, ground_truth, options) as VSI-Bench writes them.
VSI_QUESTIONS = [
    (0, "arkitscenes", "41069025", "object_counting", "How many chair(s) are in this room?", "3", None),
    (1, "arkitscenes", "41069025", "object_abs_distance",
     "Measuring from the closest point of each object, what is the direct distance between the table and the sofa (in meters)?",
     "2.5", None),
    (2, "arkitscenes", "41069025", "object_size_estimation",
     "What is the length of the longest dimension (length, width, or height) of the table, measured in centimeters?",
     "87", None),
    (3, "scannet", "scene0011_00", "room_size_estimation",
     "What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the combined space.",
     "18.4", None),
    (4, "scannet", "scene0011_00", "object_rel_direction_easy",
     "If I am standing by the door and facing the window, is the bed to the left or the right of the window?",
     "A", ["A. left", "B. right"]),
    (5, "scannet", "scene0011_00", "object_rel_direction_hard",
     "If I am standing by the sofa and facing the tv, is the lamp to my front-left, front-right, back-left, or back-right?",
     "C", ["A. front-left", "B. front-right", "C. back-left", "D. back-right"]),
    (6, "arkitscenes", "41069025", "object_rel_distance",
     "Measuring from the closest point of each object, which of these objects (bed, sofa, tv, lamp) is the closest to the chair?",
     "B", ["A. bed", "B. sofa", "C. tv", "D. lamp"]),
    (7, "scannet", "scene0011_00", "obj_appearance_order",
     "What will be the first-time appearance order of the following categories in the video: chair, table, lamp, bed?",
     "D", ["A. chair, table, lamp, bed", "B. table, chair, bed, lamp", "C. lamp, bed, chair, table",
           "D. bed, lamp, table, chair"]),
]

#: CameraBench's NaturalBench groups: (clip motions (v0, v1), questions (q0, q1)); Index 4g+k.
CAMERA_GROUPS = [
    (("pan_left", "pan_right"), ("Does the camera pan to the left?", "Does the camera pan to the right?")),
    (("tilt_up", "static"), ("Does the camera tilt upward?", "Is the camera completely still without any motion?")),
]

#: MMSI-Bench style questions: (question_type, question with its options, answer).
MMSI_QUESTIONS = [
    ("Motion--Camera", "The two images are taken by the same camera. How did the camera move from the first image to "
     "the second? Options: A: It panned left, B: It panned right, C: It tilted up, D: It did not move", "B"),
    ("Positional Relationship (Cam.-Cam.)", "Relative to the camera of image 1, where is the camera of image 2? "
     "Options: A: To its left, B: To its right, C: Above it, D: Behind it", "A"),
    ("Attribute (Meas.)", "How far is the red block from the blue block? Options: A: 0.5 m, B: 1 m, C: 2 m, D: 4 m", "C"),
    ("Motion--Obj.", "Between the two images, which way did the green block move? "
     "Options: A: Up, B: Down, C: Left, D: Right", "D"),
]


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth colour texture with a few blocks: enough structure for motion to show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([127 + 100 * np.sin(x / (9 + 4 * c) + y / (13 + 3 * c) + rng.uniform(0, 6)) for c in range(3)], -1)
    for _ in range(12):
        cy, cx, s = rng.integers(0, h - 8), rng.integers(0, w - 8), rng.integers(4, 10)
        img[cy:cy + s, cx:cx + s] = rng.integers(0, 256, 3)
    return img.clip(0, 255).astype(np.uint8)


def camera_clip(motion: str, frames: int = 16, size: tuple[int, int] = (48, 64), seed: int = 0) -> np.ndarray:
    """``(frames, H, W, 3)`` uint8: a window over a larger texture that pans, tilts or stays.
    Panning left shows the scene sliding right (the window moves left)."""
    h, w = size
    step = 2
    margin = frames * step
    big = _texture(h + 2 * margin, w + 2 * margin, seed)
    out = []
    for t in range(frames):
        dy = dx = 0
        if motion == "pan_left":
            dx = -t * step
        elif motion == "pan_right":
            dx = t * step
        elif motion == "tilt_up":
            dy = -t * step
        elif motion != "static":
            raise ValueError(f"unknown motion {motion!r}")
        y0, x0 = margin + dy, margin + dx
        out.append(big[y0:y0 + h, x0:x0 + w])
    return np.stack(out)


def write_video(path: Path, frames: np.ndarray, fps: int = 8, codec: str = "libx264") -> Path:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames as an mp4 (H.264 by default) with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _png(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def write_vsibench(out: str | Path, seed: int = 0) -> Path:
    """VSI-Bench's layout: ``test-00000-of-00001.parquet`` and ``<dataset>/<scene_name>.mp4``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scenes = sorted({(q[1], q[2]) for q in VSI_QUESTIONS})
    for k, (dataset, scene) in enumerate(scenes):
        write_video(out / dataset / f"{scene}.mp4", camera_clip("pan_right" if k % 2 else "pan_left", seed=seed + k))
    schema = pa.schema([("id", pa.int64()), ("dataset", pa.string()), ("scene_name", pa.string()),
                        ("question_type", pa.string()), ("question", pa.string()), ("ground_truth", pa.string()),
                        ("options", pa.list_(pa.string()))])
    cols = list(zip(*VSI_QUESTIONS))
    table = pa.table([pa.array(c, t.type) for c, t in zip(cols, schema)], schema=schema)
    pq.write_table(table, out / "test-00000-of-00001.parquet")
    return out


def write_mmsi(out: str | Path, seed: int = 0) -> Path:
    """MMSI-Bench's layout: ``MMSI_Bench.parquet`` with PNG bytes inline (two images a question)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (qtype, question, answer) in enumerate(MMSI_QUESTIONS):
        clip = camera_clip("pan_right", frames=5, seed=seed + 10 + i)
        rows.append({"id": i, "images": [_png(clip[0]), _png(clip[-1])], "question_type": qtype, "question": question,
                     "answer": answer, "thought": f"The fixture's answer is {answer}.",
                     "mean_normed_duration_seconds": 30.0 + i, "difficulty": "easy"})
    schema = pa.schema([("id", pa.int64()), ("images", pa.list_(pa.binary())), ("question_type", pa.string()),
                        ("question", pa.string()), ("answer", pa.string()), ("thought", pa.string()),
                        ("mean_normed_duration_seconds", pa.float64()), ("difficulty", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / "MMSI_Bench.parquet")
    return out


def write_camerabench(out: str | Path, seed: int = 0) -> Path:
    """CameraBench's VQA layout: ``test.jsonl`` (Index, Video, Question, Question_Type) and
    ``videos/<clip>.mp4``; truth from each Index's place in its group of four."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for g, (motions, questions) in enumerate(CAMERA_GROUPS):
        clips = []
        for v, motion in enumerate(motions):
            name = f"videos/clip_{g}_{v}_{motion}.mp4"
            write_video(out / name, camera_clip(motion, seed=seed + 20 + 2 * g + v))
            clips.append(name)
        for k, (q, v) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            lines.append({"Index": 4 * g + k, "Video": clips[v], "Question": questions[q], "Question_Type": "yes_no"})
    (out / "test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return out


WRITERS = {"vsibench": write_vsibench, "mmsi": write_mmsi, "camerabench": write_camerabench}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m remot_train.benchmarks.fixtures", description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=[*WRITERS, "all"])
    p.add_argument("out", help="the folder to write (created; existing files are replaced)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    kinds = list(WRITERS) if args.kind == "all" else [args.kind]
    for kind in kinds:
        folder = Path(args.out) / kind if args.kind == "all" else Path(args.out)
        WRITERS[kind](folder, seed=args.seed)
        print(f"{kind}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
