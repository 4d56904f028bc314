"""The VQA formulation expert: four question types, three questions per triplet.

Every triplet gets a **multiple-choice** question. When the negative pair starts at the anchor,
image 1 is the anchor and images 2 and 3 the positive and negative in a seeded order ("going from
image 1 to which image is it true that <the subject> <moved so>?"); otherwise (reversed, mirrored
and most retrieved negatives) the two pairs are shown as pair A (images 1->2) and pair B (images
3->4) in a seeded order. The letter is A or B.

Its two other questions follow one of three plans:

* ``compare`` (whenever the two pairs' magnitudes differ by at least ``COMPARE_MIN_RATIO``, which
  only retrieved negatives can): two **comparative** questions, "in which pair was <the
  quantity> larger?" and "... smaller?", shown as pairs A and B in a seeded order. They form a
  *consistency group*: each answer asserts a relation between the magnitudes ``A`` and ``B``
  (``relations`` column), and answering the same pair to both is a contradiction (a cycle).
* ``true_false`` (half of the rest, by seed): a **true/false** question about each pair; each asks
  about the pair's value or another value of the attribute, drawn per question, so that the
  answers are balanced.
* ``fill`` (the other half): a **fill-in-the-blank** question about one pair (drawn) and a
  true/false question about the other. The blank is numeric ("the angle through which the
  camera turned was about ___ degrees"), scored by mean relative accuracy over thresholds
  0.50..0.95 (``parse_rule`` ``number_mra``, as VSI-Bench), for ordered attributes half of the
  time, else categorical ("the camera turned to its ___", one of the attribute's values).
  Distances are asked as numbers only when the source declares metric scale, and compared
  across episodes only then.

Every answer is traceable: ``asserted_pair_id`` names the motion pair whose label or magnitude it
asserts (a comparative asserts the positive pair's magnitude against the negative's), and
``relations`` (:func:`relations_of`) says what each possible answer asserts about the shown
motions, in the notation of :mod:`remot_train.relations` and of the logic reward: ``mIJ`` is the
motion from image I to image J (pair A is ``m12``; pair B is ``m13`` or ``m34``). A comparative
answer asserts an order (``m12 > m34``); a multiple-choice, true/false or categorical answer
asserts directions, ``("m12", "is", "left")``, or ``is_not`` when the attribute has more than two
values (answering *false* to "the gripper opened" leaves closing and holding). Numeric blanks
assert none.

No text ever contains its answer: the words are the same whatever the answer (a test checks
it). Every question carries a ``rationale`` (:func:`rationale`): the metadata's account of each
shown pair, step by step, naming the answer only in the last step, where it also states its
reading in the scaffold's notation.
"""

from __future__ import annotations

import pyarrow as pa

from data_contracts import conform, empty
from remot_pipeline.core.ledger import StageResult
from remot_pipeline.core.triplets import stable_key

#: The CoT instruction ending every prompt. It asks for the notation the logic reward reads
#: (:mod:`remot_train.rewards.logic`): ``[m12 > m34]`` / ``[m12 = 24]`` for sizes, ``[m12: left]``
#: for directions. Its examples use the placeholders I, J, K, L, so a model that quotes the
#: instruction states nothing. It starts with "Think step by step" and ends with "</answer>."
#: (the audit strips it by that pattern) and names no direction (it ends every prompt alike).
SCAFFOLD = (
    "Think step by step inside <think> </think>, noting findings as [mIJ > mKL], [mIJ = 12] or [mIJ: word] "
    "(mIJ: the motion from image I to image J). Then give only the final answer inside <answer> </answer>."
)

