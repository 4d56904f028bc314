"""The FFR teacher: evidence patches, the leakage guard, and the three teachers.

Images are real renders: procedural textures from the synthetic world's renderer, shifted to make
a camera turn, with a moving block or a coloured cube on top. One triplet of a release is used
too when a release exists under data/releases (skipped otherwise).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from remot_pipeline.core.questions import _PHRASES
from remot_pipeline.synthetic.render import make_texture
from remot_train.teacher import (
    EvidencePatch,
    HTTPTeacher,
    MetadataTeacher,
    ModelTeacher,
    PatchSchemaError,
    check_leak,
    classify_error,
    evidence_box,
    guarded,
    leakage_rate,
)
from remot_train.teacher.leak import attribute_vocabulary, find_words, value_words
from remot_train.teacher.metadata import compose_text
from remot_train.teacher.tool_loop import ToolLoopTeacher, extract_json

ROOT = Path(__file__).resolve().parents[1]


# --- images -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """A 240 x 560 RGB procedural texture (the synthetic world's wall texture generator)."""
    return np.ascontiguousarray(make_texture(np.random.default_rng(7), 240, 560)[:, :, ::-1])


def view(tex: np.ndarray, x: int, y: int = 0, w: int = 320, h: int = 200) -> np.ndarray:
    return np.ascontiguousarray(tex[y:y + h, x:x + w])


def jpeg(rgb: np.ndarray) -> dict:
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return {"bytes": buf.tobytes(), "path": "test.jpg"}


def with_block(bg: np.ndarray, x: int, y: int, colour=(230, 30, 30), size: int = 40) -> np.ndarray:
    out = bg.copy()
    cv2.rectangle(out, (x, y), (x + size, y + size), colour, -1)
    cv2.rectangle(out, (x + 8, y + 8), (x + size - 8, y + size - 8), tuple(int(c * 0.7) for c in colour), 2)
    return out


def inside(box, x0, y0, x1, y1, w=320, h=200) -> bool:
    """Whether the pixel box lies inside the normalised box (with a pixel of slack)."""
    return box[0] * w <= x0 + 1 and box[1] * h <= y0 + 1 and box[2] * w >= x1 - 1 and box[3] * h >= y1 - 1


# --- samples ----------------------------------------------------------------------------------------
def tf_sample(first: np.ndarray, second: np.ndarray, attribute="yaw", value="right", other="left", answer="true",
              **extra) -> dict:
    return {
        "question_type": "true_false", "prompt": "Image 1: <image>\nImage 2: <image>\nTrue or false: between image 1 "
        "and image 2, the camera turned to the right.\nThink step by step.", "image_roles": ["anchor", "positive"],
        "answer": answer, "options": ["true", "false"], "parse_rule": "true_false", "tolerance": None,
        "attribute": attribute, "positive_value": value, "negative_value": other, "object_color": None,
        "anchor_image": jpeg(first), "positive_image": jpeg(second),
        "anchor_timestamp_s": 2.0, "positive_timestamp_s": 3.5, **extra,
    }


def mc_sample(tex: np.ndarray, answer: str = "B") -> dict:
    """Shared anchor: image 1 anchor, the positive (camera turned right: the view's window moves
    right) is image 3 when the answer is B."""
    anchor, pos, neg = view(tex, 120), view(tex, 150), view(tex, 90)
    roles = ["anchor", "negative", "positive"] if answer == "B" else ["anchor", "positive", "negative"]
    return {
        "question_type": "multiple_choice",
        "prompt": "Image 1: <image>\nImage 2: <image>\nImage 3: <image>\nImage 1 is the reference view. Going from "
                  "image 1 to which image is it true that the camera turned to the right?\nA) Image 2\nB) Image 3",
        "image_roles": roles, "answer": answer, "options": ["Image 2", "Image 3"], "parse_rule": "choice_letter",
        "tolerance": None, "attribute": "yaw", "positive_value": "right", "negative_value": "left",
        "object_color": None, "anchor_image": jpeg(anchor), "positive_image": jpeg(pos), "negative_image": jpeg(neg),
        "negative_anchor_image": jpeg(anchor), "anchor_timestamp_s": 1.0, "positive_timestamp_s": 2.0,
        "negative_timestamp_s": 0.4, "negative_anchor_timestamp_s": 1.0,
    }


def pair_sample(tex: np.ndarray, question_type="multiple_choice", answer="A", reversed_negative=True) -> dict:
    """Pairs A (images 1->2, the positive) and B (3->4, a time-reversed negative)."""
    a, p = view(tex, 120), view(tex, 150)
    s = {
        "question_type": question_type,
        "prompt": "Image 1: <image>\nImage 2: <image>\nImage 3: <image>\nImage 4: <image>\nPair A goes from image 1 "
                  "to image 2; pair B goes from image 3 to image 4. In which pair is it true that the camera "
                  "turned to the right?\nA) Pair A\nB) Pair B",
        "image_roles": ["anchor", "positive", "negative_anchor", "negative"], "answer": answer,
        "options": ["Pair A", "Pair B"], "parse_rule": "choice_letter", "tolerance": None, "attribute": "yaw",
        "positive_value": "right", "negative_value": "left", "object_color": None,
        "anchor_image": jpeg(a), "positive_image": jpeg(p), "negative_anchor_image": jpeg(p), "negative_image": jpeg(a),
        "anchor_timestamp_s": 1.0, "positive_timestamp_s": 2.5,
        "negative_anchor_timestamp_s": 2.5 if reversed_negative else 4.0,
        "negative_timestamp_s": 1.0 if reversed_negative else 5.5,
    }
    return s


def release_sample() -> dict | None:
    """The first question of the latest release merged with its triplet, or None."""
    import pyarrow.parquet as pq

    releases = ROOT / "data" / "releases"
    manifests = sorted(releases.glob("*/manifest.json")) if releases.is_dir() else []
    if not manifests:
        return None
    rel = manifests[-1].parent
    q_files, t_files = sorted(rel.glob("questions/**/*.parquet")), sorted(rel.glob("triplets/**/*.parquet"))
    if not q_files or not t_files:
        return None
    question = pq.read_table(q_files[0]).slice(0, 1).to_pylist()[0]
    for f in t_files:
        for t in pq.read_table(f).to_pylist():
            if t["triplet_id"] == question["triplet_id"]:
                return {**t, **question}
    return None


# --- the patch --------------------------------------------------------------------------------------
def test_patch_json_round_trip_and_observation(texture):
    crop = Image.fromarray(view(texture, 0, w=40, h=40))
    p = EvidencePatch("spatial", [1, 2], "Compare the horizontal position of the edge.", timestamps_s=[0.0, 1.5],
                      regions=[(1, 0.1, 0.2, 0.5, 0.6), (2, 0.1, 0.2, 0.5, 0.6)], crops=[crop, crop])
    back = EvidencePatch.from_json(p.to_json(), n_images=2)
    assert back.to_dict() == p.to_dict() and back.crops == []
    parts = p.as_observation()
    assert parts[0]["type"] == "text" and "image 1 (0.10, 0.20, 0.50, 0.60)" in parts[0]["text"]
    assert "t=1.50 s" in parts[0]["text"] and "horizontal position" in parts[0]["text"]
    assert [x["type"] for x in parts[1:]] == ["text", "image", "text", "image"]
    text, images = p.as_prompt_suffix()
    assert text.count("<image>") == len(images) == 2


@pytest.mark.parametrize("data, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ({"error_class": "spatial", "frames": [1], "text": "x", "hint": "y"}, "unknown key"),
    ({"error_class": "spatial", "text": "x"}, "missing key"),
    ({"error_class": "guess", "frames": [1], "text": "x"}, "error_class must be one of"),
    ({"error_class": "spatial", "frames": [0], "text": "x"}, "1-based"),
    ({"error_class": "spatial", "frames": [5], "text": "x"}, "outside 1..2"),
    ({"error_class": "spatial", "frames": [1, 1], "text": "x"}, "repeats"),
    ({"error_class": "spatial", "frames": [1, 2], "timestamps_s": [0.0], "text": "x"}, "one time per frame"),
    ({"error_class": "spatial", "frames": [1], "text": "x", "regions": [[1, 0.5, 0.2, 0.4, 0.6]]}, "x0 < x1"),
    ({"error_class": "spatial", "frames": [1], "text": "x", "regions": [[1, 0.1, 0.2, 1.4, 0.6]]}, "regions[0].x1"),
    ({"error_class": "spatial", "frames": [1], "text": "x", "regions": [[1, 0.1]]}, "regions[0] must be"),
    ({"error_class": "spatial", "frames": [1], "text": "  "}, "non-empty"),
])
def test_patch_schema_errors_name_the_field(data, message):
    with pytest.raises(PatchSchemaError, match=re.escape(message)):
        EvidencePatch.from_json(data if isinstance(data, str) else json.dumps(data), n_images=2)


