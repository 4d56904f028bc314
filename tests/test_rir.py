"""The Robust Improvement Reward: outcome - kappa * assisted, plus an optional structural alignment term."""

from __future__ import annotations

import json

import pytest

from remot_train.rir import (
    DEFAULT_ALIGNMENT_WEIGHT,
    DEFAULT_KAPPA,
    alignment_score,
    as_patch,
    cited_boxes,
    iou,
    make_rir_reward,
    rationale,
    rir_components,
)
from remot_train.teacher import EvidencePatch

BOX = (0.3, 0.6, 0.7, 1.0)  # bottom-centre
PATCH = EvidencePatch(
    "spatial", [1, 2],
    "Compare the horizontal position of a strongly textured structure (edges, corners, spots) inside the boxed "
    "region of image 1 and image 2. The box (the same on both images) lies near the bottom of the image.",
    timestamps_s=[0.0, 1.5], regions=[(1, *BOX), (2, *BOX)])

#: Cites both of the patch's regions in the documented notation.
CITES = ("The textured edge in image 1 (0.30, 0.60, 0.70, 1.00) sits further right in image 2 (0.30, 0.60, 0.70, "
         "1.00), so the view shifted.")

#: Rationales written without the patch (patch-blind), by hand: the way a thinking model talks about two
#: images, including everything the old word-overlap alignment paid for (frame mentions, "the boxed region",
#: "zoom 1", position words, the patch's cue words, timestamps) and boxes that are not the patch's.
PATCH_BLIND = [
    "Looking at image 1 and image 2, the scene seems to move.",
    "In image 1 the ramp is bright on the left; in image 2 it is brighter. Image 1 ... image 2: the camera turned.",
    "Compare image 1 with image 2: the horizontal position of the textured edges changes.",
    "The boxed region shows the textured edge moving; zoom 1 makes it clear.",
    "Zoom 1 and zoom 2 show the same corner, shifted. The highlighted region near the bottom moved right.",
    "At t=0.00 s and t=1.50 s the edges, corners and spots are in different horizontal positions.",
    "Frame 1 vs frame 2: the bottom of the image slides to the left, the top stays.",
    "The region at the bottom centre of image 2 is darker than in image 1.",
    "Image 1 (0.00, 0.00, 0.20, 0.20) shows a bright corner that is gone from image 2.",  # a box, elsewhere
    "The edge in image 2 (0.05, 0.05, 0.30, 0.40) moved compared with image 1.",  # a box, elsewhere
    "The strongly textured structure in the lower part of image 1 and image 2 shifts horizontally.",
    "x0=0.30, y0=0.60, x1=0.70, y1=1.00 is where I would look, but I cannot tell.",  # numbers, no notation
    "Image 3 (0.30, 0.60, 0.70, 1.00) is not in this question; image 1 and image 2 differ.",  # a frame the patch lacks
    "",
]


def test_rationale_is_the_reasoning_before_the_answer():
    assert rationale("<think>image 2 shifts</think>\n<answer>A</answer>") == "image 2 shifts"
    assert rationale("image 1 vs image 2</think><answer>x</answer> trailing <answer>B</answer>").startswith("image 1")
    assert rationale("no answer block here") == "no answer block here"