# (attribute, value) -> the predicate, phrased per domain's natural subject. Every direction is
# stated in one frame: the camera's own (it turned to its left), the image (the gripper moved
# toward the left of the image: the robot may face the camera, so "its left" would be ambiguous),
# or a declared one (up, away from the table; seen from above).
_PHRASES: dict[str, dict[str, str]] = {
    "yaw": {"left": "the camera turned to its left", "right": "the camera turned to its right"},
    "camera_motion": {"stationary": "the camera stayed still", "moving": "the camera moved"},
    "pitch": {"up": "the camera tilted upwards", "down": "the camera tilted downwards"},
    "roll": {"clockwise": "the camera rolled clockwise (the image turned counterclockwise)",
             "counterclockwise": "the camera rolled counterclockwise (the image turned clockwise)"},
    "translation_forward": {"forward": "the camera moved forward", "backward": "the camera moved backward"},
    "translation_lateral": {"right": "the camera moved to its right", "left": "the camera moved to its left"},
    "translation_vertical": {"up": "the camera moved up", "down": "the camera moved down"},
    "ee_lateral": {"right": "the robot's gripper moved toward the right of the image",
                   "left": "the robot's gripper moved toward the left of the image"},
    "ee_vertical": {"up": "the robot's gripper moved up (away from the table)",
                    "down": "the robot's gripper moved down (toward the table)"},
    "ee_depth": {"away": "the robot's gripper moved away from the camera", "toward": "the robot's gripper moved toward the camera"},
    "gripper": {"opening": "the robot's gripper opened", "closing": "the robot's gripper closed",
                "holding": "the robot's gripper kept holding its object"},
    "phase": {"approach": "the robot was approaching the object", "grasp": "the robot was grasping the object",
              "lift": "the robot was lifting the object", "place": "the robot was placing the object"},
    "wrist_rotation": {"clockwise": "the robot's gripper rotated clockwise in the image",
                       "counterclockwise": "the robot's gripper rotated counterclockwise in the image"},
    "camera_yaw": {"left": "the camera turned to its left", "right": "the camera turned to its right"},
    "camera_pitch": {"up": "the camera tilted upwards", "down": "the camera tilted downwards"},
    "camera_forward": {"forward": "the camera moved forward", "backward": "the camera moved backward"},
    "camera_lateral": {"right": "the camera moved to its right", "left": "the camera moved to its left"},
    "object_lateral": {"right": "the {color} object moved toward the right of the image",
                       "left": "the {color} object moved toward the left of the image"},
    "object_depth": {"away": "the {color} object moved away from the camera", "toward": "the {color} object moved toward the camera"},
    "object_rotation": {"counterclockwise": "the {color} object spun counterclockwise (seen from above)",
                        "clockwise": "the {color} object spun clockwise (seen from above)"},
}


#: Attributes whose values are not ordered by a magnitude: no numeric blank, no comparison.
UNORDERED = frozenset({"phase", "camera_motion"})
#: A comparison is asked only when one pair's magnitude is at least this multiple of the other's.
COMPARE_MIN_RATIO = 1.25

#: attribute -> (the magnitude, as a noun phrase; unit family). ``{color}`` as in ``_PHRASES``.
_QUANTITY: dict[str, str] = {
    "yaw": "the angle through which the camera turned (left or right)",
    "camera_yaw": "the angle through which the camera turned (left or right)",
    "pitch": "the angle through which the camera tilted (up or down)",
    "camera_pitch": "the angle through which the camera tilted (up or down)",
    "roll": "the angle through which the camera rolled",
    "translation_forward": "the distance the camera moved forward or backward",
    "camera_forward": "the distance the camera moved forward or backward",
    "translation_lateral": "the distance the camera moved sideways",
    "camera_lateral": "the distance the camera moved sideways",
    "translation_vertical": "the distance the camera moved up or down",
    "ee_lateral": "the distance the robot's gripper moved across the image",
    "ee_vertical": "the distance the robot's gripper moved up or down",
    "ee_depth": "the distance the robot's gripper moved toward or away from the camera",
    "gripper": "the change in the width of the robot's gripper opening",
    "wrist_rotation": "the angle through which the robot's gripper rotated in the image",
    "object_lateral": "the distance the {color} object moved across the image",
    "object_depth": "the distance the {color} object moved toward or away from the camera",
    "object_rotation": "the angle through which the {color} object spun",
}

#: attribute -> (sentence with a blank, {value: the word that fills it}).
_BLANK: dict[str, tuple[str, dict[str, str]]] = {
    "yaw": ("the camera turned to its ___", {"left": "left", "right": "right"}),
    "camera_yaw": ("the camera turned to its ___", {"left": "left", "right": "right"}),
    "pitch": ("the camera tilted ___", {"up": "up", "down": "down"}),
    "camera_pitch": ("the camera tilted ___", {"up": "up", "down": "down"}),
    "roll": ("the camera rolled ___", {"clockwise": "clockwise", "counterclockwise": "counterclockwise"}),
    "translation_forward": ("the camera moved ___", {"forward": "forward", "backward": "backward"}),
    "camera_forward": ("the camera moved ___", {"forward": "forward", "backward": "backward"}),
    "translation_lateral": ("the camera moved to its ___", {"right": "right", "left": "left"}),
    "camera_lateral": ("the camera moved to its ___", {"right": "right", "left": "left"}),
    "translation_vertical": ("the camera moved ___", {"up": "up", "down": "down"}),
    "camera_motion": ("the camera was ___", {"stationary": "stationary", "moving": "moving"}),
    "ee_lateral": ("the robot's gripper moved toward the ___ of the image", {"right": "right", "left": "left"}),
    "ee_vertical": ("the robot's gripper moved ___ (relative to the table)", {"up": "up", "down": "down"}),
    "ee_depth": ("the robot's gripper moved ___ the camera", {"away": "away from", "toward": "toward"}),
    "gripper": ("the robot's gripper was ___", {"opening": "opening", "closing": "closing", "holding": "holding"}),
    "phase": ("the robot was in the ___ phase of its task",
              {"approach": "approach", "grasp": "grasp", "lift": "lift", "place": "place"}),
    "wrist_rotation": ("the robot's gripper rotated ___ in the image",
                       {"clockwise": "clockwise", "counterclockwise": "counterclockwise"}),
    "object_lateral": ("the {color} object moved toward the ___ of the image", {"right": "right", "left": "left"}),
    "object_depth": ("the {color} object moved ___ the camera", {"away": "away from", "toward": "toward"}),
    "object_rotation": ("the {color} object spun ___ (seen from above)",
                        {"clockwise": "clockwise", "counterclockwise": "counterclockwise"}),
}