# --- the metadata teacher: boxes ------------------------------------------------------------------
def test_ego_motion_box_is_centred_textured_and_symmetric(texture):
    a, b = Image.fromarray(view(texture, 120)), Image.fromarray(view(texture, 150))
    box, method = evidence_box(a, b, "yaw")
    assert method == "ego"
    assert abs((box[0] + box[2]) / 2 - 0.5) < 0.02  # horizontal attribute: centred horizontally
    assert evidence_box(b, a, "yaw")[0] == box  # a reversed pair gets the same box
    vbox, _ = evidence_box(Image.fromarray(view(texture, 120, 0)), Image.fromarray(view(texture, 120, 25)), "pitch")
    assert abs((vbox[1] + vbox[3]) / 2 - 0.5) < 0.02  # vertical attribute: centred vertically


def test_moving_block_box_covers_both_positions(texture):
    bg = view(texture, 200)
    a, b = with_block(bg, 60, 80, (60, 60, 60)), with_block(bg, 110, 80, (60, 60, 60))
    box, method = evidence_box(Image.fromarray(a), Image.fromarray(b), "ee_lateral")
    assert method == "motion"
    assert inside(box, 60, 80, 150, 120)
    assert box[2] - box[0] < 0.7  # it is a region, not the whole frame
    assert evidence_box(Image.fromarray(b), Image.fromarray(a), "ee_lateral")[0] == box


