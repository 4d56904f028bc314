"""The leakage guard: a patch may point at evidence, never at the answer, in words or in meaning.

:func:`check_leak` returns why a patch gives its question's answer away, or None. Every teacher runs
it on every patch before the patch is used (``base.BaseTeacher``, or ``base.guarded`` around any
other teacher). It reads the patch's text for what it *means* (``meaning.motion_cues``), not only for
the answer's words, and its frames, regions and times for what they single out. The rules, in order:

1. **Verdicts and direct answers**: "the answer is", "the right choice", "choose/pick/go with ...",
   "the claim holds / is correct / does not match", "you were wrong", "your answer has it backwards";
   for true/false questions the words ``true``/``false`` (either, not only the answer); for a
   categorical blank the answer's words next to "blank/fill/write/word" or in quotes. A disjunction
   ("true or false", "left or right") is masked first and never counts.
2. **Choice questions**: the answer letter as an option reference (``(B)``, ``B)``, "option B", a bare
   capital letter); the correct option named ("Image 3", "pair B", "the second pair", "images 3 and
   4") without the others.
3. **Numeric blanks**: any magnitude with a unit ("24 deg", "35 cm", "40 px", "a few degrees",
   "half a metre", "a quarter turn", "two dozen degrees"); a fraction of the image or view ("a sixth of
   the image width"); a bare number, in digits or words, near the answer (within the tolerance, or 25%
   for ``number_mra``); numbers after "image", "frame", "pair", "zoom" are indices.
4. **Comparatives** (which pair's magnitude is larger): a magnitude with a unit; a ratio (twice,
   double, N times, 2x, half as far, a third of, a fraction of) about a named pair; a comparison word
   (more, larger, exceeds, dwarfs, most, ...) or an intensity word (barely, hardly, tiny, huge,
   dramatic, a lot, ...) attached to exactly one named pair, or a comparison with "than" between named
   pairs. Questions ("which pair ...?") that name no pair are guidance, not answers.
5. **Meaning** (true/false, multiple choice, categorical blanks): any statement of the asked
   attribute's value, in any frame: the camera's ("the viewer panned left"), the scene's, inverted
   for ego-motion ("the scene slides toward the right edge" = a left turn; "the horizon sinks" = pitch
   up; "the picture rotates clockwise" = a counterclockwise roll), image-space positions ("ends up
   nearer the left border in image 2"), content entering or leaving at an edge, sizes and distances
   ("looms larger"), the gripper's fingers ("the gap between the fingers grows"), the task's phase
   ("the block leaves the table"), whether anything moved. A statement of the *wrong* value counts too
   (it is misinformation, and a teacher that knows the answer writes the right one). Locations
   ("the bottom-left region", "the lamp on the right side of image 1"), disjunctions ("whether the
   scene moves left or right") and general rules that name no image ("a turn slides the scene the
   other way") are not statements about this pair.
6. **Structure**: for choice questions, frames or regions that cover the correct option's images but
   not every other option's; timestamps that decrease within a displayed pair (a time-reversed
   negative).

Measured on a hand-written corpus of paraphrased leaks and safe guidance (``bench/leak_guard.py``,
``bench/leak_corpus.py``): see the README. :func:`value_words` / :func:`attribute_vocabulary` (the
lexical value vocabulary) remain for the ``MetadataTeacher``'s own templates, which avoid them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from remot_pipeline.core.questions import _PHRASES
from remot_train.teacher.meaning import mask_disjunctions, normalise, sentences, value_cues

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

#: Words that rank the two pairs' magnitudes (the MetadataTeacher avoids them in comparative text).
COMPARISON_WORDS = frozenset(
    "larger largest smaller smallest bigger biggest greater greatest more most less least fewer farther "
    "farthest further wider narrower faster fastest slower slowest longer shorter stronger weaker".split())
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


# --- the text, read once ----------------------------------------------------------------------------
def masked_sentences(text: str) -> list[str]:
    """The normalised sentences of ``text`` with disjunctions of opposite values masked
    (``meaning.mask_disjunctions``)."""
    return [mask_disjunctions(s) for s in sentences(normalise(text))]


# --- rule 1: verdicts and direct answers ---------------------------------------------------------------
_SUBJECT = (r"(?:claim|statement|assertion|answer|sentence|premise|proposition|you|student|it|that|this|"
            r"your (?:answer|reasoning|conclusion|reading|guess|choice|claim))")
_VERDICTS = re.compile(
    r"\bthe\s+answer\s+(?:is|should be|must be|would be)\b"
    r"|\b(?:correct|right)\s+(?:answer|option|choice|image|pair|letter|one)\s+(?:here\s+|then\s+)?(?:is|would be|must be|"
    r"should be|:)|\bis\s+the\s+(?:correct|right)\s+(?:answer|option|choice|image|pair|letter|one)\b"
    r"|\b" + _SUBJECT + r"\s+(?:[\w']+\s+){0,4}?(?:is|was|are|were|'s)\s+(?:not\s+|n't\s+)?(?:quite\s+|entirely\s+)?"
    r"(?:right|correct|incorrect|wrong|true|false|accurate|inaccurate|mistaken|valid|invalid|supported|backwards|reversed)\b"
    r"|\b(?:claim|statement|assertion)\s+(?:[\w']+\s+){0,4}?(?:holds?|does(?:n't| not) hold|match(?:es)?|does(?:n't| not) "
    r"match|agrees?|contradicts?|checks out|is consistent|is inconsistent)\b"
    r"|\b(?:you|your \w+|the student)\s+(?:[\w']+\s+){0,3}?(?:wrong|mistaken|backwards|reversed|flipped)\b"
    r"|\b(?:choose|pick|select|go with|go for|opt for|answer with|circle|mark)\s+(?:the\s+)?(?:option|choice|letter|"
    r"answer|pair|image|first|second|former|latter|[ab](?=\s*(?:[.,;:!?)]|$)))")
_TRUTH = re.compile(r"\b(?:true|false)\b|^(?:yes|no|yep|nope|indeed|exactly|correct)\b")
_BLANK_CONTEXT = re.compile(r"\b(?:blank|missing|fill|fills|write|word|words|goes in|answer)\b")


def _verdict(masked: list[str], sample: dict) -> str | None:
    for s in masked:
        m = _VERDICTS.search(s)
        if m:
            return f"verdict phrase {m.group(0)!r}"
    if sample.get("parse_rule") == "true_false":
        for s in masked:
            m = _TRUTH.search(s)
            if m:
                return f"names the answer {m.group(0)!r}"
    if sample.get("parse_rule") == "categorical":
        answer = normalise(str(sample.get("answer", "")).strip())
        if answer:
            word = re.compile(r"(?<![a-z])" + re.escape(answer) + r"(?![a-z])")
            for s in masked:
                if word.search(s) and (_BLANK_CONTEXT.search(s) or re.search(r"['\"]" + re.escape(answer) + r"['\"]", s)):
                    return f"names the answer {answer!r} for the blank"
    return None


# --- rule 2: choice questions ----------------------------------------------------------------------------
def _letter_leak(text: str, letter: str) -> bool:
    L = re.escape(letter.upper())
    keyword = re.compile(
        r"\b(?:answer|option|choice|letter|pick|choose|select)\s*(?:is\s*)?[:=]?\s*[\(\[]?" + L + r"\b",
        re.IGNORECASE)
    if keyword.search(text) or re.search(r"[\(\[]" + L + r"[\)\]]|\b" + L + r"\)", text, re.IGNORECASE):
        return True
    bare = re.compile(r"(?<![A-Za-z])(?<!pair )(?<!image )(?<!Pair )(?<!Image )" + L + r"(?![A-Za-z0-9'])")
    for m in bare.finditer(text):
        if letter.upper() == "A" and re.match(r"\s+[a-z0-9]", text[m.end():]):
            continue  # the article "A"
        return True
    return False


_IMAGE_REF = re.compile(r"\b(?:images?|frames?)\s+(\d+)((?:\s*(?:,|and|&|to|->|or)\s*(?:image\s+|frame\s+)?\d+)*)")


def image_refs(text: str) -> set[int]:
    """The image numbers ``text`` names ("image 3", "images 2 and 3", "from image 1 to image 3").

    >>> sorted(image_refs("compare images 2 and 3 with image 1"))
    [1, 2, 3]
    """
    out: set[int] = set()
    for m in _IMAGE_REF.finditer(text.lower()):
        out |= {int(m.group(1))} | {int(d) for d in re.findall(r"\d+", m.group(2))}
    return out


def pair_refs(text: str, n_images: int) -> set[str]:
    """The pairs (``"A"``, ``"B"``) ``text`` names: "pair B", "the second pair", or an image that
    belongs to one displayed pair only ("images 3 and 4"; "image 3" when image 1 is a shared anchor).

    >>> sorted(pair_refs("there is more rotation from image 1 to image 3", 3)), sorted(pair_refs("pair a", 4))
    (['B'], ['A'])
    """
    low = text.lower()
    out = {m.upper() for m in re.findall(r"\bpair\s+([ab])\b", low)}
    if re.search(r"\b(?:first|former)\s+pair\b|\bpair\s+(?:one|1)\b", low):
        out.add("A")
    if re.search(r"\b(?:second|latter)\s+pair\b|\bpair\s+(?:two|2)\b", low):
        out.add("B")
    pairs = displayed_pairs(n_images)
    for i in image_refs(low):
        owners = [k for k, p in enumerate(pairs) if i in p]
        if len(owners) == 1 and owners[0] < 2:
            out.add("AB"[owners[0]])
    return out


def _named_options(text: str, options: list[str], n_images: int) -> list[bool]:
    images, pairs = image_refs(text), pair_refs(text, n_images)
    named = []
    for o in options:
        m = re.fullmatch(r"\s*(image|pair)\s+(\w)\s*", o, re.IGNORECASE)
        if m is None:
            named.append(bool(re.search(r"\b" + re.escape(o.lower()) + r"\b", text.lower())))
        elif m.group(1).lower() == "image":
            named.append(int(m.group(2)) in images if m.group(2).isdigit() else False)
        else:
            named.append(m.group(2).upper() in pairs)
    return named


def _choice(patch, text: str, sample: dict, n_images: int) -> str | None:
    answer = str(sample.get("answer", "")).strip()
    options = [str(o) for o in list(sample.get("options") or [])]
    if not (len(answer) == 1 and answer.isalpha()):
        return None
    if _letter_leak(text, answer):
        return f"names the answer letter {answer!r}"
    idx = ord(answer.upper()) - ord("A")
    if not 0 <= idx < len(options):
        return None
    named = _named_options(text, options, n_images)
    if named[idx] and not all(named):
        return f"names the correct option {options[idx]!r} and not the others"
    sets = [option_images(o, n_images) for o in options]
    exclusive = [s - set().union(*(t for j, t in enumerate(sets) if j != i)) for i, s in enumerate(sets)]
    if all(exclusive):
        for name, cited in (("frames", set(patch.frames)), ("regions", {r[0] for r in patch.regions})):
            touched = [bool(cited & e) for e in exclusive]
            if cited and touched[idx] and not all(touched):
                return f"{name} cover the correct option {options[idx]!r} and not the others"
    return None


# --- rule 3: numbers ---------------------------------------------------------------------------------------
_UNIT_WORDS = (r"(?:°|degs?\b|degrees?\b|rad\b|radians?\b|m\b|meters?\b|metres?\b|cm\b|centimet(?:er|re)s?\b|mm\b|"
               r"millimet(?:er|re)s?\b|px\b|pixels?\b|%|percent\b)")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "hundred": 100, "dozen": 12})
_WORD_NUMBER = re.compile(r"\b(?:(?:a|two|three|four)\s+)?(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
                          + r")(?:\s+(?:one|two|three|four|five|six|seven|eight|nine))?\b")
_QUANTITY_UNIT = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?\s*" + _UNIT_WORDS
    + r"|\b(?:a|an|one|few|several|couple|handful|dozen|dozens|tens|some|half|quarter|third|fifth|tenth|"
    + "|".join(_NUMBER_WORDS) + r")\s+(?:[a-z]+\s+){0,2}?(?:of\s+(?:a\s+)?)?" + _UNIT_WORDS
    + r"|\b(?:quarter|half|full|third of a)\s+turn\b|\bright angle\b")
_FRACTION_OF_VIEW = re.compile(
    r"\b(?:half|a third|a quarter|a fifth|a sixth|an eighth|a tenth|(?:one|two|three) (?:third|quarter|fifth|sixth|"
    r"tenth)s?|\d+(?:\.\d+)?\s*(?:%|percent))\s+(?:of\s+)?(?:the\s+)?(?:image|frame|field of view|view|width|height|"
    r"picture|screen)")
_BARE_NUMBER = re.compile(r"(?<![\w.])([-+]?\d+(?:\.\d+)?)(?![\w.])")
_INDEX_WORD = re.compile(r"(?:image|images|frame|frames|pair|zoom|view|t\s*=|#|and|to|or)\s*$", re.IGNORECASE)


def _word_value(phrase: str) -> float | None:
    words = phrase.split()
    if words and words[0] in ("a", "two", "three", "four") and len(words) > 1 and words[1] == "dozen":
        return 12.0 * (1 if words[0] == "a" else _NUMBER_WORDS[words[0]])
    words = [w for w in words if w != "a"]
    if not words or words[0] not in _NUMBER_WORDS:
        return None
    return float(sum(_NUMBER_WORDS.get(w, 0) for w in words))


def _number_near(text: str, answer: str, tolerance) -> str | None:
    """A number in ``text`` (digits or words, not an image index) within ``tolerance`` of the
    answer's number; without a tolerance (``number_mra``), within 25% of it."""
    try:
        truth = float(str(answer).strip().split()[0])
    except (ValueError, IndexError):
        return None
    tol = float(tolerance) if tolerance is not None else 0.25 * abs(truth)
    for m in _BARE_NUMBER.finditer(text):
        prefix = text[max(0, m.start() - 12):m.start()]
        if _INDEX_WORD.search(prefix) and re.search(r"(?:image|frame|pair|zoom|view)s?\b", prefix):
            continue
        if abs(float(m.group(1)) - truth) <= tol + 1e-9:
            return m.group(0)
    for m in _WORD_NUMBER.finditer(text):
        value = _word_value(m.group(0))
        if value is not None and abs(value - truth) <= tol + 1e-9:
            return m.group(0)
    return None