#: unit family -> (answer unit, words in the text, scale from the label's unit, decimals).
#: Numeric answers are scored by mean relative accuracy (``parse_rule`` ``number_mra``,
#: :func:`remot_train.scoring.mean_relative_accuracy`), so no tolerance is stored.
_NUMBER = {
    "rotation_deg": ("deg", "degrees", 1.0, 0),
    "camera_translation_m": ("m", "metres", 1.0, 2),
    "object_translation_m": ("m", "metres", 1.0, 2),
    "ee_translation_m": ("cm", "centimetres", 100.0, 1),
    "gripper_m": ("cm", "centimetres", 100.0, 1),
}
_FAMILY = {"yaw": "rotation_deg", "camera_yaw": "rotation_deg", "pitch": "rotation_deg", "roll": "rotation_deg",
           "camera_pitch": "rotation_deg", "wrist_rotation": "rotation_deg", "object_rotation": "rotation_deg",
           "translation_forward": "camera_translation_m", "translation_lateral": "camera_translation_m",
           "translation_vertical": "camera_translation_m", "camera_forward": "camera_translation_m",
           "camera_lateral": "camera_translation_m",
           "ee_lateral": "ee_translation_m", "ee_vertical": "ee_translation_m", "ee_depth": "ee_translation_m",
           "gripper": "gripper_m", "object_lateral": "object_translation_m", "object_depth": "object_translation_m"}
#: Families whose magnitude is a distance: asked as a number only when the source is metric.
DISTANCE_FAMILIES = frozenset({"camera_translation_m", "object_translation_m", "ee_translation_m", "gripper_m"})


def _fill_color(text: str, attribute: str, color: str | None) -> str:
    if "{color}" in text:
        if not color:
            raise ValueError(f"attribute {attribute!r} needs the object's colour")
        text = text.format(color=color)
    return text


def numeric_answer(attribute: str, magnitude: float) -> str:
    """The answer of a numeric blank about a pair with this signed magnitude (number and unit).

    >>> numeric_answer("yaw", -23.6), numeric_answer("ee_depth", 0.125), numeric_answer("translation_forward", 1.234)
    ('24 deg', '12.5 cm', '1.23 m')
    """
    unit, _, scale, decimals = _NUMBER[_FAMILY[attribute]]
    return f"{abs(magnitude) * scale:.{decimals}f} {unit}"


def metric_ok(attribute: str, metric: bool) -> bool:
    """Whether a magnitude of this attribute may be asked as a number: angles always, distances
    only when the source declares metric scale."""
    return attribute in _FAMILY and (metric or _FAMILY[attribute] not in DISTANCE_FAMILIES)


def ordered(attribute: str, *values: str) -> bool:
    """Whether the attribute's values here are ordered by a magnitude (numeric blank, comparison)."""
    return attribute in _FAMILY and "holding" not in values


def phrase(attribute: str, value: str, color: str | None) -> str:
    return _fill_color(_PHRASES[attribute][value], attribute, color)


