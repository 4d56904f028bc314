"""The VQA formulation expert (first depth: multiple choice and true/false).

Each triplet yields three questions:

* multiple choice. When the negative pair starts at the anchor, image 1 is the anchor and images
  2 and 3 the positive and negative in a seeded order: "going from image 1 to which image is it
  true that <the subject> <moved so>?". Otherwise (reversed, mirrored and most retrieved
  negatives) the two pairs are shown as pair A (images 1->2) and pair B (images 3->4) in a seeded
  order: "in which pair is it true that ...?". The letter is A or B.
* true/false about the positive pair and about the negative pair. Each asks about the pair's
  value or another value of the attribute, drawn per question, so the answers are balanced.

Every answer is traceable: ``asserted_pair_id`` names the motion pair whose label it asserts.
The text never contains the answer.
"""

from __future__ import annotations

import pyarrow as pa

from data_contracts import conform, empty
from remot_pipeline.core.ledger import StageResult
from remot_pipeline.core.triplets import stable_key

SCAFFOLD = (
    "Think step by step inside <think> </think>, then give only the final answer inside <answer> </answer>."
)

# (attribute, value) -> the predicate, phrased per domain's natural subject.
_PHRASES: dict[str, dict[str, str]] = {
    "yaw": {"left": "the camera turned to the left", "right": "the camera turned to the right"},
    "camera_motion": {"stationary": "the camera stayed still", "moving": "the camera moved"},
    "pitch": {"up": "the camera tilted upwards", "down": "the camera tilted downwards"},
    "roll": {"clockwise": "the camera rolled clockwise", "counterclockwise": "the camera rolled counterclockwise"},
    "translation_forward": {"forward": "the camera moved forward", "backward": "the camera moved backward"},
    "translation_lateral": {"right": "the camera moved to the right", "left": "the camera moved to the left"},
    "translation_vertical": {"up": "the camera moved up", "down": "the camera moved down"},
    "ee_lateral": {"right": "the robot's gripper moved to the right", "left": "the robot's gripper moved to the left"},
    "ee_vertical": {"up": "the robot's gripper moved up", "down": "the robot's gripper moved down"},
    "ee_depth": {"away": "the robot's gripper moved away from the camera", "toward": "the robot's gripper moved toward the camera"},
    "gripper": {"opening": "the robot's gripper opened", "closing": "the robot's gripper closed",
                "holding": "the robot's gripper kept holding its object"},
    "phase": {"approach": "the robot was approaching the object", "grasp": "the robot was grasping the object",
              "lift": "the robot was lifting the object", "place": "the robot was placing the object"},
    "wrist_rotation": {"counterclockwise": "the robot's gripper rotated counterclockwise (seen from above)",
                       "clockwise": "the robot's gripper rotated clockwise (seen from above)"},
    "camera_yaw": {"left": "the camera turned to the left", "right": "the camera turned to the right"},
    "object_lateral": {"right": "the {color} object moved to the right", "left": "the {color} object moved to the left"},
    "object_depth": {"away": "the {color} object moved away from the camera", "toward": "the {color} object moved toward the camera"},
}


def phrase(attribute: str, value: str, color: str | None) -> str:
    text = _PHRASES[attribute][value]
    if "{color}" in text:
        if not color:
            raise ValueError(f"attribute {attribute!r} needs the object's colour")
        text = text.format(color=color)
    return text


def _other(attribute: str, value: str, *key: object) -> str:
    """Another value of the attribute (drawn by ``key`` when there are several)."""
    others = [v for v in _PHRASES[attribute] if v != value]
    return others[int(stable_key(*key, attribute, value)[:8], 16) % len(others)] if len(others) > 1 else others[0]


def _bit(*parts: object) -> int:
    return int(stable_key(*parts)[:8], 16) & 1


def shares_anchor(t: dict) -> bool:
    """Whether the negative pair starts at the anchor's own (unmirrored) image."""
    return t["negative_anchor_frame_index"] == t["anchor_frame_index"] and t["negative_transform"] == "none"


