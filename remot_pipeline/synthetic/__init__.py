"""A deterministic procedural "synthetic world" written in real on-disk formats.

Three domains, rendered with OpenCV (textured boxes, perspective projection, painter's order) and
encoded as H.264 mp4 with PyAV:

- ``navigation/nav_XXX/``: TUM RGB-D style (``groundtruth.txt``, ``rgb.txt``, ``rgb.mp4``, ``camera.json``).
- ``manipulation/synthetic_arm/``: one LeRobot v3.0 dataset with all episodes.
- ``simulation/sim_XXX/``: ``log.jsonl`` (remot-sim-log v1) + ``video.mp4``.

World frames are right-handed with z up, camera axes are OpenCV's (x right, y down, z forward),
lengths are metres and intrinsics are pixels (fx = fy = 0.8 * width, cx = W/2, cy = H/2).
Run ``python -m remot_pipeline.synthetic OUT_DIR`` to generate the default world and time it.
"""

from .world import DOMAIN_WRITERS, WorldConfig, generate_world

__all__ = ["DOMAIN_WRITERS", "WorldConfig", "generate_world"]