def _other(attribute: str, value: str, share: dict[str, float] | None, *key: object) -> str:
    """Another value of the attribute to ask about in a false claim.

    With two values it is the other one. With more (phase, gripper), a claim must not be
    predictable from its words: each value must be asked falsely as often as it is asked truly,
    i.e. as often as it occurs (``share``, the value's frequency among the asked pairs). The
    values' shares are laid end to end on a circle of length 1; a point drawn by ``key`` in this
    value's arc, moved half way round, lands in the arc of the value to ask. The map preserves
    length, so every value is asked with its own frequency, and it never lands in its own arc
    when no value holds more than half of the mass (then it takes the next value).

    >>> share = {"approach": 0.4, "grasp": 0.3, "lift": 0.1, "place": 0.2}
    >>> asked = [_other("phase", v, share, i) for v in share for i in range(int(share[v] * 1000))]
    >>> {v: round(asked.count(v) / 1000, 1) for v in share}
    {'approach': 0.4, 'grasp': 0.3, 'lift': 0.1, 'place': 0.2}
    """
    values = list(_PHRASES[attribute])
    others = [v for v in values if v != value]
    if len(others) == 1:
        return others[0]
    mass = {v: (share or {}).get(v, 0.0) for v in values}
    total = sum(mass.values())
    if total <= 0 or mass[value] <= 0:
        return others[int(stable_key(*key, attribute, value)[:8], 16) % len(others)]
    start = {}
    acc = 0.0
    for v in values:
        start[v] = acc
        acc += mass[v] / total
    u = (int(stable_key(*key, attribute, value)[:8], 16) + 0.5) / 16**8
    y = (start[value] + u * mass[value] / total + 0.5) % 1.0
    landed = next(v for v in reversed(values) if start[v] <= y and mass[v] > 0)
    return landed if landed != value else others[0]


def _bit(*parts: object) -> int:
    return int(stable_key(*parts)[:8], 16) & 1


def shares_anchor(t: dict) -> bool:
    """Whether the negative pair starts at the anchor's own (unmirrored) image, in the same episode
    (another episode's frame with the same index is another image)."""
    return (t["negative_anchor_frame_index"] == t["anchor_frame_index"] and t["negative_transform"] == "none"
            and t.get("negative_episode_id", t["episode_id"]) == t["episode_id"])


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
#: ``{pairs}`` defines pairs A and B; ``{quantity}`` is a noun phrase; ``{more}`` larger / smaller.
COMPARE_TEMPLATES = (
    "{pairs} In which pair was {quantity} {more}?",
    "{pairs} Compare {quantity} in the two pairs. In which pair was it {more}?",
    "{pairs} Was {quantity} {more} in pair A or in pair B?",
)
NUMBER_TEMPLATES = (
    "Between image 1 and image 2, {quantity} was about ___ {unit}. Fill in the blank with a number.",
    "From image 1 to image 2, estimate {quantity}. Fill in the blank with a number: about ___ {unit}.",
    "Fill in the blank with a number: from image 1 to image 2, {quantity} was roughly ___ {unit}.",
)
BLANK_TEMPLATES = (
    "Fill in the blank with one of {options}: between image 1 and image 2, {sentence}.",
    "Between image 1 and image 2, {sentence}. Fill in the blank with one of {options}.",
    "Complete the sentence with one of {options}: from image 1 to image 2, {sentence}.",
)


def _template(templates: tuple[str, ...], *key: object) -> str:
    return templates[int(stable_key(*key)[:8], 16) % len(templates)]


def _images(n: int) -> str:
    return "".join(f"Image {i}: <image>\n" for i in range(1, n + 1))


def _question(base: dict, qtype: str, text: str, roles: list[str], answer: str, options: list[str], rule: str,
              pair_id: str, tolerance: float | None = None, group: str | None = None,
              relations: list[dict] | None = None) -> dict:
    prompt = _images(len(roles)) + text + "\n" + SCAFFOLD
    return {**base, "question_type": qtype, "prompt": prompt, "image_roles": roles, "answer": answer,
            "options": options, "parse_rule": rule, "tolerance": tolerance, "consistency_group_id": group,
            "relations": relations or [], "asserted_pair_id": pair_id}


def _pair_roles(t: dict, pos_first: bool) -> tuple[list[str], str]:
    """Image roles of pairs A and B (positive first or not), and the sentence that defines them."""
    if shares_anchor(t):
        roles = ["anchor", "positive", "negative"] if pos_first else ["anchor", "negative", "positive"]
        return roles, "Pair A goes from image 1 to image 2; pair B goes from image 1 to image 3."
    pairs = [["anchor", "positive"], ["negative_anchor", "negative"]]
    roles = pairs[0] + pairs[1] if pos_first else pairs[1] + pairs[0]
    return roles, "Pair A goes from image 1 to image 2; pair B goes from image 3 to image 4."


def motions(roles: list[str]) -> list[str]:
    """The names of the motions a question shows, pair A's first: ``mIJ`` from image I to image J.

    >>> motions(["anchor", "positive"]), motions(["anchor", "negative", "positive"]), motions(["a", "b", "c", "d"])
    (['m12'], ['m12', 'm13'], ['m12', 'm34'])
    """
    return {2: ["m12"], 3: ["m12", "m13"], 4: ["m12", "m34"]}[len(roles)]