def _numeric(masked: list[str], sample: dict) -> str | None:
    text = " . ".join(masked)
    m = _QUANTITY_UNIT.search(text) or _FRACTION_OF_VIEW.search(text)
    if m:
        return f"states the magnitude {m.group(0)!r}"
    hit = _number_near(text, str(sample.get("answer", "")), sample.get("tolerance"))
    return f"states the magnitude {hit!r}" if hit else None


# --- rule 4: comparatives --------------------------------------------------------------------------------
_RATIO = re.compile(r"\d+(?:\.\d+)?\s*(?:x|×|times)\b|\b(?:twice|double|doubled|triple|tripled|thrice|half|halved|"
                    r"quarter|third|fraction|fifth|tenth)\b|\b(?:two|three|four|five|six|several|many|ten)\s+times\b"
                    r"|\bas (?:far|much|big|large|wide|long|great|strong) as\b")
_COMPARE = re.compile(r"\b(?:more|less|larger|smaller|bigger|greater|farther|further|wider|narrower|longer|shorter|"
                      r"stronger|weaker|faster|slower|most|least|largest|smallest|biggest|greatest|exceeds?|exceeded|"
                      r"dwarfs?|dwarfed|outweighs?|outstrips?|eclipses?|surpasses?|overshadows?)\b")
