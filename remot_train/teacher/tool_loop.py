"""The tool loop shared by the model-backed teachers (a local VLM, an HTTP endpoint).

The teacher model sees the question (with its images) and the student's failed rollouts; it sees
the correct answer only when asked (``show_answer=True``, a recipe's ``teacher_options:
{sees_answer: true}``), and the leak guard reads every patch either way. Each reply
must hold one JSON object, either a tool call::

    {"tool": "get_frame", "args": {"i": 2}}
    {"tool": "zoom_region", "args": {"i": 2, "x0": 0.1, "y0": 0.2, "x1": 0.5, "y1": 0.6}}

which is executed and fed back as the next user turn (an image and a line of text), or the final
patch in the :class:`~remot_train.teacher.patch.EvidencePatch` JSON schema. OpenAI-style
``{"name": ..., "arguments": {...}}`` calls are accepted too. A reply with no JSON object, a
patch that breaks the schema, or no patch after ``max_turns`` replies is a fallback (no patch;
counted in ``stats["fallbacks"]``). A tool call with bad arguments is answered with the error,
so the model can correct itself; it uses up a turn.

Messages are kept in a neutral form, ``{"role", "content": [parts]}`` with parts
``{"type": "text", "text": ...}`` and ``{"type": "image", "image": PIL}``; each backend converts
them (chat template + processor, or OpenAI ``image_url`` data URLs).
"""

from __future__ import annotations

import json
import re
from typing import Any

from PIL import Image

from remot_train.teacher.base import BaseTeacher
from remot_train.teacher.images import sample_images, zoom
from remot_train.teacher.patch import ERROR_CLASSES, EvidencePatch, PatchSchemaError, _check_region

SYSTEM_PROMPT = """You are a teacher for a student model that answers questions about motion between images.
The student answered the question below wrongly. Give the student evidence, never the answer.
Rules: do not state the answer, its option letter, the correct option's text, the direction or state word of the correct answer, or a magnitude; never write "the answer is". Point at images and at a region, and name the visual cue to compare.
You may call one tool per reply by replying with only a JSON object:
{"tool": "get_frame", "args": {"i": <image number>}} returns image i.
{"tool": "zoom_region", "args": {"i": <image number>, "x0": <0..1>, "y0": <0..1>, "x1": <0..1>, "y1": <0..1>}} returns a zoom of that box (fractions of the width and height; x to the right, y down).
When ready, reply with only the final JSON patch:
{"error_class": "temporal" | "spatial" | "misconception", "frames": [<image numbers>], "timestamps_s": null, "regions": [[<image number>, x0, y0, x1, y1]], "text": "<one or two sentences: where to look and what to compare>"}
error_class: temporal = the student mixed up the order of the images or the pairs; spatial = it judged a direction wrongly; misconception = anything else."""

TOOLS = ("get_frame", "zoom_region")


def extract_json(reply: str) -> dict | None:
    """The JSON object a reply stands for: after the last ``</think>`` if any, the last object
    that looks like a tool call or a patch, else the last object; None when there is none.

    >>> extract_json('<think>{"x": 1}</think> Sure: {"tool": "get_frame", "args": {"i": 1}}')
    {'tool': 'get_frame', 'args': {'i': 1}}
    >>> extract_json("no json here") is None
    True
    """
    text = reply.rsplit("</think>", 1)[-1] if "</think>" in reply else reply
    decoder = json.JSONDecoder()
    found: list[dict] = []
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    for obj in reversed(found):
        if "tool" in obj or "name" in obj or "error_class" in obj:
            return obj
    return found[-1] if found else None