def direction(attribute: str, motion: str, value: str, holds: bool) -> list[tuple[str, str, str]]:
    """What "``motion`` has (``holds``) / has not the attribute's ``value``" asserts: ``is value``,
    else ``is`` the other value of a two-valued attribute, else ``is_not value``.

    >>> direction("yaw", "m12", "left", False), direction("gripper", "m12", "opening", False)
    ([('m12', 'is', 'right')], [('m12', 'is_not', 'opening')])
    """
    others = [v for v in _PHRASES[attribute] if v != value]
    if holds:
        return [(motion, "is", value)]
    return [(motion, "is", others[0])] if len(others) == 1 else [(motion, "is_not", value)]


def relations_of(by_answer: dict[str, list[tuple[str, str, str]]]) -> list[dict]:
    """The ``relations`` column: one ``{if_answer, left, op, right}`` per relation an answer asserts."""
    return [{"if_answer": answer, "left": left, "op": op, "right": right}
            for answer, rels in by_answer.items() for left, op, right in rels]


def _metric(t: dict) -> bool:
    """Whether both pairs' sources declare metric scale (``episodes.metric_scale``)."""
    return bool(t.get("metric", True))


def plan(t: dict, seed: int) -> str:
    """Which questions follow the multiple choice: ``compare``, ``true_false`` or ``fill``.

    A comparison needs ordered magnitudes that differ by :data:`COMPARE_MIN_RATIO`; distances
    of a scale-free source are compared only within one episode (one unknown scale)."""
    a, b = abs(t["positive_magnitude"]), abs(t["negative_magnitude"])
    attr = t["attribute"]
    comparable = metric_ok(attr, _metric(t)) or t.get("negative_episode_id", t["episode_id"]) == t["episode_id"]
    if ordered(attr, t["positive_value"], t["negative_value"]) and comparable and min(a, b) > 0 \
            and max(a, b) >= COMPARE_MIN_RATIO * min(a, b):
        return "compare"
    return ("true_false", "fill")[_bit(seed, t["triplet_id"], "plan")]


def _multiple_choice(t: dict, seed: int, base: dict) -> dict:
    pos_first = _bit(seed, t["triplet_id"], "mc") == 0
    claim = phrase(t["attribute"], t["positive_value"], t["object_color"])
    if shares_anchor(t):
        roles = ["anchor", "positive", "negative"] if pos_first else ["anchor", "negative", "positive"]
        text = _template(MC_IMAGE_TEMPLATES, seed, t["triplet_id"], "mc-text").format(claim=claim)
        options = ["Image 2", "Image 3"]
    else:
        roles, _ = _pair_roles(t, pos_first)
        text = _template(MC_PAIR_TEMPLATES, seed, t["triplet_id"], "mc-text").format(claim=claim)
        options = ["Pair A", "Pair B"]
    text += "".join(f"\n{letter}) {o}" for letter, o in zip("AB", options))
    # Answering a letter asserts that its motion has the claimed value and the other one has not
    # (exactly one option shows it: the negative's value differs from the positive's).
    a, b = motions(roles)
    attr, value = t["attribute"], t["positive_value"]
    relations = relations_of({"A": direction(attr, a, value, True) + direction(attr, b, value, False),
                              "B": direction(attr, b, value, True) + direction(attr, a, value, False)})
    return _question(base, "multiple_choice", text, roles, "A" if pos_first else "B", options, "choice_letter",
                     t["positive_pair_id"], relations=relations)


def _true_false(t: dict, seed: int, base: dict, which: str, shares: dict | None = None) -> dict:
    first, value, pair_id = (("anchor", t["positive_value"], t["positive_pair_id"]) if which == "positive"
                             else ("negative_anchor", t["negative_value"], t["negative_pair_id"]))
    ask_true = _bit(seed, t["triplet_id"], "tf", which) == 0
    asked = value if ask_true else _other(t["attribute"], value, (shares or {}).get(t["attribute"]), seed,
                                          t["triplet_id"], which)
    text = _template(TF_TEMPLATES, seed, t["triplet_id"], "tf-text", which).format(
        claim=phrase(t["attribute"], asked, t["object_color"]))
    relations = relations_of({"true": direction(t["attribute"], "m12", asked, True),
                              "false": direction(t["attribute"], "m12", asked, False)})
    q = _question(base, "true_false", text, [first, which], "true" if ask_true else "false", ["true", "false"],
                  "true_false", pair_id, relations=relations)
    q["_claim"] = asked
    return q


