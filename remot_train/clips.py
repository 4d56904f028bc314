"""Clips: a question's pairs shown to the model as short videos, not as separate images.

``views: clips`` (a recipe key; default ``frames``) changes how a question's images reach the
model, not what it asks:

* **The clip.** Each pair the question shows (pair A: image 1 -> image 2; pair B: image 3 ->
  image 4, or image 1 -> image 3 when both pairs start at the anchor) becomes one clip: the pair's
  first frame, the frames between (a release built with ``clip_frames: k`` > 2 stores, per pair,
  the ``k - 2`` source frames nearest to evenly spaced times between the two:
  :func:`remot_pipeline.core.clips.between_frames`), and its last frame, in time order. The
  release stores every pair's frames as the pair plays (a reversed negative's frames are stored
  reversed, a mirrored negative's frames are each mirrored: :mod:`remot_pipeline.core.negatives`,
  :func:`remot_pipeline.core.triplets.finish_triplets`), so nothing is re-decoded at training
  time. A run may show fewer frames than the release holds (``clip_frames`` in the recipe: the
  first, the last and evenly spaced ones between), never more.
* **Temporal patches.** Qwen-VL's vision tower cuts its input into patches ``temporal_patch_size``
  (2) frames deep. A still image is repeated across those 2 frames; a 2-frame clip puts its two
  frames there, so the first layer already sees the motion. A ``k``-frame clip fills
  ``ceil(k / 2)`` temporal patches (an odd clip repeats its last frame, as Qwen-VL's video
  processor pads), exactly the patches the vision tower makes of a ``k``-frame video: grid
  ``(ceil(k / 2), h, w)``. The clip still enters as an *image* (one ``<|image_pad|>`` run of
  ``t * h * w / 4`` tokens, 3-D rotary positions with ``t`` temporal steps:
  ``Qwen3VLModel.get_rope_index``), so trl's image plumbing (SFT collator, GRPO generation, the
  loss forward passes, FFR's repairs) carries it unchanged. Not built: Qwen3-VL's *video* input,
  which also interleaves a timestamp text before each temporal patch; a pretrained checkpoint
  saw videos that way, a clip sent as an image has no timestamps (trl's GRPOTrainer passes no
  video, trl issue 5373).
  In the rows, a clip is one PIL image: its frames stacked **vertically** (:func:`clip_image`);
  :class:`ClipImageProcessor` (installed by :func:`processor_for`, which takes the run's ``k``)
  splits every image it is given back into its frames and packs them into temporal patches.
  Under ``views: clips`` every image is a clip; a still (an FFR teacher's crop) travels as
  :func:`still_clip` (the image ``k`` times; for ``k`` 2 exactly how the stock processor encodes
  a still).
* **The same questions.** The prompt is the release's question, re-worded by literal phrase
  replacements (:data:`PROMPT_REPLACEMENTS`): "Clip A (motion m12): <image>" in place of
  "Image 1: <image> Image 2: <image>", "in which clip" for "in which pair", "over the clip" for
  "between image 1 and image 2". The facts, the answer, the options' letters, the parse rule,
  the consistency group and the relations (``m12``, ``m34``, ``m13``: the clip lines name their
  motion) are the release's own, so scoring, the logic reward, balance and the shortcut audit
  apply unchanged. The same replacements, as nested SQL ``replace`` calls
  (:func:`remot_pipeline.core.clips.sql_replace_chain`), give the catalog's ``clip_questions`` view.
"""

from __future__ import annotations

import copy
import io
from typing import Any

from remot_pipeline.core.clips import (  # noqa: F401  (the wording, re-exported)
    OPTION_NAMES,
    PROMPT_REPLACEMENTS,
    RATIONALE_REPLACEMENTS,
    DEFAULT_CLIP_FRAMES,
    VIEWS,
    ClipError,
    check_clip_frames,
    check_views,
    clip_groups,
    clip_options,
    clip_prompt,
    clip_rationale,
    clip_roles,
)

#: Frames per clip by default: the pair's two, one temporal patch of Qwen-VL's vision tower.
CLIP_FRAMES = DEFAULT_CLIP_FRAMES


# --- images -----------------------------------------------------------------------------------------
def clip_image(frames: list) -> Any:
    """One clip as one PIL image: the frames (PIL, at least 2) stacked vertically in time order,
    each resized to the first frame's size."""
    from PIL import Image

    if len(frames) < 2:
        raise ClipError(f"a clip has at least 2 frames, got {len(frames)}")
    first = frames[0].convert("RGB")
    w, h = first.size
    strip = Image.new("RGB", (w, h * len(frames)))
    for i, f in enumerate(frames):
        f = f.convert("RGB")
        strip.paste(f if f.size == (w, h) else f.resize((w, h), Image.BILINEAR), (0, i * h))
    return strip


