"""Procedural textures and a painter's-order renderer for textured boxes (OpenCV only).

Every object is a box made of six planar textured quads. A quad is drawn by warping its texture
with the plane->image homography ``K [u/tw, v/th, o]`` (camera-frame corner ``o`` and edges
``u``, ``v``) into the bounding box of its visible polygon only, then compositing through a
``fillConvexPoly`` mask of that polygon after clipping it against the near plane ``z > near``.
Images are BGR uint8 (OpenCV order); colours given as RGB are converted where textures are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

NEAR_M = 0.02
_SUBPIXEL_BITS = 4

# Per-face brightness so box edges read clearly: faces -x, +x, -y, +y, -z, +z.
_FACE_SHADE = (0.78, 0.92, 0.70, 0.86, 0.55, 1.0)
# An enclosing room is lit evenly: a darker floor and a brighter ceiling would make a camera that
# turns down (or up) visibly darker (brighter) on average, a blind cue to the direction (the
# shortcut audit's pixel statistics find it). Its faces' own textures differ anyway.
_ROOM_SHADE = (0.85,) * 6


def make_texture(
    rng: np.random.Generator,
    height_px: int,
    width_px: int,
    base_rgb: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Procedural BGR texture (H, W, 3) uint8 with blobs at several scales (good for optical flow).

    With ``base_rgb`` the texture keeps that hue (blobs are darker / lighter shades of it), so a
    coloured object stays recognisably its colour; without it the colours are random.
    """
    h, w = int(height_px), int(width_px)
    if base_rgb is None:
        base = rng.uniform(60, 200, size=3)
        spots = np.clip(base[None, :] + rng.uniform(-110, 110, size=(64, 3)), 0, 255)
    else:
        base = np.asarray(base_rgb[::-1], dtype=float) * 0.85 + 20.0
        spots = np.clip(base[None, :] * rng.uniform(0.45, 1.2, size=(64, 1)), 0, 255)
    # Value noise at two scales (structure for coarse pyramid levels), then blobs of many sizes.
    image = np.broadcast_to(base.astype(np.float32), (h, w, 3))
    channels = 1 if base_rgb is not None else 3  # tinted textures vary in brightness only
    for cell_px, amplitude in ((48, 70.0), (12, 35.0)):
        noise = rng.uniform(-amplitude, amplitude, size=(h // cell_px + 2, w // cell_px + 2, channels))
        image = image + cv2.resize(noise.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, -1)
    image = np.clip(image, 0, 255).astype(np.uint8)
    n_blobs = max(8, h * w // 300)
    centres = np.stack([rng.integers(0, w, n_blobs), rng.integers(0, h, n_blobs)], -1)
    radii = np.round(1.5 * np.exp(rng.uniform(0.0, 1.9, n_blobs))).astype(int)
    colours = spots[rng.integers(0, len(spots), n_blobs)]
    for (x, y), r, c in zip(centres.tolist(), radii.tolist(), colours.tolist()):
        cv2.circle(image, (x, y), r, c, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), 0.7)


def texture_for_size(
    rng: np.random.Generator, size_m: tuple[float, float], texels_per_m: float, base_rgb=None, max_px: int = 512
) -> np.ndarray:
    """Texture whose aspect ratio matches a face of ``size_m`` = (width, height) in metres."""
    w = int(np.clip(round(size_m[0] * texels_per_m), 16, max_px))
    h = int(np.clip(round(size_m[1] * texels_per_m), 16, max_px))
    return make_texture(rng, h, w, base_rgb)


def _box_faces(size_m: np.ndarray) -> np.ndarray:
    """Face corners (6, 4, 3) of a box centred at the origin, faces ordered -x,+x,-y,+y,-z,+z.

    Each face is [o, o+u, o+u+v, o+v]; on vertical faces v points down (texture rows go down).
    """
    hx, hy, hz = np.asarray(size_m, float) / 2.0
    ex, ey, ez = np.array([2 * hx, 0, 0]), np.array([0, 2 * hy, 0]), np.array([0, 0, 2 * hz])
    faces = []
    for axis, (u, v) in enumerate([(ey, -ez), (ex, -ez), (ex, ey)]):
        for sign in (-1.0, 1.0):
            centre = np.zeros(3)
            centre[axis] = sign * (hx, hy, hz)[axis]
            o = centre - u / 2 - v / 2
            faces.append([o, o + u, o + u + v, o + v])
    return np.asarray(faces)


@dataclass
class Solid:
    """A textured box in the scene.

    ``face_corners_obj_m`` (6, 4, 3): face corners in the object frame (box centred at origin).
    ``textures``: six BGR uint8 images, one per face. ``obj2world`` (4, 4) is updated per frame
    for moving objects. ``inside`` marks an enclosing shell (room) seen from within: no culling.
    """

    face_corners_obj_m: np.ndarray
    textures: tuple[np.ndarray, ...]
    obj2world: np.ndarray = field(default_factory=lambda: np.eye(4))
    inside: bool = False


def box_solid(size_m, texture, obj2world=None, inside: bool = False) -> Solid:
    """Box of full extents ``size_m`` (3,) in metres, centred on its frame's origin.

    ``texture``: one BGR image for all faces or a sequence of six (faces -x,+x,-y,+y,-z,+z);
    each face is shaded by a fixed factor so box edges stay visible (a room, ``inside``, evenly).
    """
    face_textures = [texture] * 6 if isinstance(texture, np.ndarray) else list(texture)
    shades = _ROOM_SHADE if inside else _FACE_SHADE
    textures = tuple(np.clip(t.astype(np.float32) * shade, 0, 255).astype(np.uint8) for t, shade in zip(face_textures, shades))
    return Solid(_box_faces(np.asarray(size_m, float)), textures, np.eye(4) if obj2world is None else obj2world, inside)


def _clip_near(polygon: np.ndarray, near_m: float) -> np.ndarray:
    """Sutherland-Hodgman clip of a convex camera-frame polygon (n, 3) to z >= near_m."""
    out = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        a_in, b_in = a[2] >= near_m, b[2] >= near_m
        if a_in:
            out.append(a)
        if a_in != b_in:
            out.append(a + (near_m - a[2]) / (b[2] - a[2]) * (b - a))
    return np.asarray(out)


def draw_quad(image: np.ndarray, corners_cam_m: np.ndarray, texture: np.ndarray, K: np.ndarray, near_m: float = NEAR_M) -> None:
    """Draw one textured planar quad (camera-frame corners (4, 3)) into ``image`` in place."""
    z = corners_cam_m[:, 2]
    if z.max() <= near_m:
        return
    polygon = corners_cam_m if z.min() >= near_m else _clip_near(corners_cam_m, near_m)
    if len(polygon) < 3:
        return
    pts = polygon[:, :2] / polygon[:, 2:3] * (K[0, 0], K[1, 1]) + (K[0, 2], K[1, 2])
    x, y = pts[:, 0], pts[:, 1]
    if abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) < 1.0:  # < 0.5 px^2: edge-on sliver
        return
    height, width = image.shape[:2]
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return
    # Plane -> image homography; texel (a, b) centre sits at o + (a+.5)/tw u + (b+.5)/th v.
    th, tw = texture.shape[:2]
    o, u, v = corners_cam_m[0], corners_cam_m[1] - corners_cam_m[0], corners_cam_m[3] - corners_cam_m[0]
    plane2cam = np.stack([u / tw, v / th, o + 0.5 * (u / tw + v / th)], axis=-1)
    homography = K @ plane2cam
    homography[0] -= x0 * homography[2]
    homography[1] -= y0 * homography[2]
    roi_size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(texture, homography, roi_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((roi_size[1], roi_size[0]), np.uint8)
    scale = float(1 << _SUBPIXEL_BITS)
    poly_px = np.round((pts - (x0, y0)) * scale)
    poly_px = np.clip(poly_px, -(2**26), 2**26).astype(np.int32)
    cv2.fillConvexPoly(mask, poly_px, 1, cv2.LINE_8, _SUBPIXEL_BITS)
    np.copyto(image[y0:y1, x0:x1], warped, where=mask.view(bool)[..., None])


def render(
    world2cam: np.ndarray,
    K: np.ndarray,
    width_px: int,
    height_px: int,
    background: list[Solid],
    objects: list[Solid],
    near_m: float = NEAR_M,
) -> np.ndarray:
    """Render a BGR frame (H, W, 3) uint8.

    ``background`` solids are drawn first, in the given order (room shell, then e.g. a table);
    ``objects`` are then drawn far-to-near by the distance of their centre from the camera
    (painter's order). Non-shell boxes draw only faces turned towards the camera.
    """
    image = np.zeros((height_px, width_px, 3), np.uint8)
    cam_from_world_rot, cam_from_world_t = world2cam[:3, :3], world2cam[:3, 3]

    def to_cam(solid: Solid) -> tuple[np.ndarray, np.ndarray]:
        obj2cam = world2cam @ solid.obj2world
        return solid.face_corners_obj_m @ obj2cam[:3, :3].T + obj2cam[:3, 3], obj2cam[:3, 3]

    def draw_solid(solid: Solid) -> None:
        corners_cam, centre_cam = to_cam(solid)
        face_centres = corners_cam.mean(axis=1)
        if solid.inside:
            visible = np.ones(6, bool)
        else:  # outward normal (face centre - box centre) must point at the camera (origin)
            visible = np.einsum("fi,fi->f", face_centres - centre_cam, -face_centres) > 1e-9
        for f in np.flatnonzero(visible):
            draw_quad(image, corners_cam[f], solid.textures[f], K, near_m)

    for solid in background:
        draw_solid(solid)
    centres_cam = np.array([s.obj2world[:3, 3] for s in objects]).reshape(-1, 3) @ cam_from_world_rot.T + cam_from_world_t
    for i in np.argsort(-np.linalg.norm(centres_cam, axis=1), kind="stable"):
        draw_solid(objects[i])
    return image