def _fill(t: dict, seed: int, base: dict, which: str) -> dict:
    attr, color = t["attribute"], t["object_color"]
    first, value, magnitude, pair_id = (
        ("anchor", t["positive_value"], t["positive_magnitude"], t["positive_pair_id"]) if which == "positive"
        else ("negative_anchor", t["negative_value"], t["negative_magnitude"], t["negative_pair_id"]))
    roles = [first, which]
    metric = _metric(t) if which == "negative" else bool(t.get("positive_metric", _metric(t)))
    if ordered(attr, t["positive_value"], t["negative_value"]) and metric_ok(attr, metric) \
            and _bit(seed, t["triplet_id"], "numeric"):
        text = _template(NUMBER_TEMPLATES, seed, t["triplet_id"], "number-text").format(
            quantity=_fill_color(_QUANTITY[attr], attr, color), unit=_NUMBER[_FAMILY[attr]][1])
        return _question(base, "fill_blank", text, roles, numeric_answer(attr, magnitude), [], "number_mra", pair_id)
    sentence, words = _BLANK[attr]
    options = sorted(words.values())
    text = _template(BLANK_TEMPLATES, seed, t["triplet_id"], "blank-text").format(
        sentence=_fill_color(sentence, attr, color), options="(" + ", ".join(options) + ")")
    relations = relations_of({word: [("m12", "is", v)] for v, word in words.items()})
    return _question(base, "fill_blank", text, roles, words[value], options, "categorical", pair_id,
                     relations=relations)


def _comparatives(t: dict, seed: int, base: dict) -> list[dict]:
    """Two comparisons of the pairs' magnitudes ("larger", "smaller"): one consistency group."""
    pos_first = _bit(seed, t["triplet_id"], "compare") == 0
    roles, pairs = _pair_roles(t, pos_first)
    pos_larger = abs(t["positive_magnitude"]) > abs(t["negative_magnitude"])
    group = stable_key(t["triplet_id"], "compare")[:20]
    quantity = _fill_color(_QUANTITY[t["attribute"]], t["attribute"], t["object_color"])
    out = []
    for more, op in (("larger", ">"), ("smaller", "<")):
        text = _template(COMPARE_TEMPLATES, seed, t["triplet_id"], "compare-text", more).format(
            pairs=pairs, quantity=quantity, more=more) + "\nA) Pair A\nB) Pair B"
        positive_answers = pos_larger == (more == "larger")  # the positive pair is the answer
        answer = "A" if positive_answers == pos_first else "B"
        a, b = motions(roles)
        relations = relations_of({"A": [(a, op, b)], "B": [(b, op, a)]})
        q = _question(base, "comparative", text, list(roles), answer, ["Pair A", "Pair B"], "choice_letter",
                      t["positive_pair_id"], group=group, relations=relations)
        q["_more"] = more
        out.append(q)
    return out


# ------------------------------------------------------------------------ rationales ---

_AXES = "in the first image's camera axes (x along the image's columns, y along its rows, z along the view)"
_SUBJECT = {"camera": "the camera", "gripper": "the robot's gripper", "object": "the {color} object"}


def _vec(v, scale: float = 1.0, decimals: int = 2) -> str:
    """``(x, y, z)`` with ``decimals``; a value that rounds to zero prints as 0, never -0.

    >>> _vec([-0.00001, 0.5, -1.25], 1.0, 1)
    '(0.0, 0.5, -1.2)'
    """
    return "(" + ", ".join(f"{round(x * scale, decimals) + 0.0:.{decimals}f}" for x in v) + ")"