def test_coloured_object_box_follows_its_colour_under_a_pan(texture):
    # the camera pans (background shifts) while the red cube slides; a green cube is a distractor
    a = with_block(with_block(view(texture, 100), 40, 120, (30, 200, 40)), 150, 40)
    b = with_block(with_block(view(texture, 125), 15, 120, (30, 200, 40)), 215, 40)
    box, method = evidence_box(Image.fromarray(a), Image.fromarray(b), "object_lateral", "red")
    assert method == "colour"
    assert inside(box, 150, 40, 255, 80)
    assert not inside(box, 40, 120, 80, 160)


def test_no_motion_falls_back_to_texture_box(texture):
    a = Image.fromarray(view(texture, 0))
    box, method = evidence_box(a, a, "gripper")
    assert method == "texture" and 0 <= box[0] < box[2] <= 1


# --- the metadata teacher: patches ------------------------------------------------------------------
def test_metadata_patch_for_true_false(texture):
    s = tf_sample(view(texture, 120), view(texture, 150))
    t = MetadataTeacher()
    p = t.patch(s, ["The scene slides left, so the camera turned left."])
    assert p is not None and t.stats == {"calls": 1, "patches": 1, "fallbacks": 0, "leak_drops": 0}
    assert p.error_class == "spatial" and p.frames == [1, 2]
    assert p.timestamps_s == [0.0, 1.5]  # display-relative
    assert len(p.regions) == 2 and p.regions[0][1:] == p.regions[1][1:]
    assert len(p.crops) == 2 and max(p.crops[0].size) == 128
    assert "horizontal position" in p.text and "boxed region of image 1 and image 2" in p.text
    assert check_leak(p, s) is None


