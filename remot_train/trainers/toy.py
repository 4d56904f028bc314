"""Toy rows in the data adapter's row format, for smoke tests and the CPU demo.

The task: two views of a horizontal colour ramp; image 2 is image 1 shifted sideways. "True or
false: between image 1 and image 2, the camera turned to the left." A shift of the content to
the right means the camera turned left. (A model can solve this by comparing brightness, so it
shows that images flow through and a comparison is learned, not that motion is understood.)
"""

from __future__ import annotations

import json


#: The short scaffold the toy task was tuned with (the release's questions ask for the logic
#: reward's notation too: ``remot_pipeline.core.questions.SCAFFOLD``).
SCAFFOLD = "Think step by step inside <think> </think>, then give only the final answer inside <answer> </answer>."


def ramp_pair(seed: int, size: int = 64):
    """``(image1, image2, turned_left)``: a random-direction colour ramp and a copy shifted by
    10-30% of the width; ``turned_left`` is True when the content moved right."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width = size * 2
    x = np.linspace(0.0, 1.0, width)[None, :, None]
    lo, hi = rng.uniform(0, 80, 3), rng.uniform(150, 255, 3)
    if rng.random() < 0.5:
        x = 1.0 - x
    canvas = np.broadcast_to(lo + (hi - lo) * x, (size, width, 3)).astype("uint8")
    shift = int(rng.uniform(0.1, 0.3) * size)
    left = bool(rng.random() < 0.5)
    start = size // 2
    a = canvas[:, start : start + size]
    b = canvas[:, start - shift : start - shift + size] if left else canvas[:, start + shift : start + shift + size]
    return Image.fromarray(np.ascontiguousarray(a)), Image.fromarray(np.ascontiguousarray(b)), left


def toy_row(seed: int, size: int = 64, with_completion: bool = True, rationale: bool = False) -> dict:
    """One true/false row with every column the trainers, rewards and evaluation read. The SFT
    completion has an empty think block, or with ``rationale`` one that states what the images
    show (for ``include_think`` SFT; see :mod:`remot_train.collator`)."""
    img1, img2, left = ramp_pair(seed, size)
    answer = "true" if left else "false"
    row = {
        "prompt": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Image 1: "},
                    {"type": "image"},
                    {"type": "text", "text": "\nImage 2: "},
                    {"type": "image"},
                    {
                        "type": "text",
                        "text": "\nTrue or false: between image 1 and image 2, the camera turned to the left.\n"
                        + SCAFFOLD,
                    },
                ],
            }
        ],
        "images": [img1, img2],
        "answer": answer,
        "parse_rule": "true_false",
        "options": ["true", "false"],
        "tolerance": None,
        "question_id": f"q{seed}",
        "triplet_id": f"t{seed // 3}",
        "question_type": "true_false",
        "domain": "navigation",
        "attribute": "yaw",
        "consistency_group_id": None,
        "relations": json.dumps([]),
    }
    if with_completion:
        from remot_train.data import sft_completion

        view = "right" if left else "left"
        reasoning = f"from image 1 to image 2 the view shifts to the {view}" if rationale else ""
        row["completion"] = sft_completion(answer, reasoning)
        if rationale:
            row["rationale_source"] = "metadata"
    return row


def toy_rows(n: int, seed: int = 0, size: int = 64, with_completion: bool = True, rationale: bool = False) -> list[dict]:
    """``n`` toy rows with seeds ``seed .. seed + n - 1``."""
    return [toy_row(seed + i, size, with_completion, rationale) for i in range(n)]