def evidence(t: dict, which: str) -> str:
    """What the metadata says about one pair's motion, in neutral axes and signed numbers: never a
    direction word, so the step does not name an answer. ``which``: positive | negative."""
    from remot_pipeline.core.visibility import SUBJECT

    attr, m = t["attribute"], t.get(f"{which}_motion") or {}
    magnitude = t[f"{which}_magnitude"]
    units = "m" if (t.get("positive_metric", True) if which == "positive" else _metric(t)) else \
        "units of the source's (unknown) scale"
    subject = SUBJECT.get(attr, "camera")
    if attr == "camera_motion":
        return (f"the camera rotated through {m.get('rotation_angle_deg') or 0.0:.2f} deg and its centre moved "
                f"{m.get('cam_translation_norm_m') or 0.0:.3f} {units}")
    if subject == "camera" and _FAMILY.get(attr) == "rotation_deg":
        rv = [x * 57.29577951308232 for x in (m.get("cam_rotvec_a_rad") or [0.0, 0.0, 0.0])]
        return f"the camera's rotation vector {_AXES} is {_vec(rv, 1.0, 1)} deg"
    if subject == "camera":
        return f"the camera's centre was displaced by {_vec(m.get('cam_translation_a_m') or [0, 0, 0], 1.0, 3)} {units} {_AXES}"
    if attr == "gripper":
        return f"the gap between the gripper's fingers changed by {m.get('gripper_delta_m') or 0.0:+.3f} m"
    if attr == "phase":
        disp = m.get("ee_disp_base_m") or [0.0, 0.0, 0.0]
        dt = abs((t.get(f"{which}_timestamp_s") or 0.0)
                 - (t.get(f"{'anchor' if which == 'positive' else 'negative_anchor'}_timestamp_s") or 0.0))
        return (f"over {dt:.1f} s the gripper's height above the robot's base changed by {disp[2]:+.3f} m, "
                f"its horizontal position by {(disp[0] ** 2 + disp[1] ** 2) ** 0.5:.3f} m, and the gap "
                f"between its fingers by {m.get('gripper_delta_m') or 0.0:+.3f} m")
    if attr == "wrist_rotation":
        return (f"the gripper's rotation about the camera's viewing axis, signed from the image's x axis to its y "
                f"axis, is {magnitude:+.1f} deg")
    if subject == "gripper":
        d = m.get("ee_disp_cam_m") or [0.0, 0.0, 0.0]
        zb = (m.get("ee_disp_base_m") or [0.0, 0.0, 0.0])[2]
        return (f"the gripper's displacement {_AXES} is {_vec(d, 1.0, 3)} m, and its height above the robot's "
                f"base changed by {zb:+.3f} m")
    color = t.get("object_color") or ""
    if attr == "object_rotation":
        return (f"the {color} object's own rotation about the world's vertical axis, signed right-handed about the "
                f"axis pointing against gravity, is {magnitude:+.1f} deg")
    return (f"the {color} object's own displacement (the camera's motion removed) {_AXES} is "
            f"{_vec(m.get('object_disp_a_m') or [0, 0, 0], 1.0, 3)} {units}")


def _pairs_shown(roles: list[str]) -> list[tuple[str, str, str]]:
    """``(name, images, which triplet pair)`` for each pair a question shows."""
    which = lambda r: "positive" if "positive" in r else "negative"  # noqa: E731
    if len(roles) == 2:
        return [("the pair", "image 1 to image 2", which(roles[1]))]
    if len(roles) == 3:
        return [("pair A", "image 1 to image 2", which(roles[1])), ("pair B", "image 1 to image 3", which(roles[2]))]
    return [("pair A", "image 1 to image 2", which(roles[1])), ("pair B", "image 3 to image 4", which(roles[3]))]


def rationale(t: dict, q: dict) -> str:
    """Step-by-step reasoning for one question, worded from the metadata.

    The steps before the last state what the poses say each shown pair did, in neutral axes and
    signed numbers; the last step reads them as the attribute's value, states that reading in the
    scaffold's notation (``[m12: left]``, ``[m12 = 24] [m34 = 8] [m12 > m34]``: what the logic
    reward reads, so SFT teaches what GRPO rewards) and gives the answer. So
    the answer (a letter's pair, true/false, the blank's word, the number) is named only in the
    last step (a test checks it)."""
    attr, color = t["attribute"], t.get("object_color")
    shown = _pairs_shown(list(q["image_roles"]))
    from remot_pipeline.core.visibility import SUBJECT

    subject = _fill_color(_SUBJECT[SUBJECT.get(attr, "camera")], attr, color)
    steps = [f"I compare the images to see how {subject} moved."]
    for name, images, which in shown:
        steps.append(f"In {name} ({images}), {evidence(t, which)}.")
    reads = [f"in {name} {phrase(attr, t[f'{which}_value'], color)}" for name, _, which in shown]
    names = motions(list(q["image_roles"]))
    said = " ".join(f"[{m}: {t[f'{which}_value']}]" for m, (_, _, which) in zip(names, shown))
    qt, answer = q["question_type"], q["answer"]
    if qt == "multiple_choice":
        last = f"So {' and '.join(reads)}: {said}; the statement holds for option {answer}, so the answer is {answer}."
    elif qt == "true_false":
        asked = phrase(attr, q["_claim"], color)
        last = f"So {reads[0].removeprefix('in the pair ')}: {said}; the claim that {asked} is therefore {answer}."
    elif qt == "comparative":
        unit, _, scale, decimals = _NUMBER[_FAMILY[attr]]
        sizes = [f"{abs(t[f'{which}_magnitude']) * scale:.{decimals}f}" for _, _, which in shown]
        prose = [f"{size} {unit} in {name}" for size, (name, _, _) in zip(sizes, shown)]
        larger = abs(t[f"{shown[0][2]}_magnitude"]) > abs(t[f"{shown[1][2]}_magnitude"])
        stated = [f"[{m} = {size}]" for m, size in zip(names, sizes)] if float(sizes[0]) != float(sizes[1]) else []
        stated.append(f"[{names[0]} {'>' if larger else '<'} {names[1]}]")
        last = f"So {_fill_color(_QUANTITY[attr], attr, color)} is {' and '.join(prose)}: {' '.join(stated)}; it is " \
               f"{q['_more']} in pair {answer}, so the answer is {answer}."
    elif q["parse_rule"] == "number_mra":
        last = f"So {_fill_color(_QUANTITY[attr], attr, color)} was about {answer} [m12 = {answer.split()[0]}]."
    else:
        last = f"So {reads[0].removeprefix('in the pair ')} {said}: the blank is \"{answer}\"."
    steps.append(last)
    return " ".join(f"Step {i}: {s[0].upper() + s[1:]}" for i, s in enumerate(steps, 1))