def test_metadata_patch_for_multiple_choice_is_symmetric(texture):
    for answer in ("A", "B"):
        s = mc_sample(texture, answer)
        p = MetadataTeacher().patch(s, ["from image 2 to image 1 the view moved"])
        assert p is not None and p.error_class == "temporal"
        assert p.frames == [1, 2, 3] and {r[0] for r in p.regions} == {1, 2, 3}
        assert "image 2" in p.text and "image 3" in p.text  # both options, never one alone
        assert check_leak(p, s) is None


def test_metadata_timestamps_hide_a_reversed_negative(texture):
    s = pair_sample(texture, reversed_negative=True)
    p = MetadataTeacher().patch(s, [])
    assert p.timestamps_s == [0.0, 1.5, 0.0, 1.5]
    assert p.error_class == "misconception" and p.text.startswith("A turn of the camera")


def test_metadata_text_never_uses_value_words():
    """For every attribute, error class and question kind, the text avoids the whole value
    vocabulary of the attribute (not only the correct value's words)."""
    box = (0.1, 0.1, 0.4, 0.4)
    for attribute in _PHRASES:
        vocab = attribute_vocabulary(attribute)
        for error_class in ("temporal", "spatial", "misconception"):
            for kind, pairs in ((None, [(1, 2)]), ("multiple_choice", [(1, 2), (1, 3)]),
                                ("comparative", [(1, 2), (3, 4)]), ("number", [(1, 2)])):
                text = compose_text(attribute, "red", error_class, pairs, [box] * len(pairs), kind)
                assert not find_words(text, vocab), (attribute, error_class, kind, text)


def test_value_words_cover_inflections_and_synonyms():
    assert {"closed", "closing", "close"} <= value_words("gripper", "closing")
    assert "anticlockwise" in value_words("roll", "counterclockwise")
    assert "clockwise" not in value_words("roll", "counterclockwise")
    assert {"away"} <= value_words("ee_depth", "away") and "from" not in value_words("ee_depth", "away")
    assert "approaching" in value_words("phase", "approach")


def test_release_triplet_if_present():
    s = release_sample()
    if s is None:
        pytest.skip("no release under data/releases")
    t = MetadataTeacher()
    p = t.patch(s, ["I think it is the other one."])
    assert t.stats["fallbacks"] == 0
    assert p is None or check_leak(p, s) is None  # a drop would be counted, never delivered


# --- error classes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rollouts, n, expected", [
    (["From image 2 to image 1 the wall moves."], 2, "temporal"),
    (["Image 2 to image 3 shows a turn."], 3, "temporal"),
    (["Image 4 shows the turn."], 3, "temporal"),
    (["The frames are in reverse order."], 2, "temporal"),
    (["The view shifts to the left, so the camera turned left."], 2, "spatial"),
    (["The gripper opened."], 2, "spatial"),
    (["There is a red cube and a floor."], 2, "misconception"),
    ([""], 2, "misconception"),
    (["it turned left", "image 2 to image 1", "a blue box"], 2, "temporal"),
])
def test_error_classes(rollouts, n, expected):
    assert classify_error(rollouts, n, "yaw") == expected


# --- the leakage guard ------------------------------------------------------------------------------
class Planted:
    """A teacher that proposes a fixed patch (the guard must drop it when it leaks)."""

    def __init__(self, text, frames=None, regions=(), timestamps=None):
        self.text, self.frames, self.regions, self.timestamps = text, frames, list(regions), timestamps

    def patch(self, sample, failed_rollouts):
        n = len(sample["image_roles"])
        return EvidencePatch("spatial", self.frames or list(range(1, n + 1)), self.text,
                             timestamps_s=self.timestamps, regions=self.regions)