def still_clip(image, k: int = CLIP_FRAMES) -> Any:
    """A still image as a ``k``-frame clip: the image repeated (for ``k`` 2, what the stock
    processor does with a still)."""
    return clip_image([image] * check_clip_frames(k))


def subsample(frames: list, k: int) -> list:
    """``k`` of a clip's frames: the first, the last and evenly spaced ones between (rounded).

    >>> subsample(list("abcdefg"), 4), subsample(list("abcd"), 2), subsample(list("ab"), 2)
    (['a', 'c', 'e', 'g'], ['a', 'd'], ['a', 'b'])
    """
    n = len(frames)
    if check_clip_frames(k) > n:
        raise ClipError(f"a run asked for {k}-frame clips but the release's clips hold {n} frames: rebuild the "
                        f"release with remot_config clip_frames: {k} (or ask for clip_frames <= {n})")
    return [frames[round(i * (n - 1) / (k - 1))] for i in range(k)]


def frames_of(strip, k: int = CLIP_FRAMES) -> list:
    """The frames of a clip image (inverse of :func:`clip_image`)."""
    w, h = strip.size
    if h % k:
        raise ClipError(f"a clip image of height {h} does not hold {k} frames of equal height")
    fh = h // k
    return [strip.crop((0, i * fh, w, (i + 1) * fh)) for i in range(k)]


def png_struct(image) -> dict:
    """A PIL image as the release's ``{bytes, path}`` image struct (PNG: no second JPEG loss)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


# --- rows --------------------------------------------------------------------------------------------
def clip_row(row: dict, image_roles, between: dict | None = None, clip_frames: int | None = None) -> dict:
    """A data-adapter row (frames) as its clip row: the prompt re-worded, ``images`` one clip per
    pair, ``options`` and the SFT completion's rationale re-worded; everything scored is unchanged.
    ``between``: ``{"positive": [...], "negative": [...]}``, each pair's frames between its two
    (decoded; the triplet's ``*_between_images``); a pair ending at the positive plays the
    positive's, one ending at the negative the negative's. ``clip_frames``: frames per clip (default:
    all the release holds; fewer are chosen by :func:`subsample`). Adds ``views`` ("clips"),
    ``clip_frames`` and ``image_roles`` (the frames' roles, so that FFR's teacher can find them:
    :func:`sample_frames`)."""
    out = dict(row)
    prompt = row["prompt"]
    text = "".join(p["text"] if p.get("type") == "text" else "<image>" for p in prompt[0]["content"])
    from remot_train.data import prompt_messages

    out["prompt"] = prompt_messages(clip_prompt(text))
    images = list(row.get("images") or [])
    lengths = set()
    if images:
        roles, clips_ = list(image_roles), []
        for g in clip_groups(len(images)):
            inner = list((between or {}).get(roles[g[-1]], None) or [])
            frames = [images[g[0]], *inner, images[g[-1]]]
            frames = subsample(frames, clip_frames) if clip_frames else frames
            lengths.add(len(frames))
            clips_.append(clip_image(frames))
        out["images"] = clips_
    if len(lengths) > 1:
        raise ClipError(f"question {row.get('question_id')!r}: its clips hold {sorted(lengths)} frames; a release's "
                        "clips all hold clip_frames frames")
    out["options"] = clip_options(row.get("options"))
    if "completion" in row:
        done = row["completion"][0]["content"]
        out["completion"] = [{**row["completion"][0], "content": clip_rationale(done)}]
    out["views"] = "clips"
    out["clip_frames"] = lengths.pop() if lengths else (clip_frames or CLIP_FRAMES)
    out["image_roles"] = list(image_roles)
    return out


def clip_frames_of(rows) -> int:
    """The frames per clip of a run's clip rows (:func:`clip_row`; a ``datasets.Dataset`` or a
    list); all must agree. Rows without the key (older callers) hold 2-frame clips."""
    if hasattr(rows, "column_names"):
        found = set(rows["clip_frames"]) if "clip_frames" in rows.column_names else set()
    else:
        found = {r.get("clip_frames", CLIP_FRAMES) for r in rows}
    if len(found) > 1:
        raise ClipError(f"the rows mix clips of {sorted(found)} frames; one run shows one clip length")
    return found.pop() if found else CLIP_FRAMES


def sample_frames(row: dict) -> dict:
    """For FFR's default teacher sample: a clip row's frames back under their roles
    (``<role>_image``), recovered from its clips, with ``images`` the question's frames."""
    roles = list(row["image_roles"])
    frames: list = [None] * len(roles)
    k = row.get("clip_frames") or CLIP_FRAMES
    for clip, idx in zip(row.get("images") or [], clip_groups(len(roles))):
        played = frames_of(clip, k)
        for frame, i in zip((played[0], played[-1]), idx):
            frames[i] = frames[i] or frame
    sample = {**row, "images": frames}
    for role, frame in zip(roles, frames):
        sample[f"{role}_image"] = frame
    return sample