def value_shares(triplets: pa.Table) -> dict[str, dict[str, float]]:
    """``{attribute: {value: share}}`` over the triplets' positive and negative pairs."""
    counts: dict[str, dict[str, int]] = {}
    cols = triplets.select(["attribute", "positive_value", "negative_value"]).to_pydict()
    for a, p, n in zip(cols["attribute"], cols["positive_value"], cols["negative_value"]):
        for v in (p, n):
            counts.setdefault(a, {}).setdefault(v, 0)
            counts[a][v] += 1
    return {a: {v: k / sum(c.values()) for v, k in c.items()} for a, c in counts.items()}


def triplet_questions(t: dict, seed: int, shares: dict[str, dict[str, float]] | None = None) -> list[dict]:
    """Three questions for one triplet row (a dict of the triplets contract's columns; optional
    ``positive_metric`` / ``metric``: whether the positive's / the negative's source is metric).

    ``shares`` (:func:`value_shares` of the whole table) balances false claims about attributes
    with more than two values; without it they are drawn uniformly."""
    base = {k: t[k] for k in ("triplet_id", "episode_id", "domain", "split", "attribute")}
    out = [_multiple_choice(t, seed, base)]
    kind = plan(t, seed)
    if kind == "compare":
        out += _comparatives(t, seed, base)
    elif kind == "true_false":
        out += [_true_false(t, seed, base, "positive", shares), _true_false(t, seed, base, "negative", shares)]
    else:
        blank = ("positive", "negative")[_bit(seed, t["triplet_id"], "blank")]
        other = "negative" if blank == "positive" else "positive"
        pair = {blank: _fill(t, seed, base, blank), other: _true_false(t, seed, base, other, shares)}
        out += [pair["positive"], pair["negative"]]
    for q in out:
        q["question_id"] = stable_key(q["triplet_id"], q["question_type"], q["image_roles"], q["prompt"])[:20]
        q["rationale"] = rationale(t, q)
        q.pop("_claim", None)
        q.pop("_more", None)
    return out


QUESTION_COLUMNS = ("triplet_id", "episode_id", "domain", "split", "attribute", "object_color", "positive_value",
                    "negative_value", "positive_magnitude", "negative_magnitude", "positive_pair_id",
                    "negative_pair_id", "anchor_frame_index", "negative_anchor_frame_index", "negative_transform",
                    "negative_episode_id", "positive_motion", "negative_motion", "anchor_timestamp_s",
                    "positive_timestamp_s", "negative_anchor_timestamp_s", "negative_timestamp_s")


def build_questions(triplets: pa.Table, seed: int, metric_episodes: set[str] | None = None,
                    chunk_rows: int = 4096) -> StageResult:
    """Three questions per triplet. ``metric_episodes``: episodes whose source is metric (None:
    all are); distances of the others are never asked as numbers. A triplet's questions depend
    on it, the seed and the domain's value shares only, so they are made ``chunk_rows``
    triplets at a time (the same table, whatever the chunk)."""
    if triplets.num_rows == 0:
        return StageResult(empty("questions"), empty("quarantine"), 0, {})
    shares = value_shares(triplets)
    parts = []
    source = triplets.select(list(QUESTION_COLUMNS))
    for start in range(0, source.num_rows, chunk_rows):  # Python rows a chunk at a time: memory flat in T
        rows = []
        for t in source.slice(start, chunk_rows).to_pylist():
            if metric_episodes is not None:
                t["positive_metric"] = t["episode_id"] in metric_episodes
                t["metric"] = t["positive_metric"] and t["negative_episode_id"] in metric_episodes
            rows += triplet_questions(t, seed, shares)
        parts.append(conform(pa.Table.from_pylist(rows, schema=None), "questions"))
        del rows
    table = pa.concat_tables(parts).combine_chunks()
    # Ledger unit: question slots (3 per triplet); every slot yields a question.
    return StageResult(table, empty("quarantine"), 3 * triplets.num_rows, {})