@pytest.mark.parametrize("make, text, reason", [
    ("tf", "The answer is true: the wall shifts.", "verdict"),
    ("tf", "Look at the wall edge; true, the claim holds.", "claim holds"),
    ("tf", "Look at the wall edge. True.", "answer 'true'"),
    ("tf", "The camera turned right; compare the edge.", "states yaw = 'right' (camera frame"),
    ("tf", "The scene goes right-ward in the top-right part.", "states yaw = 'left' (scene frame"),
    # paraphrases a word list cannot see (issue 15)
    ("tf", "The scene slides toward the right edge of the image.", "states yaw = 'left'"),
    ("pitch", "The horizon sinks toward the bottom.", "states pitch = 'up'"),
    ("gripper", "The gap between the fingers grows.", "states gripper = 'opening'"),
    ("compare", "Pair B's shift is about three times pair A's.", "ratio"),
    ("mc", "Option B shows it.", "letter"),
    ("mc", "Pick (B) after comparing the edge.", "letter"),
    ("mc", "Look at Image 3 closely.", "correct option"),
    ("mc", "In image 2 the camera turned left and in image 3 it did not.", "states yaw = 'left'"),
    ("pair", "Pair A is where it happens.", "correct option"),
])
def test_planted_leaks_are_dropped_and_counted(texture, make, text, reason):
    s = {"tf": lambda: tf_sample(view(texture, 120), view(texture, 150)), "mc": lambda: mc_sample(texture, "B"),
         "pair": lambda: pair_sample(texture),
         "pitch": lambda: tf_sample(view(texture, 120), view(texture, 150), "pitch", "up", "down"),
         "gripper": lambda: tf_sample(view(texture, 120), view(texture, 150), "gripper", "opening", "closing"),
         "compare": lambda: pair_sample(texture, "comparative", "B")}[make]()
    t = guarded(Planted(text))
    assert t.patch(s, []) is None
    assert t.stats["leak_drops"] == 1 and t.stats["patches"] == 0
    assert reason in t.last.reason


def test_structural_leaks(texture):
    s = mc_sample(texture, "B")
    only_correct = guarded(Planted("Compare the edge positions.", frames=[1, 3]))
    assert only_correct.patch(s, []) is None and "frames cover the correct option" in only_correct.last.reason
    box = guarded(Planted("Compare the edges.", regions=[(3, 0.1, 0.1, 0.5, 0.5)]))
    assert box.patch(s, []) is None and "regions cover" in box.last.reason
    backwards = guarded(Planted("Compare the edges.", timestamps=[0.0, 1.5, 1.5, 0.0]))
    assert backwards.patch(pair_sample(texture), []) is None and "backwards" in backwards.last.reason


def test_magnitude_and_comparison_leaks(texture):
    number = {**tf_sample(view(texture, 120), view(texture, 150)), "question_type": "fill_blank",
              "parse_rule": "number", "answer": "24 deg", "tolerance": 10.0, "options": []}
    assert check_leak(EvidencePatch("spatial", [1, 2], "It is about 30 here."), number) is not None
    assert check_leak(EvidencePatch("spatial", [1, 2], "Compare image 1 and image 2 at the edge."), number) is None
    assert check_leak(EvidencePatch("spatial", [1, 2], "The wall moved by 60 deg."), number) is not None
    comp = {**pair_sample(texture), "question_type": "comparative"}
    # "one moves more" names no pair: guidance, not the answer; "more than" between named pairs is
    assert check_leak(EvidencePatch("spatial", [1, 2, 3, 4], "Pair A and pair B: one moves more."), comp) is None
    assert "compares" in check_leak(EvidencePatch("spatial", [1, 2, 3, 4], "Pair A moves more than pair B."), comp)
    assert "magnitude" in check_leak(EvidencePatch("spatial", [1, 2, 3, 4], "Pair A turns 30°, pair B 12°."), comp)
    assert check_leak(EvidencePatch("spatial", [1, 2, 3, 4], "Judge the shift in pair A and in pair B."), comp) is None
    larger = EvidencePatch("spatial", [1, 2, 3, 4], "Pair B shows the larger shift, pair A not.")
    assert "compares" in check_leak(larger, comp)


