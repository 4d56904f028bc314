"""The leakage guard: a patch may point at evidence, never at the answer.

:func:`check_leak` returns the reason a patch leaks, or None. Every teacher runs it on every
patch before the patch is used (``base.BaseTeacher``, or ``base.guarded`` around any other
teacher). The rules, in the order they are checked:

1. **Verdict phrases**: "the answer is", "correct answer/option/choice/image/pair", "is correct",
   "is incorrect", "is wrong", "is true", "is false" (case-insensitive).
2. **The answer text**: for true/false questions the answer word ("true"/"false") as a
   standalone word. For choice questions the answer letter as an option reference: ``(B)``,
   ``B)``, ``[B]``, "answer B", "option b", "choice B", "letter B", "pick/choose/select B", or a
   bare capital letter token (a capital ``A`` counts only when it is not followed by a
   lower-case word, where it would be the article; ``Pair A``/``Image 2`` are option texts,
   handled by rule 3).
3. **Option text that identifies the answer**: the correct option's text ("Image 3", "Pair B")
   when the patch names it and does not also name every other option. Naming all options
   ("compare image 2 and image 3 with image 1") is evidence, not an answer.
4. **Value words**: the words of the correct label's phrase in
   ``remot_pipeline.core.questions._PHRASES`` that the attribute's other values' phrases do not
   share (``left`` for yaw = left), minus function words and subject nouns (the, its, from,
   object, camera, gripper, ...), plus the value name itself, their inflections (``close``,
   ``closed``, ``closes``, ``closing``) and a few synonyms (``anticlockwise``, ``leftward``,
   ``towards``). Hyphens between letters are ignored (``counter-clockwise``). The correct label
   is the shown pair's value for a true/false question, and *both* values for a choice question
   (the positive's value is in the prompt already, so naming any value next to an image tells
   which image shows it). A categorical fill-in's answer phrase ("away from") counts as well.
5. **Magnitudes** (comparative and numeric fill-in questions): a number with a unit of angle
   or length ("24 deg", "0.3 m", "12°"); for a numeric blank also a bare number within the
   answer's tolerance of it (numbers after "image", "frame", "pair", "zoom" are indices, not
   magnitudes); for a comparative question, comparison words (larger, smaller, more, less,
   bigger, farther, faster, ...), which would say which pair moved more.
6. **Structure**: for choice questions, the frames or the regions cover the images of the
   correct option but not those of every other option (the evidence itself singles the answer
   out); and timestamps that decrease within a displayed pair (which reveals a time-reversed
   negative, and so which pair is the positive).
"""

from __future__ import annotations

import re
from functools import lru_cache

from remot_pipeline.core.questions import _PHRASES

#: Words removed from the value vocabulary: function words and the subject nouns every value's
#: phrase shares in spirit (a teacher must be able to say "the gripper" or "the object").
STOPWORDS = frozenset(
    "the a an its it to of from and was is were be by with in on at camera robot robot's gripper object "
    "objects image images moved".split()
)
# "moved" is a stopword for every attribute but camera_motion, whose "moving" value keeps it (below).

#: Synonyms added to a value's leak words.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "left": ("leftward", "leftwards", "leftmost"),
    "right": ("rightward", "rightwards", "rightmost"),
    "up": ("upward", "upwards"),
    "down": ("downward", "downwards"),
    "upwards": ("up", "upward"),
    "downwards": ("down", "downward"),
    "clockwise": ("cw",),
    "counterclockwise": ("anticlockwise", "ccw"),
    "forward": ("forwards", "ahead"),
    "backward": ("backwards",),
    "toward": ("towards", "closer", "nearer", "approaching"),
    "away": ("farther",),
    "opened": ("opening", "widened", "widening"),
    "closed": ("closing", "narrowed", "narrowing"),
    "stationary": ("still", "static", "motionless"),
    "moving": ("moved", "moves", "move"),
}

_VERDICTS = re.compile(
    r"\bthe\s+answer\s+is\b|\b(?:correct|right)\s+(?:answer|option|choice|image|pair|letter)\b"
    r"|\bis\s+(?:correct|incorrect|wrong|true|false)\b",
    re.IGNORECASE,
)


#: Words that rank the two pairs' magnitudes (rule 5).
COMPARISON_WORDS = frozenset(
    "larger largest smaller smallest bigger biggest greater greatest more most less least fewer farther "
    "farthest further wider narrower faster fastest slower slowest longer shorter stronger weaker".split())
_UNIT = (r"(?:°|deg|degs|degrees?|rad|radians?|m|meters?|metres?|cm|centimet(?:er|re)s?|mm|millimet(?:er|re)s?)")
_MAGNITUDE = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?\s*" + _UNIT + r"(?![a-z])", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"(?<![\w.])([-+]?\d+(?:\.\d+)?)(?![\w.])")
_INDEX_WORD = re.compile(r"(?:image|frame|pair|zoom|view|t\s*=|#)\s*$", re.IGNORECASE)