_INTENSITY = re.compile(r"\b(?:barely|hardly|scarcely|tiny|slight|slightly|small|little|minimal|negligible|subtle|"
                        r"minor|modest|big|large|huge|massive|dramatic|dramatically|substantial|considerable|"
                        r"significant|noticeable|enormous|sizable|sizeable|a lot|a great deal|almost no|nearly no)\b")
_VERSUS = re.compile(r"\bthan\b|\bnext to\b|\bcompared (?:with|to)\b|\brelative to\b|\bversus\b|\bvs\b|\bbeside\b")
_QUESTION = re.compile(r"\bwhich\b|\bwhether\b|\?")


def _comparative(masked: list[str], n_images: int) -> str | None:
    for s in masked:
        m = _QUANTITY_UNIT.search(s)
        if m:
            return f"states the magnitude {m.group(0)!r}"
        named = pair_refs(s, n_images)
        if not named:
            continue
        ratio = _RATIO.search(s)
        if ratio:
            return f"gives a ratio of the pairs' amounts ({ratio.group(0)!r})"
        if _QUESTION.search(s) and len(named) > 1:
            continue
        for chunk in re.split(r"[,:]|\b(?:while|whereas|but)\b", s):
            words = _COMPARE.search(chunk) or _INTENSITY.search(chunk)
            if not words:
                continue
            here = pair_refs(chunk, n_images)
            if len(here) == 1 or (not here and len(named) == 1) or (len(here) > 1 and _VERSUS.search(chunk)):
                return f"compares the pairs' amounts ({words.group(0)!r} about pair {'/'.join(sorted(here or named))})"
    return None


