"""The evidence patch: what a teacher may tell a student that failed a question.

A patch points at evidence and never states the answer (``leak.check_leak`` enforces it). It
holds:

* ``error_class``: the teacher's diagnosis of the failed rollouts, ``temporal`` (the student
  read the images in the wrong order, or compared the wrong pair), ``spatial`` (it reasoned
  about the direction and got it wrong) or ``misconception`` (anything else: it did not reason
  about the motion at all, or about the wrong thing);
* ``frames``: the images to look at, **1-based** indices into the question's image list, as the
  prompt names them ("Image 1");
* ``timestamps_s``: optional, one per frame, seconds since the first image of that image's pair
  (display time, never the episode's raw time: raw times would reveal a time-reversed negative);
* ``regions``: normalised boxes ``(image_index, x0, y0, x1, y1)`` with ``0 <= x0 < x1 <= 1`` and
  ``0 <= y0 < y1 <= 1`` (x right, y down), image_index 1-based;
* ``crops``: optional zooms, PIL images, one per region in order (never serialised: they are
  recomputed from the regions and the question's images);
* ``text``: short guidance, where to look and what cue to compare.

The JSON form (:meth:`EvidencePatch.to_json`) is the schema teachers that are models must emit::

    {"error_class": "spatial", "frames": [1, 2], "timestamps_s": [0.0, 1.5],
     "regions": [[1, 0.1, 0.2, 0.5, 0.6], [2, 0.1, 0.2, 0.5, 0.6]],
     "text": "Compare the horizontal position of the textured edge in the boxed region."}

:meth:`EvidencePatch.from_json` is strict: unknown keys, wrong types, boxes outside the unit
square, image indices outside the question's images all raise :class:`PatchSchemaError`, whose
message names the offending field. A region may also be given as an object
``{"image": 1, "x0": ..., "y0": ..., "x1": ..., "y1": ...}`` (models often write that).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

ERROR_CLASSES = ("temporal", "spatial", "misconception")
MAX_TEXT_CHARS = 1000
MAX_FRAMES = 16
MAX_REGIONS = 16
_KEYS = {"error_class", "frames", "timestamps_s", "regions", "text"}
_OPTIONAL_IGNORED = {"crops"}  # accepted and ignored: crops are images, recomputed from regions


class PatchSchemaError(ValueError):
    """A patch (or its JSON) does not follow the evidence-patch schema."""


Region = tuple[int, float, float, float, float]


@dataclass
class EvidencePatch:
    error_class: str
    frames: list[int]
    text: str
    timestamps_s: list[float] | None = None
    regions: list[Region] = field(default_factory=list)
    crops: list[Any] = field(default_factory=list)  # PIL images, one per region

    def __post_init__(self) -> None:
        self.frames = list(self.frames)
        self.regions = [tuple(r) for r in self.regions]  # type: ignore[misc]
        self.crops = list(self.crops or [])
        if self.timestamps_s is not None:
            self.timestamps_s = list(self.timestamps_s)
        self.validate()

    # --- validation ---------------------------------------------------------------------------
    def validate(self, n_images: int | None = None) -> EvidencePatch:
        """Check the schema (and, with ``n_images``, that every index names one of the question's
        images); raise :class:`PatchSchemaError` naming the field. Returns ``self``."""
        if self.error_class not in ERROR_CLASSES:
            raise PatchSchemaError(f"error_class must be one of {ERROR_CLASSES}, got {self.error_class!r}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise PatchSchemaError("text must be a non-empty string")
        if len(self.text) > MAX_TEXT_CHARS:
            raise PatchSchemaError(f"text has {len(self.text)} characters; at most {MAX_TEXT_CHARS}")
        if not self.frames:
            raise PatchSchemaError("frames must list at least one image index")
        if len(self.frames) > MAX_FRAMES:
            raise PatchSchemaError(f"frames has {len(self.frames)} entries; at most {MAX_FRAMES}")
        for k, i in enumerate(self.frames):
            _check_index(i, f"frames[{k}]", n_images)
        if len(set(self.frames)) != len(self.frames):
            raise PatchSchemaError(f"frames repeats an index: {self.frames}")
        if self.timestamps_s is not None:
            if len(self.timestamps_s) != len(self.frames):
                raise PatchSchemaError(
                    f"timestamps_s has {len(self.timestamps_s)} entries but frames has {len(self.frames)}; "
                    "give one time per frame or null")
            for k, t in enumerate(self.timestamps_s):
                if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
                    raise PatchSchemaError(f"timestamps_s[{k}] must be a finite number >= 0, got {t!r}")
        if len(self.regions) > MAX_REGIONS:
            raise PatchSchemaError(f"regions has {len(self.regions)} entries; at most {MAX_REGIONS}")
        for k, r in enumerate(self.regions):
            _check_region(r, k, n_images)
        if self.crops and len(self.crops) != len(self.regions):
            raise PatchSchemaError(f"crops has {len(self.crops)} images but regions has {len(self.regions)}; "
                                   "give one crop per region or none")
        return self

    # --- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "error_class": self.error_class,
            "frames": list(self.frames),
            "timestamps_s": None if self.timestamps_s is None else [float(t) for t in self.timestamps_s],
            "regions": [[int(r[0]), *(round(float(v), 4) for v in r[1:])] for r in self.regions],
            "text": self.text,
        }

    def to_json(self) -> str:
        """The patch as JSON (crops are not serialised)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, data: str | bytes | dict, n_images: int | None = None) -> EvidencePatch:
        """Parse and validate a patch from JSON text or an already-decoded dict.

        >>> p = EvidencePatch.from_json('{"error_class": "spatial", "frames": [1, 2], "text": "look at the box",'
        ...                             ' "regions": [{"image": 1, "x0": 0, "y0": 0, "x1": 0.5, "y1": 0.5}]}')
        >>> p.regions
        [(1, 0.0, 0.0, 0.5, 0.5)]
        >>> EvidencePatch.from_json('{"error_class": "spatial", "frames": [3], "text": "x"}', n_images=2)
        Traceback (most recent call last):
        ...
        remot_train.teacher.patch.PatchSchemaError: frames[0]: image index 3 outside 1..2
        """
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise PatchSchemaError(f"patch is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise PatchSchemaError(f"patch must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - _KEYS - _OPTIONAL_IGNORED
        if unknown:
            raise PatchSchemaError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
        missing = {"error_class", "frames", "text"} - set(data)
        if missing:
            raise PatchSchemaError(f"missing key(s) {sorted(missing)}")
        frames = data["frames"]
        if not isinstance(frames, list):
            raise PatchSchemaError(f"frames must be a list of image indices, got {type(frames).__name__}")
        regions_raw = data.get("regions") or []
        if not isinstance(regions_raw, list):
            raise PatchSchemaError(f"regions must be a list, got {type(regions_raw).__name__}")
        regions = [_parse_region(r, k) for k, r in enumerate(regions_raw)]
        ts = data.get("timestamps_s")
        if ts is not None and not isinstance(ts, list):
            raise PatchSchemaError(f"timestamps_s must be a list or null, got {type(ts).__name__}")
        if not isinstance(data["text"], str):
            raise PatchSchemaError(f"text must be a string, got {type(data['text']).__name__}")
        patch = cls(error_class=data["error_class"], frames=frames, text=data["text"], timestamps_s=ts, regions=regions)
        return patch.validate(n_images)

    # --- presentation -------------------------------------------------------------------------
    def header(self, coordinates: bool = True) -> str:
        """The structured part of the observation, as text (frames, times and, with
        ``coordinates``, the boxes' numbers)."""
        names = ", ".join(f"image {i}" for i in self.frames)
        lines = [f"Teacher evidence. Look again at {names}."]
        if self.timestamps_s is not None:
            times = ", ".join(f"image {i}: t={t:.2f} s" for i, t in zip(self.frames, self.timestamps_s))
            lines.append(f"Time since the first image of each pair: {times}.")
        if self.regions and coordinates:
            boxes = "; ".join(f"image {r[0]} ({r[1]:.2f}, {r[2]:.2f}, {r[3]:.2f}, {r[4]:.2f})" for r in self.regions)
            lines.append(f"Boxed regions (x0, y0, x1, y1 as fractions of the image width and height): {boxes}.")
        lines.append(self.text.strip())
        return "\n".join(lines)

    def as_observation(self, coordinates: bool = True) -> list[dict]:
        """The content parts to append to the student's prompt: the header text, then each crop
        as ``{"type": "image", "image": PIL}`` introduced by a line naming its region.
        ``coordinates=False`` leaves the boxes' numbers out (the crops still show them)."""
        parts: list[dict] = [{"type": "text", "text": self.header(coordinates)}]
        for k, (region, crop) in enumerate(zip(self.regions, self.crops), start=1):
            parts.append({"type": "text", "text": f"\nZoom {k}: the boxed region of image {region[0]}:"})
            parts.append({"type": "image", "image": crop})
        return parts

    def as_prompt_suffix(self, coordinates: bool = True) -> tuple[str, list]:
        """The observation for string prompts with ``<image>`` placeholders (as the questions'
        ``prompt`` column): ``(text, images)``, one placeholder per crop, in order."""
        text, images = [], []
        for part in self.as_observation(coordinates):
            if part["type"] == "text":
                text.append(part["text"])
            else:
                text.append(" <image>")
                images.append(part["image"])
        return "".join(text), images


def _check_index(i: Any, where: str, n_images: int | None) -> None:
    if isinstance(i, bool) or not isinstance(i, int):
        raise PatchSchemaError(f"{where}: image index must be an integer, got {i!r}")
    if i < 1:
        raise PatchSchemaError(f"{where}: image indices are 1-based, got {i}")
    if n_images is not None and i > n_images:
        raise PatchSchemaError(f"{where}: image index {i} outside 1..{n_images}")


def _check_region(r: Any, k: int, n_images: int | None) -> None:
    if not isinstance(r, tuple) or len(r) != 5:
        raise PatchSchemaError(f"regions[{k}] must be (image_index, x0, y0, x1, y1), got {r!r}")
    _check_index(r[0], f"regions[{k}]", n_images)
    coords = r[1:]
    for name, v in zip(("x0", "y0", "x1", "y1"), coords):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise PatchSchemaError(f"regions[{k}].{name} must be a number in [0, 1], got {v!r}")
    x0, y0, x1, y1 = coords
    if not (x0 < x1 and y0 < y1):
        raise PatchSchemaError(f"regions[{k}] must have x0 < x1 and y0 < y1, got {tuple(coords)}")


def _parse_region(r: Any, k: int) -> Region:
    if isinstance(r, dict):
        keys = {"image", "x0", "y0", "x1", "y1"}
        if set(r) != keys:
            raise PatchSchemaError(f"regions[{k}] as an object needs exactly the keys {sorted(keys)}, got {sorted(r)}")
        r = [r["image"], r["x0"], r["y0"], r["x1"], r["y1"]]
    if not isinstance(r, (list, tuple)) or len(r) != 5:
        raise PatchSchemaError(f"regions[{k}] must be [image_index, x0, y0, x1, y1], got {r!r}")
    i, *coords = r
    if isinstance(i, float) and i.is_integer():
        i = int(i)
    coords = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in coords]
    return (i, *coords)  # type: ignore[return-value]