def _number_near(text: str, answer: str, tolerance) -> str | None:
    """A number in ``text`` (not an image index) within ``tolerance`` of the answer's number; without
    a tolerance (``number_mra``, scored by relative accuracy), within 25% of it: a number that would
    score at least 0.5 mean relative accuracy."""
    try:
        truth = float(str(answer).strip().split()[0])
    except (ValueError, IndexError):
        return None
    tol = float(tolerance) if tolerance is not None else 0.25 * abs(truth)
    for m in _BARE_NUMBER.finditer(text):
        if _INDEX_WORD.search(text[max(0, m.start() - 8):m.start()]):
            continue
        if abs(float(m.group(1)) - truth) <= tol + 1e-9:
            return m.group(0)
    return None


def _normalise(text: str) -> str:
    return re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", "", text)


def inflections(word: str) -> set[str]:
    """A word and its plain inflections (enough for direction and state words).

    Over-generation (``clos``) is harmless: the forms are only matched against a text's words.

    >>> sorted(f for f in inflections("closing") if f.startswith("close"))
    ['close', 'closed', 'closes']
    >>> sorted(inflections("left"))
    ['left', 'lefts']
    """
    w = word.lower()
    forms = {w} | ({w + "s"} if not w.endswith("s") else set())
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            stem = w[: -len(suffix)]
            forms |= {stem, stem + "s", stem + "ed", stem + "ing", stem + "e", stem + "es"}
            forms.discard(w + "s")
    if w.endswith("e"):
        forms |= {w + "d", w[:-1] + "ing"}
    return forms


@lru_cache(maxsize=None)
def value_words(attribute: str, value: str) -> frozenset[str]:
    """The words that name ``attribute = value`` and no other value of the attribute.

    >>> sorted(value_words("yaw", "left"))
    ['left', 'leftmost', 'leftmosts', 'lefts', 'leftward', 'leftwards']
    >>> "object" in value_words("gripper", "holding"), "holding" in value_words("gripper", "holding")
    (False, True)
    """
    phrases = _PHRASES.get(attribute)
    if phrases is None or value not in phrases:
        return frozenset(inflections(value)) if value else frozenset()

    def words(p: str) -> set[str]:
        return set(re.findall(r"[a-z']+", _normalise(p.replace("{color}", "")).lower()))

    own = words(phrases[value])
    others = set().union(*(words(p) for v, p in phrases.items() if v != value)) if len(phrases) > 1 else set()
    stop = STOPWORDS - ({"moved"} if attribute == "camera_motion" else set())
    base = ((own - others) - stop) | {value.lower()}
    out: set[str] = set()
    for w in base:
        out |= inflections(w)
        for s in SYNONYMS.get(w, ()):
            out |= inflections(s)
    return frozenset(out)


def attribute_vocabulary(attribute: str) -> frozenset[str]:
    """Every value word of the attribute (what a teacher's own text must avoid entirely)."""
    return frozenset().union(*(value_words(attribute, v) for v in _PHRASES.get(attribute, {})))


def find_words(text: str, words) -> list[str]:
    """The ``words`` that occur in ``text`` as whole words (case-insensitive)."""
    low = text.lower()
    tokens = set(re.findall(r"[a-z']+", _normalise(low))) | set(re.findall(r"[a-z']+", low))
    tokens |= {t[:-2] for t in tokens if t.endswith("'s")}
    return sorted(tokens & set(words))


# --- the question's structure -----------------------------------------------------------------
def displayed_pairs(n_images: int) -> list[tuple[int, int]]:
    """The (first, second) image pairs a question shows: three images are a shared anchor
    (1->2, 1->3), otherwise consecutive images form pairs (1->2, 3->4, ...).

    >>> displayed_pairs(2), displayed_pairs(3), displayed_pairs(4)
    ([(1, 2)], [(1, 2), (1, 3)], [(1, 2), (3, 4)])
    """
    if n_images == 3:
        return [(1, 2), (1, 3)]
    return [(i, i + 1) for i in range(1, n_images, 2)]


def correct_values(sample: dict) -> list[str]:
    """The label values whose words would give the answer away (rule 4 in the module doc): the
    shown pair's value for a two-image question, both values otherwise."""
    roles = list(sample.get("image_roles") or [])
    pos, neg = sample.get("positive_value"), sample.get("negative_value")
    if len(roles) == 2:
        second = roles[-1]
        value = pos if second == "positive" else neg if second == "negative" else None
        return [value] if value else [v for v in (pos, neg) if v]
    return [v for v in (pos, neg) if v]