# --- the guard -------------------------------------------------------------------------------------------
def check_leak(patch, sample: dict) -> str | None:
    """Why ``patch`` would give ``sample``'s answer away, or None when it does not (module doc).

    ``patch`` is an :class:`~remot_train.teacher.patch.EvidencePatch` (or anything with ``text``,
    ``frames``, ``regions``, ``timestamps_s``); ``sample`` a question row merged with its triplet row
    (``answer``, ``options``, ``parse_rule``, ``question_type``, ``image_roles``, ``attribute``).
    """
    raw = patch.text or ""
    masked = masked_sentences(raw)
    rule = sample.get("parse_rule")
    qtype = sample.get("question_type")
    n_images = len(list(sample.get("image_roles") or [])) or max([*patch.frames, 0])

    reason = _verdict(masked, sample)
    if reason is None and rule == "choice_letter":
        reason = _choice(patch, _normalise(raw), sample, n_images)
    if reason is None and rule in ("number", "number_mra"):
        reason = _numeric(masked, sample)
    if reason is None and qtype == "comparative":
        reason = _comparative(masked, n_images)
    if reason is None and qtype != "comparative" and rule not in ("number", "number_mra"):
        attribute = str(sample.get("attribute") or "")
        cues = value_cues(raw, attribute)
        if cues:
            cue, value = cues[0]
            reason = f"states {attribute} = {value!r} ({cue.frame} frame: {cue.text!r})"
    if reason is None and patch.timestamps_s is not None:
        t = dict(zip(patch.frames, patch.timestamps_s))
        for a, b in displayed_pairs(n_images):
            if a in t and b in t and t[b] < t[a]:
                return f"timestamps run backwards within the pair image {a} -> image {b}"
    return reason