@pytest.mark.parametrize("text", [
    "Compare image 2 and image 3 with image 1: the horizontal position of the edge.",
    "A turn of the camera slides the scene sideways. Look at the boxed region.",
    "Pair A and pair B: compare the wall texture in the box near the top of the image.",
    "Compare the bottom-left region of image 2 and image 3 with image 1.",
    "Look at the doorway's position; track the lamp on the right side of each image.",
    "Decide whether the scene slides left or right, then relate that to the camera.",
    "If the camera turns to its left, the content slides toward the right of the image.",
])
def test_evidence_without_the_answer_passes(texture, text):
    for s in (mc_sample(texture, "B"), mc_sample(texture, "A"), pair_sample(texture)):
        if "Pair" in text and len(s["image_roles"]) == 3:
            continue
        assert check_leak(EvidencePatch("spatial", list(range(1, len(s["image_roles"]) + 1)), text), s) is None


def test_leakage_rate(texture):
    samples = [tf_sample(view(texture, 120), view(texture, 150)), mc_sample(texture, "A"), mc_sample(texture, "B"),
               pair_sample(texture)]
    clean = leakage_rate(MetadataTeacher(with_crops=False), samples, ["the camera turned left"])
    assert clean["calls"] == 4 and clean["delivered"] == 4 and clean["leaked"] == 0
    assert clean["leakage_rate"] == 0.0 and clean["post_guard_leaks"] == 0
    leaky = leakage_rate(Planted("The answer is right there: the camera turned right."), samples)
    assert leaky["leakage_rate"] == 1.0 and leaky["leaked"] == 4 and leaky["post_guard_leaks"] == 0
    assert leaky["leak_reasons"] == {"verdict phrase": 4}
    assert set(leaky["by_question_type"]) == {"multiple_choice", "true_false"}


def test_teacher_exceptions_are_fallbacks(texture):
    class Broken:
        def patch(self, sample, failed_rollouts):
            raise RuntimeError("boom")

    t = guarded(Broken())
    assert t.patch(tf_sample(view(texture, 0), view(texture, 10)), []) is None
    assert t.stats == {"calls": 1, "patches": 0, "fallbacks": 1, "leak_drops": 0}
    assert "boom" in t.last.reason


# --- the tool loop and the model teacher ------------------------------------------------------------
class Scripted(ToolLoopTeacher):
    def __init__(self, replies, **kwargs):
        super().__init__(**kwargs)
        self.replies = list(replies)
        self.seen: list[list[dict]] = []

    def complete(self, messages):
        self.seen.append([dict(m) for m in messages])
        return self.replies.pop(0)


def test_tool_loop_executes_tools_then_returns_the_patch(texture):
    s = tf_sample(view(texture, 120), view(texture, 150))
    patch = {"error_class": "spatial", "frames": [1, 2], "timestamps_s": None,
             "regions": [[1, 0.3, 0.3, 0.7, 0.7], [2, 0.3, 0.3, 0.7, 0.7]], "text": "Compare the edge positions."}
    t = Scripted(['<think>let me zoom</think>{"tool": "zoom_region", "args": {"i": 2, "x0": 0.2, "y0": 0.2, "x1": 0.6, '
                  '"y1": 0.6}}', '{"name": "get_frame", "arguments": "{\\"i\\": 9}"}', json.dumps(patch)],
                 show_answer=True)
    p = t.patch(s, ["it turned left"])
    assert p is not None and p.regions[0] == (1, 0.3, 0.3, 0.7, 0.7) and len(p.crops) == 2
    assert t.tool_calls == 2 and t.stats["patches"] == 1
    first_user = t.seen[0][1]["content"]
    assert sum(part["type"] == "image" for part in first_user) == 2  # the question's images, in place
    assert "Correct answer (for you only" in first_user[-1]["text"] and "it turned left" in first_user[-1]["text"]
    zoom_reply = t.seen[1][-1]["content"]
    assert zoom_reply[1]["type"] == "image" and zoom_reply[1]["image"].size[0] == 256
    assert "Tool error" in t.seen[2][-1]["content"][0]["text"]  # image 9 does not exist