def option_images(option: str, n_images: int) -> set[int]:
    """The images an option names: ``Image k`` -> {k}; ``Pair A`` -> {1, 2}, ``Pair B`` -> {3, 4}.

    >>> option_images("Image 3", 3), option_images("Pair B", 4), option_images("true", 2)
    ({3}, {3, 4}, set())
    """
    m = re.fullmatch(r"\s*image\s+(\d+)\s*", option, re.IGNORECASE)
    if m:
        return {int(m.group(1))}
    m = re.fullmatch(r"\s*pair\s+([a-z])\s*", option, re.IGNORECASE)
    if m:
        k = ord(m.group(1).lower()) - ord("a")
        pairs = displayed_pairs(n_images)
        return set(pairs[k]) if k < len(pairs) else set()
    return set()


def _option_regex(option: str) -> re.Pattern:
    words = option.strip().split()
    return re.compile(r"\b" + r"\s*".join(re.escape(w) for w in words) + r"\b", re.IGNORECASE)


def _letter_leak(text: str, letter: str) -> bool:
    L = re.escape(letter.upper())
    keyword = re.compile(
        r"\b(?:answer|option|choice|letter|pick|choose|select)\s*(?:is\s*)?[:=]?\s*[\(\[]?" + L + r"\b",
        re.IGNORECASE)
    if keyword.search(text) or re.search(r"[\(\[]" + L + r"[\)\]]|\b" + L + r"\)", text, re.IGNORECASE):
        return True
    bare = re.compile(r"(?<![A-Za-z])(?<!pair )(?<!image )(?<!Pair )(?<!Image )" + L + r"(?![A-Za-z0-9])")
    for m in bare.finditer(text):
        if letter.upper() == "A" and re.match(r"\s+[a-z0-9]", text[m.end():]):
            continue  # the article "A"
        return True
    return False


def check_leak(patch, sample: dict) -> str | None:
    """Why ``patch`` would give ``sample``'s answer away, or None when it does not.

    ``patch`` is an :class:`~remot_train.teacher.patch.EvidencePatch`; ``sample`` a question row
    merged with its triplet row (``answer``, ``options``, ``parse_rule``, ``image_roles``,
    ``attribute``, ``positive_value``, ``negative_value``, ``object_color``).
    """
    text = _normalise(patch.text or "")
    answer = str(sample.get("answer", "")).strip()
    rule = sample.get("parse_rule")
    options = [str(o) for o in list(sample.get("options") or [])]
    n_images = len(list(sample.get("image_roles") or [])) or max([*patch.frames, 0])

    m = _VERDICTS.search(text)
    if m:
        return f"verdict phrase {m.group(0)!r}"

    if rule == "true_false":
        if answer and find_words(text, {answer.lower()}):
            return f"names the answer {answer!r}"
    elif answer and len(answer) == 1 and answer.isalpha():
        if _letter_leak(text, answer):
            return f"names the answer letter {answer!r}"
        idx = ord(answer.upper()) - ord("A")
        if 0 <= idx < len(options):
            mentioned = [bool(_option_regex(o).search(text)) for o in options]
            if mentioned[idx] and not all(mentioned):
                return f"names the correct option {options[idx]!r} and not the others"
            # rule 5: the evidence's images single the correct option out
            sets = [option_images(o, n_images) for o in options]
            exclusive = [s - set().union(*(t for j, t in enumerate(sets) if j != i)) for i, s in enumerate(sets)]
            if all(exclusive):
                for name, cited in (("frames", set(patch.frames)), ("regions", {r[0] for r in patch.regions})):
                    if not cited:
                        continue
                    touched = [bool(cited & e) for e in exclusive]
                    if touched[idx] and not all(touched):
                        return f"{name} cover the correct option {options[idx]!r} and not the others"
    elif rule in ("number", "number_mra"):
        hit = _number_near(text, answer, sample.get("tolerance"))
        if hit:
            return f"states the magnitude {hit!r}"
    elif answer and re.search(r"(?<![a-z])" + re.escape(answer.lower()) + r"(?![a-z])", text.lower()):
        return f"contains the answer text {answer!r}"

    qtype = sample.get("question_type")
    if rule in ("number", "number_mra") or qtype == "comparative":
        m = _MAGNITUDE.search(text)
        if m:
            return f"states the magnitude {m.group(0)!r}"
    if qtype == "comparative":
        hits = find_words(text, COMPARISON_WORDS)
        if hits:
            return f"compares the amounts ({', '.join(hits)})"

    attribute = sample.get("attribute")
    for value in correct_values(sample):
        hits = find_words(text, value_words(attribute, value))
        if hits:
            return f"names the value {value!r} of {attribute!r} ({', '.join(hits)})"

    if patch.timestamps_s is not None:
        t = dict(zip(patch.frames, patch.timestamps_s))
        for a, b in displayed_pairs(n_images):
            if a in t and b in t and t[b] < t[a]:
                return f"timestamps run backwards within the pair image {a} -> image {b}"
    return None
