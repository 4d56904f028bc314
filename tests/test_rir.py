"""The Robust Improvement Reward: outcome + dependency alignment - kappa * assisted."""

from __future__ import annotations

import json

import pytest

from remot_train.rir import (
    DEFAULT_KAPPA,
    alignment_score,
    as_patch,
    cue_words,
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

CITES_ALL = ("In the boxed region near the bottom, the textured edges and corners of image 1 sit at another "
             "horizontal position in image 2, so the whole scene slid.")
CITES_NONE = "I think the camera probably turned, as cameras usually do."


def test_rationale_is_the_reasoning_before_the_answer():
    assert rationale("<think>image 2 shifts</think>\n<answer>A</answer>") == "image 2 shifts"
    assert rationale("image 1 vs image 2</think><answer>x</answer> trailing <answer>B</answer>").startswith("image 1")
    assert rationale("no answer block here") == "no answer block here"


def test_alignment_full_and_none():
    assert alignment_score(CITES_ALL, PATCH) == 1.0
    assert alignment_score(CITES_NONE, PATCH) == 0.0
    assert alignment_score(CITES_ALL, None) == 0.0


def test_alignment_components_and_weights():
    # frames only (0.4 of the weight): both images, nothing else
    assert alignment_score("Image 1 and image 2 look alike.", PATCH) == pytest.approx(0.4)
    # one frame of two, by its timestamp (t=1.5 s names image 2 alone)
    assert alignment_score("At t=1.5 s things differ.", PATCH) == pytest.approx(0.2)
    # t=0 s names image 1 alone too
    assert alignment_score("At 0 s and at 1.50 seconds.", PATCH) == pytest.approx(0.4)
    # a generic mention of the region is half the region's credit
    assert alignment_score("Looking at the region.", PATCH) == pytest.approx(0.15)
    # coordinates within 0.05 locate the box
    assert alignment_score("The box from x=0.31 to 0.69 matters.", PATCH) == pytest.approx(0.3)
    # cue: three content words of the patch text give the full 0.3
    assert alignment_score("horizontal position of textures", PATCH) == pytest.approx(0.3)
    assert alignment_score("horizontal only", PATCH) == pytest.approx(0.1)


def test_alignment_renormalises_when_the_patch_has_no_region():
    p = EvidencePatch("misconception", [1, 2], "Compare the gap between the fingers.")
    assert alignment_score("image 1 and image 2: the gap between the fingers", p) == 1.0
    assert alignment_score("image 1 and image 2", p) == pytest.approx(0.4 / 0.7)


def test_cue_words_skip_instructions():
    words = cue_words(PATCH.text)
    assert {"horizontal", "position", "textured", "edges"} <= set(words)
    assert not {"compare", "inside", "image", "region", "boxed"} & set(words)


def test_as_patch_accepts_json_dicts_and_rejects_garbage():
    assert as_patch(PATCH.to_json()).to_dict() == PATCH.to_dict()
    assert as_patch(PATCH.to_dict()).frames == [1, 2]
    assert as_patch("") is None and as_patch(None) is None
    assert as_patch('{"frames": "nope"}') is None


def test_components_kappa_and_gate():
    good = f"<think>{CITES_ALL}</think><answer>true</answer>"
    c = rir_components(good, "true", "true_false", ["true", "false"], patch=PATCH, assisted=True)
    assert c == {"outcome": 1.0, "alignment": 1.0, "tax": DEFAULT_KAPPA, "rir": pytest.approx(1.7)}
    wrong = f"<think>{CITES_ALL}</think><answer>false</answer>"
    c = rir_components(wrong, "true", "true_false", patch=PATCH, assisted=True)
    assert c["alignment"] == 0.0 and c["rir"] == pytest.approx(-0.3)  # gated: parroting a patch earns nothing
    c = rir_components(wrong, "true", "true_false", patch=PATCH, assisted=False, gate_alignment=False)
    assert c["rir"] == pytest.approx(1.0)


def test_reward_function_in_the_trl_signature():
    f = make_rir_reward()
    assert f.__name__ == "rir"
    patch = PATCH.to_json()
    completions = [
        f"{CITES_ALL}</think><answer>A</answer>",                                   # right, cites, assisted
        f"{CITES_ALL}</think><answer>A</answer>",                                   # right, cites, unassisted
        f"{CITES_NONE}</think><answer>A</answer>",                                  # right, no citation, assisted
        [{"role": "assistant", "content": f"{CITES_NONE}</think><answer>B</answer>"}],  # wrong
        f"{CITES_ALL}</think><answer>A</answer>",                                   # no patch in this group
        "anything",                                                                 # no answer column: skipped
    ]
    out = f(prompts=[None] * 6, completions=completions, completion_ids=[None] * 6,
            answer=["A", "A", "A", "A", "A", None], parse_rule=["choice_letter"] * 5 + [None],
            options=[["Image 2", "Image 3"]] * 6, tolerance=[None] * 6,
            patch=[patch, patch, patch, patch, None, None], assisted=[True, False, True, False, False, False])
    assert out == [pytest.approx(1.7), pytest.approx(2.0), pytest.approx(0.7), 0.0, 1.0, None]
    # unassisted beats assisted at equal correctness and citation
    assert out[1] > out[0]


def test_kappa_is_configurable_and_checked():
    patch = json.loads(PATCH.to_json())
    kw = dict(completions=[f"{CITES_NONE}</think><answer>true</answer>"] * 2, answer=["true"] * 2,
              parse_rule=["true_false"] * 2, patch=[patch, patch], assisted=[True, False])
    assert make_rir_reward(kappa=0.0)(**kw) == [1.0, 1.0]
    assert make_rir_reward(kappa=0.5)(**kw) == [0.5, 1.0]
    with pytest.raises(ValueError):
        make_rir_reward(kappa=-0.1)


def test_numeric_answers_use_the_tolerance():
    f = make_rir_reward()
    out = f(completions=["image 1 to image 2</think><answer>about 30 degrees</answer>"] * 2,
            answer=["24 deg", "24 deg"], parse_rule=["number", "number"], options=[[], []], tolerance=[10.0, 2.0],
            patch=[None, None], assisted=[False, False])
    assert out == [1.0, 0.0]