def tool_call(obj: dict) -> tuple[str, dict] | None:
    """``(name, args)`` when ``obj`` is a tool call, else None."""
    if "tool" in obj:
        name = obj["tool"]
    elif "name" in obj and "error_class" not in obj:
        name = obj["name"]
    else:
        return None
    args = obj.get("args", obj.get("arguments", {k: v for k, v in obj.items() if k not in ("tool", "name")}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            args = {"_raw": args}
    return str(name), args if isinstance(args, dict) else {"_raw": args}


def run_tool(name: str, args: dict, images: list[Image.Image], size: int = 256) -> list[dict]:
    """Execute a tool for the model; returns the content parts of the reply (errors as text)."""
    try:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; tools: {', '.join(TOOLS)}")
        i = args.get("i", args.get("image"))
        if isinstance(i, float) and i.is_integer():
            i = int(i)
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= len(images):
            raise ValueError(f"i must be an image number 1..{len(images)}, got {i!r}")
        if name == "get_frame":
            image = images[i - 1].copy()
            image.thumbnail((size, size))
            return [{"type": "text", "text": f"Image {i}:"}, {"type": "image", "image": image}]
        box = tuple(args.get(k) for k in ("x0", "y0", "x1", "y1"))
        _check_region((i, *box), 0, len(images))
        return [{"type": "text", "text": f"Zoom of image {i}, box {box}:"},
                {"type": "image", "image": zoom(images[i - 1], box, size)}]
    except (ValueError, TypeError, PatchSchemaError) as exc:
        return [{"type": "text", "text": f"Tool error: {exc}"}]


def _prompt_parts(prompt: str, images: list[Image.Image]) -> list[dict]:
    """The question prompt with each ``<image>`` placeholder replaced by its image."""
    pieces = prompt.split("<image>")
    parts: list[dict] = []
    for k, piece in enumerate(pieces):
        if piece:
            parts.append({"type": "text", "text": piece})
        if k < len(pieces) - 1 and k < len(images):
            parts.append({"type": "image", "image": images[k]})
    for image in images[len(pieces) - 1:]:  # more images than placeholders: append them
        parts.append({"type": "image", "image": image})
    return parts


def first_messages(sample: dict, failed_rollouts: list[str], images: list[Image.Image], show_answer: bool,
                   send_images: bool, max_rollouts: int = 4, max_rollout_chars: int = 800) -> list[dict]:
    prompt = str(sample.get("prompt") or "")
    if send_images:
        question = _prompt_parts(prompt, images)
    else:
        question = [{"type": "text", "text": prompt.replace("<image>", "[image: call get_frame]")}]
    lines = [f"\n\nThe question has {len(images)} images (image 1 to image {len(images)})."]
    if show_answer and sample.get("answer") is not None:
        lines.append(f"Correct answer (for you only; never reveal it): {sample['answer']}")
    if failed_rollouts:
        lines.append("The student's failed answers:")
        for k, r in enumerate(failed_rollouts[:max_rollouts], start=1):
            r = re.sub(r"\s+", " ", str(r)).strip()
            lines.append(f"{k}) {r[:max_rollout_chars]}")
    lines.append("Reply with one JSON object: a tool call or the final patch.")
    user = question + [{"type": "text", "text": "\n".join(lines)}]
    return [{"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
            {"role": "user", "content": user}]


class ToolLoopTeacher(BaseTeacher):
    """A teacher backed by a chat model that may call tools (module doc). Subclasses implement
    :meth:`complete`, one model reply for a list of neutral messages."""

    def __init__(self, max_turns: int = 4, show_answer: bool = False, send_images: bool = True,
                 tool_image_size: int = 256, crop_size: int = 128, with_crops: bool = True) -> None:
        super().__init__(crop_size=crop_size, with_crops=with_crops)
        self.max_turns = max_turns
        self.show_answer = show_answer
        self.send_images = send_images
        self.tool_image_size = tool_image_size
        self.tool_calls = 0
        self.transcript: list[dict] = []  # the last call's messages and replies (for inspection)

    def complete(self, messages: list[dict]) -> str:
        raise NotImplementedError

    def propose(self, sample: dict, failed_rollouts: list[str]) -> EvidencePatch:
        images = sample_images(sample)
        messages = first_messages(sample, failed_rollouts, images, self.show_answer, self.send_images)
        self.transcript = messages
        for _turn in range(self.max_turns):
            reply = self.complete(messages)
            messages.append({"role": "assistant", "content": [{"type": "text", "text": reply}]})
            obj = extract_json(reply)
            if obj is None:
                raise PatchSchemaError(f"the teacher's reply holds no JSON object: {reply[:120]!r}")
            call = tool_call(obj)
            if call is None:
                if obj.get("error_class") not in ERROR_CLASSES and "text" not in obj:
                    raise PatchSchemaError(f"the teacher's reply is neither a tool call nor a patch: {obj!r:.120}")
                return EvidencePatch.from_json(obj, n_images=len(images))
            self.tool_calls += 1
            messages.append({"role": "user", "content": run_tool(*call, images, self.tool_image_size)})
        raise PatchSchemaError(f"no patch after {self.max_turns} turns")


def neutral_to_openai(messages: list[dict], image_url) -> list[dict]:
    """Neutral messages -> OpenAI chat messages (``image_url(PIL) -> str`` makes the URLs)."""
    out = []
    for m in messages:
        parts: list[Any] = []
        for p in m["content"]:
            if p["type"] == "image":
                parts.append({"type": "image_url", "image_url": {"url": image_url(p["image"])}})
            else:
                parts.append({"type": "text", "text": p["text"]})
        if m["role"] in ("system", "assistant") and all(p["type"] == "text" for p in parts):
            out.append({"role": m["role"], "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": m["role"], "content": parts})
    return out