def observation_as_clips(parts: list[dict], k: int = CLIP_FRAMES) -> list[dict]:
    """An FFR observation's image parts (the teacher's crops, stills) as still ``k``-frame clips."""
    return [{**p, "image": still_clip(p["image"], k)} if p.get("type") == "image" and "image" in p else p
            for p in parts]


# --- the processor -------------------------------------------------------------------------------------
def _clip_class(base: type) -> type:
    """A subclass of a Qwen-VL PIL image processor whose every input image is a clip (frames
    stacked vertically, :func:`clip_image`) packed into one temporal patch: grid ``(1, h, w)``."""
    import numpy as np
    from transformers.feature_extraction_utils import BatchFeature

    def _preprocess(self, images, do_resize, size, resample, do_rescale, rescale_factor, do_normalize, image_mean,
                    image_std, patch_size, temporal_patch_size, merge_size, return_tensors, **kwargs):
        k = self.clip_frames
        all_patches, all_grids = [], []
        for image in images:
            c, h, w = image.shape
            if h % k:
                raise ClipError(f"an image of height {h} is not a {k}-frame clip (views: clips shows every image "
                                "as a clip; wrap a still with remot_train.clips.still_clip)")
            frames = []
            for f in np.split(np.asarray(image), k, axis=1):
                if do_resize:
                    f = self.resize(f, size=size, resample=resample, factor=patch_size * merge_size)
                if do_rescale:
                    f = self.rescale(f, rescale_factor)
                if do_normalize:
                    f = self.normalize(f, image_mean, image_std)
                frames.append(np.asarray(f, dtype=np.float32))
            frames += [frames[-1]] * (-k % temporal_patch_size)  # an odd clip: its last frame repeated
            clip = np.stack(frames)  # (T, C, H, W)
            t, c, fh, fw = clip.shape
            gt, gh, gw = t // temporal_patch_size, fh // patch_size, fw // patch_size
            p = clip.reshape(gt, temporal_patch_size, c, gh // merge_size, merge_size, patch_size,
                             gw // merge_size, merge_size, patch_size)
            p = p.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)  # (gt, gh/m, gw/m, mh, mw, C, T, ph, pw): the still layout
            all_patches.append(p.reshape(gt * gh * gw, c * temporal_patch_size * patch_size * patch_size))
            all_grids.append([gt, gh, gw])
        return BatchFeature(data={"pixel_values": np.concatenate(all_patches, axis=0),
                                  "image_grid_thw": np.array(all_grids, dtype=np.int64)}, tensor_type=return_tensors)

    def to_dict(self):  # saved checkpoints keep the stock processor: views are chosen per run
        out = base.to_dict(self)
        out.pop("clip_frames", None)
        out.pop("_stock_type", None)
        out["image_processor_type"] = self._stock_type
        return out

    name = "Clip" + base.__name__
    return type(name, (base,), {"_preprocess": _preprocess, "to_dict": to_dict, "__module__": __name__,
                                "__qualname__": name})


_CLASSES: dict[type, type] = {}


def clip_processor(processor, frames: int = CLIP_FRAMES):
    """A shallow copy of a Qwen-VL processor whose image processor reads every image as a clip
    (module doc). The tokenizer is shared; saving it writes the stock processor."""
    ip = processor.image_processor
    if getattr(ip, "clip_frames", None) == frames:
        return processor
    base = type(ip).__mro__[1] if hasattr(ip, "clip_frames") else type(ip)
    if not hasattr(base, "_preprocess"):
        raise ClipError(f"{type(ip).__name__} has no _preprocess to pack clips with; use a PIL Qwen-VL image processor")
    cls = _CLASSES.setdefault(base, _clip_class(base))
    stock_type = base.to_dict(ip)["image_processor_type"]
    new_ip = copy.copy(ip)
    new_ip.__class__ = cls
    new_ip.clip_frames = frames
    new_ip._stock_type = stock_type
    out = copy.copy(processor)
    out.image_processor = new_ip
    return out


def processor_for(processor, views: str = "frames", clip_frames: int = CLIP_FRAMES):
    """The processor a run with ``views`` (and, for clips, ``clip_frames`` per clip) feeds the
    model through."""
    return clip_processor(processor, check_clip_frames(clip_frames)) if check_views(views) == "clips" else processor