def test_cited_boxes_read_the_notation_only():
    assert cited_boxes(CITES) == [(1, *BOX), (2, *BOX)]
    assert cited_boxes("image 2: [0.3, 0.6, 0.7, 1] and Image 2 ( .3 , .6 , .7 , 1.0 )") == [(2, *BOX)]  # one, deduplicated
    assert cited_boxes("image 1 (0.7, 0.6, 0.3, 1.0), image 1 (0.1, 0.2, 1.5, 0.9)") == []  # inverted, out of range
    assert cited_boxes("the box 0.30, 0.60, 0.70, 1.00 of image 1") == []
    assert iou(BOX, BOX) == 1.0 and iou(BOX, (0.0, 0.0, 0.3, 0.6)) == 0.0
    assert iou((0.0, 0.0, 0.5, 1.0), (0.25, 0.0, 0.75, 1.0)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("text", PATCH_BLIND)
def test_a_patch_blind_rationale_earns_no_alignment(text):
    assert alignment_score(text, PATCH) == 0.0
    f = make_rir_reward(kappa=0.0, alignment_weight=1.0)
    out = f(completions=[f"<think>{text}</think><answer>true</answer>"], answer=["true"], parse_rule=["true_false"],
            patch=[PATCH.to_json()], assisted=[False])
    assert out == [1.0]  # the outcome only, even with alignment on


def test_alignment_counts_cited_regions_and_penalises_spraying():
    assert alignment_score(CITES, PATCH) == 1.0
    assert alignment_score("image 2 (0.30, 0.60, 0.70, 1.00) moved", PATCH) == 0.5  # one region of two
    assert alignment_score("image 1 (0.32, 0.62, 0.72, 0.98) and image 2 (0.28, 0.6, 0.7, 1)", PATCH) == 1.0  # close
    assert alignment_score("image 2 (0.30, 0.60, 0.70, 1.00) then image 1 (0.3, 0.6, 0.7, 1.0)", None) == 0.0
    # on the wrong image: a box where the patch has none
    one = EvidencePatch("spatial", [1, 2], "Compare the edge.", regions=[(2, *BOX)])
    assert alignment_score("image 1 (0.30, 0.60, 0.70, 1.00)", one) == 0.0
    # spraying boxes over the image lowers the score: matched / max(regions, boxes)
    spray = " ".join(f"image 2 ({x:.1f}, {y:.1f}, {x + 0.4:.1f}, {y + 0.4:.1f})" for x in (0.0, 0.3, 0.6)
                     for y in (0.0, 0.3, 0.6))
    assert 0 < alignment_score(spray, one) <= 1 / 9
    # a patch without regions gives nothing to cite
    assert alignment_score(CITES, EvidencePatch("misconception", [1, 2], "Compare the gap between the fingers.")) == 0.0


def test_alignment_is_off_by_default():
    assert DEFAULT_ALIGNMENT_WEIGHT == 0.0
    f = make_rir_reward()
    kw = dict(answer=["true"] * 2, parse_rule=["true_false"] * 2, patch=[PATCH.to_json()] * 2, assisted=[False] * 2)
    assert f(completions=[f"{CITES}</think><answer>true</answer>", "</think><answer>true</answer>"], **kw) == [1.0, 1.0]


def test_as_patch_accepts_json_dicts_and_rejects_garbage():
    assert as_patch(PATCH.to_json()).to_dict() == PATCH.to_dict()
    assert as_patch(PATCH.to_dict()).frames == [1, 2]
    assert as_patch("") is None and as_patch(None) is None
    assert as_patch('{"frames": "nope"}') is None


def test_components_kappa_and_gate():
    good = f"<think>{CITES}</think><answer>true</answer>"
    c = rir_components(good, "true", "true_false", ["true", "false"], patch=PATCH, assisted=True, alignment_weight=1.0)
    assert c == {"outcome": 1.0, "alignment": 1.0, "tax": DEFAULT_KAPPA, "rir": pytest.approx(1.7)}
    wrong = f"<think>{CITES}</think><answer>false</answer>"
    c = rir_components(wrong, "true", "true_false", patch=PATCH, assisted=True, alignment_weight=1.0)
    assert c["alignment"] == 0.0 and c["rir"] == pytest.approx(-0.3)  # gated: citing a patch with a wrong answer
    c = rir_components(wrong, "true", "true_false", patch=PATCH, assisted=False, alignment_weight=1.0,
                       gate_alignment=False)
    assert c["rir"] == pytest.approx(1.0)
    c = rir_components(good, "true", "true_false", patch=PATCH, assisted=True)  # default: alignment off
    assert c["alignment"] == 0.0 and c["rir"] == pytest.approx(1.0 - DEFAULT_KAPPA)


def test_reward_function_in_the_trl_signature():
    f = make_rir_reward(alignment_weight=1.0)
    assert f.__name__ == "rir"
    patch = PATCH.to_json()
    blind = PATCH_BLIND[1]
    completions = [
        f"{CITES}</think><answer>A</answer>",                                   # right, cites, assisted
        f"{CITES}</think><answer>A</answer>",                                   # right, cites, unassisted
        f"{blind}</think><answer>A</answer>",                                   # right, patch-blind, assisted
        [{"role": "assistant", "content": f"{blind}</think><answer>B</answer>"}],  # wrong
        f"{CITES}</think><answer>A</answer>",                                   # no patch in this group
        "anything",                                                             # no answer column: skipped
    ]
    out = f(prompts=[None] * 6, completions=completions, completion_ids=[None] * 6,
            answer=["A", "A", "A", "A", "A", None], parse_rule=["choice_letter"] * 5 + [None],
            options=[["Image 2", "Image 3"]] * 6, tolerance=[None] * 6,
            patch=[patch, patch, patch, patch, None, None], assisted=[True, False, True, False, False, False])
    assert out == [pytest.approx(1.7), pytest.approx(2.0), pytest.approx(0.7), 0.0, 1.0, None]
    assert out[1] > out[0]  # unassisted beats assisted at equal correctness and citation


def test_kappa_is_configurable_and_checked():
    patch = json.loads(PATCH.to_json())
    kw = dict(completions=["</think><answer>true</answer>"] * 2, answer=["true"] * 2,
              parse_rule=["true_false"] * 2, patch=[patch, patch], assisted=[True, False])
    assert make_rir_reward(kappa=0.0)(**kw) == [1.0, 1.0]
    assert make_rir_reward(kappa=0.5)(**kw) == [0.5, 1.0]
    with pytest.raises(ValueError, match="kappa"):
        make_rir_reward(kappa=-0.1)
    with pytest.raises(ValueError, match="alignment_weight"):
        make_rir_reward(alignment_weight=-1.0)


def test_numeric_answers_use_the_tolerance_and_graded_scores():
    f = make_rir_reward()
    out = f(completions=["image 1 to image 2</think><answer>about 30 degrees</answer>"] * 2,
            answer=["24 deg", "24 deg"], parse_rule=["number", "number"], options=[[], []], tolerance=[10.0, 2.0],
            patch=[None, None], assisted=[False, False])
    assert out == [1.0, 0.0]
    out = f(completions=["</think><answer>about 30°</answer>"], answer=["24 deg"], parse_rule=["number_mra"],
            assisted=[True])
    assert out == [pytest.approx(0.5 - DEFAULT_KAPPA)]  # the outcome is the task reward's graded score