def test_tool_loop_fallbacks_are_counted(texture):
    s = tf_sample(view(texture, 120), view(texture, 150))
    cases = [["no json at all"], ['{"error_class": "spatial", "frames": [7], "text": "x"}'],
             ['{"tool": "get_frame", "args": {"i": 1}}'] * 2,
             ['{"error_class": "spatial", "frames": [1, 2], "text": "The answer is true."}']]
    for replies in cases:
        t = Scripted(replies, max_turns=2)
        assert t.patch(s, []) is None
    assert extract_json('x {"a": 1} y {"error_class": "spatial"}') == {"error_class": "spatial"}


def test_model_teacher_with_the_tiny_model_falls_back(tmp_path, texture):
    from remot_train import model as model_mod
    path = model_mod.build_tiny_model(tmp_path / "tiny", seed=0, image_size=64)
    t = ModelTeacher(path, max_new_tokens=24, max_turns=2)
    assert not any(p.requires_grad for p in t.model.parameters())
    s = tf_sample(view(texture, 120), view(texture, 150))
    for _ in range(2):
        assert t.patch(s, ["it turned left"]) is None
    assert t.stats["calls"] == 2 and t.stats["patches"] == 0
    assert t.stats["fallbacks"] + t.stats["leak_drops"] == 2
    with pytest.raises((FileNotFoundError, OSError, ValueError)):
        ModelTeacher(tmp_path / "missing")


# --- the HTTP teacher -------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        kind, value = self.server.script.pop(0) if self.server.script else ("stall", None)
        if kind == "stall":
            self.server.release.wait(10)
            return
        if kind == "status":
            self.send_response(value)
            self.end_headers()
            return
        data = value if isinstance(value, bytes) else json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": value}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.script, srv.requests, srv.release = [], [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def _http_teacher(srv, **kwargs) -> HTTPTeacher:
    host, port = srv.server_address[:2]
    return HTTPTeacher(f"http://{host}:{port}", "teacher-model", **kwargs)


