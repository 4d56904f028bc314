"""Image plumbing shared by the teachers: the question's images from a sample, crops, data URLs.

A sample is a question row merged with its triplet row. Its ``image_roles`` column names the
triplet image role of each ``<image>`` placeholder in order, so image ``k`` (1-based, as the
prompt says "Image k") is ``sample[image_roles[k-1] + "_image"]``. That image may be a
``{bytes, path}`` struct (the release's layout), a PIL image (Hugging Face ``datasets``),
raw JPEG/PNG bytes or an ``(H, W, 3)`` RGB uint8 array.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import cv2
import numpy as np
from PIL import Image


def to_pil(image: Any) -> Image.Image:
    """An RGB PIL image from any of the accepted image forms."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, dict):
        if image.get("bytes") is not None:
            image = image["bytes"]
        elif image.get("path"):
            return Image.open(image["path"]).convert("RGB")
        else:
            raise ValueError("image struct has neither bytes nor path")
    if isinstance(image, (bytes, bytearray, memoryview)):
        return Image.open(io.BytesIO(bytes(image))).convert("RGB")
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.stack([image] * 3, -1)
        return Image.fromarray(np.ascontiguousarray(image.astype(np.uint8)), "RGB")
    raise TypeError(f"cannot read an image from {type(image).__name__}")


def image_roles(sample: dict) -> list[str]:
    roles = sample.get("image_roles")
    if roles is None:
        raise KeyError("sample has no image_roles column (merge the question row with its triplet row)")
    return [str(r) for r in list(roles)]


def sample_images(sample: dict) -> list[Image.Image]:
    """The question's images in prompt order (image 1 first), as RGB PIL images."""
    out = []
    for role in image_roles(sample):
        key = f"{role}_image"
        if key not in sample:
            raise KeyError(f"sample lacks {key!r}, the image of role {role!r}")
        out.append(to_pil(sample[key]))
    return out


def to_rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def box_px(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A normalised box as integer pixel bounds ``(x0, y0, x1, y1)``, at least one pixel wide.

    >>> box_px((0.25, 0.5, 0.75, 1.0), 64, 32)
    (16, 16, 48, 32)
    """
    x0, y0, x1, y1 = box
    px0 = min(width - 1, max(0, int(np.floor(x0 * width))))
    py0 = min(height - 1, max(0, int(np.floor(y0 * height))))
    px1 = max(px0 + 1, min(width, int(np.ceil(x1 * width))))
    py1 = max(py0 + 1, min(height, int(np.ceil(y1 * height))))
    return px0, py0, px1, py1


def zoom(image: Image.Image, box: tuple[float, float, float, float], size: int = 128) -> Image.Image:
    """The box's content, resized (OpenCV, cubic up / area down) so its longer side is ``size``."""
    rgb = to_rgb_array(image)
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box_px(box, w, h)
    crop = rgb[y0:y1, x0:x1]
    ch, cw = crop.shape[:2]
    scale = size / max(ch, cw)
    new = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    return Image.fromarray(cv2.resize(crop, new, interpolation=interp))


def crops_for(regions: list, images: list[Image.Image], size: int = 128) -> list[Image.Image]:
    """One zoom per region ``(image_index, x0, y0, x1, y1)`` (1-based image index)."""
    return [zoom(images[r[0] - 1], tuple(r[1:]), size) for r in regions]


def data_url(image: Image.Image, quality: int = 90) -> str:
    """A ``data:image/jpeg;base64,...`` URL (what OpenAI-compatible servers accept)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