#: Paraphrases, one drawn per question by seed. ``{claim}`` is a full clause ("the camera turned
#: to the left"); every template reads the same whatever the answer, so the text cannot leak it.
MC_IMAGE_TEMPLATES = (
    "Image 1 is the reference view. Going from image 1 to which image is it true that {claim}?",
    "Take image 1 as the starting view. In which of the other two images is it true that {claim}?",
    "Compare images 2 and 3 with image 1. Which of them shows that {claim}?",
)
MC_PAIR_TEMPLATES = (
    "Pair A goes from image 1 to image 2; pair B goes from image 3 to image 4. In which pair is it true that {claim}?",
    "Consider two changes of view: pair A, from image 1 to image 2, and pair B, from image 3 to image 4. "
    "Which pair shows that {claim}?",
    "Images 1 and 2 form pair A; images 3 and 4 form pair B, each read from its first image to its second. "
    "For which pair is it true that {claim}?",
)
TF_TEMPLATES = (
    "True or false: between image 1 and image 2, {claim}.",
    "From image 1 to image 2, {claim}. Is this true or false?",
    "Look at image 1, then at image 2. Is it true that {claim}? Answer true or false.",
)


def _template(templates: tuple[str, ...], *key: object) -> str:
    return templates[int(stable_key(*key)[:8], 16) % len(templates)]


def triplet_questions(t: dict, seed: int) -> list[dict]:
    """Three questions for one triplet row (a dict of the triplets contract's columns)."""
    attr, color = t["attribute"], t["object_color"]
    base = {k: t[k] for k in ("triplet_id", "episode_id", "domain", "split", "attribute")}
    out = []

    # Multiple choice: which image (shared anchor) or which pair shows the positive's value?
    pos_first = _bit(seed, t["triplet_id"], "mc") == 0
    claim = phrase(attr, t["positive_value"], color)
    if shares_anchor(t):
        roles = ["anchor", "positive", "negative"] if pos_first else ["anchor", "negative", "positive"]
        text = _template(MC_IMAGE_TEMPLATES, seed, t["triplet_id"], "mc-text").format(claim=claim)
        prompt = "Image 1: <image>\nImage 2: <image>\nImage 3: <image>\n" + text + "\nA) Image 2\nB) Image 3\n" + SCAFFOLD
        options = ["Image 2", "Image 3"]
    else:
        pairs = [["anchor", "positive"], ["negative_anchor", "negative"]]
        roles = pairs[0] + pairs[1] if pos_first else pairs[1] + pairs[0]
        text = _template(MC_PAIR_TEMPLATES, seed, t["triplet_id"], "mc-text").format(claim=claim)
        prompt = ("Image 1: <image>\nImage 2: <image>\nImage 3: <image>\nImage 4: <image>\n" + text
                  + "\nA) Pair A\nB) Pair B\n" + SCAFFOLD)
        options = ["Pair A", "Pair B"]
    out.append({**base, "question_type": "multiple_choice", "prompt": prompt, "image_roles": roles,
                "answer": "A" if pos_first else "B", "options": options, "parse_rule": "choice_letter",
                "asserted_pair_id": t["positive_pair_id"]})

    # True/false about each pair; the asked value is drawn so that answers are balanced.
    for first, second, value, pair_id in (("anchor", "positive", t["positive_value"], t["positive_pair_id"]),
                                          ("negative_anchor", "negative", t["negative_value"], t["negative_pair_id"])):
        ask_true = _bit(seed, t["triplet_id"], "tf", second) == 0
        asked = value if ask_true else _other(attr, value, seed, t["triplet_id"], second)
        text = _template(TF_TEMPLATES, seed, t["triplet_id"], "tf-text", second).format(claim=phrase(attr, asked, color))
        prompt = "Image 1: <image>\nImage 2: <image>\n" + text + "\n" + SCAFFOLD
        out.append({**base, "question_type": "true_false", "prompt": prompt, "image_roles": [first, second],
                    "answer": "true" if ask_true else "false", "options": ["true", "false"], "parse_rule": "true_false",
                    "asserted_pair_id": pair_id})
    for q in out:
        q["question_id"] = stable_key(q["triplet_id"], q["question_type"], q["image_roles"], q["prompt"])[:20]
    return out


def build_questions(triplets: pa.Table, seed: int) -> StageResult:
    if triplets.num_rows == 0:
        return StageResult(empty("questions"), empty("quarantine"), 0, {})
    cols = ["triplet_id", "episode_id", "domain", "split", "attribute", "object_color", "positive_value",
            "negative_value", "positive_pair_id", "negative_pair_id", "anchor_frame_index",
            "negative_anchor_frame_index", "negative_transform"]
    rows = [q for t in triplets.select(cols).to_pylist() for q in triplet_questions(t, seed)]
    table = conform(pa.Table.from_pylist(rows), "questions")
    # Ledger unit: question slots (3 per triplet); every slot yields a question.
    return StageResult(table, empty("quarantine"), 3 * triplets.num_rows, {})