def test_http_teacher_valid_patch_with_a_tool_call(server, texture):
    patch = {"error_class": "temporal", "frames": [1, 2], "timestamps_s": None, "regions": [[2, 0.1, 0.1, 0.6, 0.6]],
             "text": "Read image 1 then image 2 and compare the edge."}
    server.script = [("json", '{"tool": "get_frame", "args": {"i": 1}}'), ("json", json.dumps(patch))]
    s = tf_sample(view(texture, 120), view(texture, 150))
    s["anchor_image"] = Image.fromarray(view(texture, 120))  # a PIL image, as Hugging Face datasets give
    t = _http_teacher(server, api_key="k", timeout_s=5)
    p = t.patch(s, ["image 2 to image 1"])
    assert p is not None and p.error_class == "temporal" and len(p.crops) == 1
    assert t.stats["patches"] == 1 and len(server.requests) == 2
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k"
    assert req["body"]["model"] == "teacher-model"
    urls = [p["image_url"]["url"] for m in req["body"]["messages"] if isinstance(m["content"], list)
            for p in m["content"] if p["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
    assert len(server.requests[1]["body"]["messages"]) == 4  # + the tool call and its result


def test_http_teacher_stall_times_out_within_the_bound(server, texture):
    server.script = [("stall", None)] * 3
    t = _http_teacher(server, timeout_s=0.4, retries=1, backoff_s=0.1)
    s = tf_sample(view(texture, 120), view(texture, 150))
    start = time.monotonic()
    assert t.patch(s, []) is None
    elapsed = time.monotonic() - start
    assert elapsed <= t.worst_case_s() + 0.5, elapsed
    assert elapsed >= 0.8  # both attempts ran to their deadline
    assert t.stats["fallbacks"] == 1 and t.attempts == 2 and "attempt(s) failed" in t.last.reason


def test_http_teacher_garbage_and_retry(server, texture):
    s = tf_sample(view(texture, 120), view(texture, 150))
    server.script = [("json", b"<html>not json</html>")]
    t = _http_teacher(server, timeout_s=2, retries=2, backoff_s=0.01)
    assert t.patch(s, []) is None and "not JSON" in t.last.reason and t.attempts == 1
    server.script = [("json", "I think the camera moved, hope that helps!")]
    assert t.patch(s, []) is None and "no JSON object" in t.last.reason
    server.script = [("json", b'{"choices": []}')]
    assert t.patch(s, []) is None
    assert t.stats["fallbacks"] == 3
    # a 503 is retried, then the patch arrives
    ok = {"error_class": "spatial", "frames": [1, 2], "text": "Compare the horizontal position of the edge."}
    server.script = [("status", 503), ("json", json.dumps(ok))]
    t2 = _http_teacher(server, timeout_s=2, retries=2, backoff_s=0.01)
    assert t2.patch(s, []) is not None and t2.attempts == 2
    # a 400 is not retried
    server.script = [("status", 400)]
    t3 = _http_teacher(server, timeout_s=2, retries=2, backoff_s=0.01)
    assert t3.patch(s, []) is None and t3.attempts == 1 and "HTTP 400" in t3.last.reason


def test_http_teacher_unreachable(texture):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    t = HTTPTeacher(f"http://127.0.0.1:{port}/v1", "m", timeout_s=0.5, retries=1, backoff_s=0.01)
    assert t.patch(tf_sample(view(texture, 0), view(texture, 10)), []) is None
    assert t.stats["fallbacks"] == 1 and t.attempts == 2
    with pytest.raises(ValueError):
        HTTPTeacher("ftp://x", "m")


# --- who sees the answer ----------------------------------------------------------------------------
def test_model_backed_teachers_do_not_see_the_answer_by_default(server, texture):
    s = tf_sample(view(texture, 120), view(texture, 150))
    leaking = {"error_class": "spatial", "frames": [1, 2], "timestamps_s": None, "regions": [],
               "text": "The wall texture drifts toward the left edge of image 2."}
    server.script = [("json", json.dumps(leaking))]
    blind = _http_teacher(server, timeout_s=5)
    assert blind.show_answer is False
    assert blind.patch(s, ["it turned left"]) is None  # the guard runs whether or not the answer was shown
    assert blind.stats["leak_drops"] == 1 and "states yaw = 'right'" in blind.last.reason
    prompt = json.dumps(server.requests[0]["body"]["messages"])
    assert "Correct answer" not in prompt and "it turned left" in prompt

    server.script = [("json", json.dumps(leaking)), ("json", json.dumps({**leaking, "text": "Compare the edge."}))]
    seeing = _http_teacher(server, timeout_s=5, sees_answer=True)
    assert seeing.patch(s, []) is None and seeing.stats == {"calls": 1, "patches": 0, "fallbacks": 0, "leak_drops": 1}
    assert "Correct answer (for you only" in json.dumps(server.requests[1]["body"]["messages"])
    assert seeing.patch(s, []) is not None and seeing.stats["patches"] == 1
    with pytest.raises(ValueError, match="sees_answer"):
        _http_teacher(server, show_answer=True)


def test_model_teacher_answer_option(tmp_path):
    from remot_train import model as model_mod
    path = model_mod.build_tiny_model(tmp_path / "tiny", seed=0, image_size=64)
    assert ModelTeacher(path).show_answer is False
    assert ModelTeacher(path, sees_answer=True).show_answer is True
    with pytest.raises(ValueError, match="sees_answer"):
        ModelTeacher(path, show_answer=True)
