"""What a patch text says about the motion: the cues the leakage guard reads for the answer's meaning.

:func:`motion_cues` finds, sentence by sentence, the statements a text makes about how something moved
between the images, each as a :class:`Cue` on an **axis** with a **sign** and a **frame**:

=====  ==========================================  ======================================================
axis   sign +1 / -1 (0)                            examples
=====  ==========================================  ======================================================
h      right / left                                "slides toward the right edge", "drifts leftward"
v      up / down                                   "the horizon sinks", "sits lower in image 2"
r      clockwise / counterclockwise (as seen)      "the picture rotates clockwise", "slopes down to the right"
s      larger, nearer / smaller, farther           "looms larger", "recedes", "we get closer to the door"
a      opening / closing (0: holding)              "the gap between the fingers grows", "the jaws squeeze"
c      moving (0: stationary)                      "the view changes", "the two images are identical"
p      a task phase (``value`` is the phase)       "the block leaves the table" (lift)
=====  ==========================================  ======================================================

The **frame** says whose motion the cue describes: ``camera`` (the camera, the viewer, "we", "the
view": the camera's own direction) or ``scene`` (what the image shows: the scene, the horizon, an
object, the gripper; directions in the image). :func:`implied_value` turns a cue into a value of a
question's attribute through :data:`ATTRIBUTE_AXES`: for camera ego-motion a scene cue is **inverted**
(the scene slides right when the camera turns left; the horizon sinks when the camera tilts up; the
picture turns counterclockwise when the camera rolls clockwise); the gripper's and objects' attributes
are stated in the image, so a scene cue is read directly. Content entering at an edge moves away from
it ("new shelves appear at the right edge": the scene moves left), content leaving moves toward it.

What is **not** a cue:

* a **location**: a direction word governed by ``in/on/at/of/near/along/...`` ("the bottom-left
  region", "the lamp on the right side of image 1") or used as an adjective ("the left half");
* a **disjunction** of opposite values ("left or right", "grows, shrinks or stays the same", "larger or
  smaller", "true or false"): both words are masked (:func:`mask_disjunctions`);
* a **general rule** with no reference to the question's images: a sentence that opens with
  ``if/when/a/an/any/remember/...`` or a gerund ("Tilting the camera slides the scene ...") and names no
  image, pair, "here" or "now" (:func:`is_generic`).

The module is pure (regular expressions over the text); the rules are tables below, each with the words
it reads. It errs toward catching: a leading question ("doesn't the tree shift right?") and a false
statement about the motion count as cues too.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Cue(NamedTuple):
    axis: str  # h | v | r | s | a | c | p
    sign: int  # +1 / -1 / 0 (see the module table); 0 for p
    frame: str  # camera | scene
    text: str  # the words that make the cue
    value: str | None = None  # for axis p: the phase


# --- normalisation and sentences -----------------------------------------------------------------
_REPLACEMENTS = (
    (r"[\u2018\u2019\u201b`]", "'"), (r"[\u201c\u201d]", '"'), (r"[\u2013\u2014]", " - "),
    (r"\b(?:counter|anti)[\s-]?clockwise\b", "counterclockwise"), (r"\bccw\b", "counterclockwise"),
    (r"\bcw\b", "clockwise"),
    (r"\b(left|right|up|down|for|back)-(wards?)\b", r"\1\2"),
    (r"\b(left|right)[\s-]hand\b", r"\1"),
    (r"(?<=[a-z])-(?=[a-z])", " "),
)


def normalise(text: str) -> str:
    """Lower case, plain quotes, one spelling per direction word, hyphens between words as spaces.

    >>> normalise("The counter-clockwise turn moved right-wards to the bottom-left.")
    'the counterclockwise turn moved rightwards to the bottom left.'
    """
    out = text.lower()
    for pattern, repl in _REPLACEMENTS:
        out = re.sub(pattern, repl, out)
    return out


def sentences(text: str) -> list[str]:
    """``text`` split at ``. ! ? ;`` and line breaks (not inside numbers such as 0.35)."""
    parts = re.split(r"(?<!\d)[.!?;]+(?!\d)|[.!?;]+(?=\s|$)|\n+", text)
    return [p.strip() for p in parts if p and p.strip()]


#: Words that refer to the question's own images: a sentence with one is about this question.
DEICTIC = re.compile(r"\b(?:image|frame|picture)\s+\d|\bimages?\s+\d|\bpair\s+[ab]\b|\bhere\b|\bnow\b|\bthis pair\b"
                     r"|\bthese (?:two )?images\b|\bthe (?:first|second|third|fourth|next|later|last) (?:image|frame|pair)\b"
                     r"|\bby image\b|\bbetween the (?:two )?(?:images|shots|frames)\b")
_GENERIC_OPENER = re.compile(r"^(?:if|when|whenever|a|an|any|remember|recall|keep in mind|in general|generally|"
                             r"as a rule|note that (?:a|an|any|when|if)|typically|usually)\b"
                             r"|^(?!(?:every|no|some|any)thing\b|ceiling\b|building\b|painting\b|opening\b|railing\b"
                             r"|string\b|spring\b|ring\b)[a-z]{2,}ing\b")


def is_generic(sentence: str) -> bool:
    """A general rule: opens like one and names none of the question's images.

    >>> is_generic("a turn of the camera slides the scene sideways, opposite to the turn")
    True
    >>> is_generic("tilting up makes things drop, which is what the door frame does here")
    False
    """
    return bool(_GENERIC_OPENER.search(sentence.strip())) and not DEICTIC.search(sentence)


# --- disjunctions ---------------------------------------------------------------------------------
#: word -> (axis, sign): the words a disjunction of opposite values is made of.
POLARITY: dict[str, tuple[str, int]] = {}
for _axis, _sign, _words in (
    ("h", 1, "right rightward rightwards"), ("h", -1, "left leftward leftwards"),
    ("v", 1, "up upward upwards higher top rise rises rising climbs raising raised ceiling sky upper"),
    ("v", -1, "down downward downwards lower bottom sink sinks sinking drops falls lowering lowered floor ground"),
    ("r", 1, "clockwise"), ("r", -1, "counterclockwise"),
    ("s", 1, "larger bigger grow grows grew expand expands expanding more increase increases wider widen widens "
             "forward forwards toward towards closer nearer"),
    ("s", -1, "smaller shrink shrinks shrank contract contracts contracting less fewer decrease decreases narrower "
              "narrow narrows backward backwards away farther further back"),
    ("s", 0, "same unchanged constant"),
    ("a", 1, "open opens opened opening apart"), ("a", -1, "close closes closed closing together shut"),
    ("a", 0, "same hold holds holding"),
    ("c", 1, "moved moves moving move changed changes"), ("c", 0, "still stationary static stayed"),
    ("t", 1, "true yes"), ("t", -1, "false no"),
    ("p", 1, "approach"), ("p", 2, "grasp"), ("p", 3, "lift"), ("p", 4, "place"),
):
    for _w in _words.split():
        POLARITY.setdefault(_w, (_axis, _sign))
_DISJUNCTION = re.compile(r"\b(?:or|nor|versus|vs)\b|/")
_CONTRAST = frozenset("not rather instead than but so because since".split())


def mask_disjunctions(sentence: str, window: int = 8) -> str:
    """``sentence`` with the words of every disjunction of opposite values replaced by ``~``
    (same length, so positions hold). ``"... or not"`` masks the whole sentence.

    >>> mask_disjunctions("decide whether the scene shifts left or right")
    'decide whether the scene shifts ~~~~ ~~ ~~~~~'
    >>> mask_disjunctions("it moved right rather than left")
    'it moved right rather than left'
    """
    if re.search(r"\bor not\b", sentence):
        return re.sub(r"\S", "~", sentence)
    words = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[a-z]+|/", sentence)]
    masked = list(sentence)
    for k, (start, end, w) in enumerate(words):
        if not _DISJUNCTION.fullmatch(w):
            continue
        span = []
        for j in range(k - 1, max(-1, k - 1 - window), -1):  # leftwards, stopping at a contrast word
            if words[j][2] in _CONTRAST:
                break
            span.append(j)
        for j in range(k + 1, min(len(words), k + 1 + window)):
            if words[j][2] in _CONTRAST:
                break
            span.append(j)
        by_axis: dict[str, set[int]] = {}
        for j in span:
            pol = POLARITY.get(words[j][2])
            if pol:
                by_axis.setdefault(pol[0], set()).add(pol[1])
        for j in span:
            pol = POLARITY.get(words[j][2])
            if pol and len(by_axis[pol[0]]) > 1:
                masked[words[j][0]:words[j][1]] = "~" * (words[j][1] - words[j][0])
        masked[start:end] = "~" * (end - start)
    return "".join(masked)


# --- vocabularies ---------------------------------------------------------------------------------
def _alt(words: str) -> str:
    return "(?:" + "|".join(sorted(words.split(), key=len, reverse=True)) + ")"


#: Verbs of motion (any axis). Imperatives a teacher uses to point ("look", "track", "compare") are
#: not here; "looks"/"looked" after a camera subject are handled by ``_CAMERA_LOOK``.
MOVE = _alt(
    "move moves moved moving shift shifts shifted shifting slide slides slid sliding drift drifts drifted drifting "
    "travel travels travelled traveled travelling traveling glide glides glided gliding scroll scrolls scrolled "
    "translate translates translated pan pans panned panning swing swings swung sweep sweeps swept head heads headed "
    "heading go goes went gone going migrate migrates migrated migrating creep creeps crept jump jumps jumped roll "
    "rolls rolled rolling slip slips slipped pushed dolly dollies dollied dollying step steps stepped stepping veer "
    "veers veered turn turns turned turning rotate rotates rotated rotating spin spins spun spinning twist twists "
    "twisted swivel swivels swivelled swiveled tilt tilts tilted tilting tip tips tipped tipping lean leans leaned "
    "leaning displaced offset shuffle shuffles shuffled inch inches inched nudge nudged nudges scoot scooted sway sways swayed push pushes sink sinks sank sunk sinking rise rises rose risen rising climb climbs climbed climbing drop "
    "drops dropped dropping fall falls fell fallen falling dip dips dipped dipping descend descends descended "
    "descending ascend ascends ascended lift lifts lifted lifting lowers lowered lowering raise raises raised raising "
    "advance advances advanced retreat retreats retreated run runs ran walk walks walked carried carries")
_ADVERBS = (r"(?:(?:a\s+)?(?:bit|little|tad)\s+|slightly\s+|far\s+|further\s+|farther\s+|noticeably\s+|clearly\s+|"
            r"quickly\s+|slowly\s+|steadily\s+|sharply\s+|much\s+|way\s+|more\s+|somewhat\s+|strongly\s+|over\s+|"
            r"straight\s+|all\s+the\s+way\s+|just\s+|visibly\s+|markedly\s+|considerably\s+|a\s+lot\s+|across\s+)")
_DET = r"(?:the\s+|its\s+|their\s+|his\s+|her\s+|our\s+|this\s+|(?:the\s+)?(?:image|frame|picture|view)'?s?\s+)?(?:far\s+|very\s+)?"
_TARGET = {"left": ("h", -1), "right": ("h", 1), "top": ("v", 1), "upper": ("v", 1), "bottom": ("v", -1),
           "lower": ("v", -1), "ceiling": ("v", 1), "sky": ("v", 1), "ground": ("v", -1), "floor": ("v", -1),
           "camera": ("s", 1), "lens": ("s", 1), "viewer": ("s", 1)}
_BARE = {"left": ("h", -1), "right": ("h", 1), "leftward": ("h", -1), "leftwards": ("h", -1),
         "rightward": ("h", 1), "rightwards": ("h", 1), "up": ("v", 1), "upward": ("v", 1), "upwards": ("v", 1),
         "higher": ("v", 1), "down": ("v", -1), "downward": ("v", -1), "downwards": ("v", -1), "lower": ("v", -1),
         "forward": ("s", 1), "forwards": ("s", 1), "closer": ("s", 1), "nearer": ("s", 1), "in": ("s", 1),
         "backward": ("s", -1), "backwards": ("s", -1), "back": ("s", -1), "away": ("s", -1), "out": ("s", -1),
         "clockwise": ("r", 1), "counterclockwise": ("r", -1), "apart": ("a", 1), "together": ("a", -1)}
_IN_OUT_VERBS = re.compile(r"\b(?:zoom|zooms|zoomed|zooming|push|pushes|pushed|dolly|dollies|dollied)\s*$")

#: Subjects whose motion is the camera's own ("the view" but not "in view"/"into view").
CAMERA_SUBJECT = re.compile(r"\b(?:camera|viewer|observer|viewpoint|lens|we|i|head|robot|agent)\b|(?<!in )(?<!into )"
                            r"(?<!of )(?<!out )\bthe (?:view|shot)\b|\bits (?:left|right)\b")
SCENE_SUBJECT = re.compile(
    r"\b(?:scene|content|everything|image|picture|horizon|skyline|world|background|foreground|wall|walls|floor|"
    r"ceiling|room|objects?|things|structures?|features?|door|doorway|window|lamp|table|chair|shelf|shelves|"
    r"bookshelf|tree|building|pillar|poster|painting|fridge|plant|radiator|texture|edges?|line|it|they)\b")
_CAMERA_VERB = re.compile(r"\b(?:pan|pans|panned|panning|tilt|tilts|tilted|tipped|dolly|dollies|dollied|stepped|"
                          r"advanced|retreated|looked|looks|looking|tilting|panning|stepping|dollying)\b")


def _frame(prefix: str, verb_text: str = "") -> str:
    """Whose motion a cue is: the last camera or scene subject before it in its clause."""
    clause = re.split(r"[,:]|\b(?:and|so|which|while|whereas|but|then|as)\b", prefix)[-1]
    cams = [m.end() for m in CAMERA_SUBJECT.finditer(clause)]
    scenes = [m.end() for m in SCENE_SUBJECT.finditer(clause)]
    if cams and (not scenes or cams[-1] > scenes[-1]):
        return "camera"
    if scenes:
        return "scene"
    return "camera" if _CAMERA_VERB.search(verb_text) else "scene"


# --- the cue rules --------------------------------------------------------------------------------
_LOCATION_PREP = r"(?:in|on|at|of|near|along|by|beside|inside|within|around)"

_VERB_TO_TARGET = re.compile(
    r"\b(?P<verb>" + MOVE + r"|looks|looked|looking)\b(?P<gap>(?:\s+[\w']+){0,8}?)\s+(?:to|toward|towards|into|onto)\s+"
    + _DET + r"(?P<t>left|right|top|bottom|upper|lower|ceiling|sky|ground|floor|camera|lens|viewer)\b")
_VERB_BARE = re.compile(
    r"\b(?P<verb>" + MOVE + r"|zoom|zooms|zoomed|push|pushes|looks|looked|looking|backs|backed|backing|pulls|pulled|"
    r"pulling|gets|got|getting|comes|came|coming|draw|draws|drew|spread|spreads)\s+"
    r"(?:(?:the\s+)?(?:scene|image|content|view|picture|everything|things|it|them)\s+)?" + _ADVERBS + r"{0,3}"
    r"(?P<t>" + "|".join(sorted(_BARE, key=len, reverse=True)) + r")\b(?!\s+(?:half|part|portion|region|corner|edge|"
    r"third|side|area|strip|shelf|border|end|hand)\b)")
_WARD = re.compile(r"\b(?P<t>leftwards?|rightwards?|upwards?|downwards?)\b")
_CHANGE_MARKER = re.compile(r"\bin (?:image|frame|picture) \d|\bthan\b|\bnow\b|\bby image\b|\bends? up\b|\bended up\b"
                            r"|\bin the (?:second|later|next|last|other) (?:image|frame|picture|shot)\b|\banymore\b"
                            r"|\bbefore\b|\b" + MOVE + r"\b")
_COMPARATIVE_PLACE = re.compile(
    r"\b(?:further|farther|more|closer|nearer|much nearer|much closer)\s+(?:over\s+)?(?:to\s+)?(?:the\s+)?"
    r"(?:image'?s?\s+|frame'?s?\s+)?(?P<t>left|right|top|bottom)\b"
    r"|\b(?P<hl>higher|lower)\b(?!\s+(?:half|part|portion|region|corner|edge|third|side|area|strip|left|right|shelf|"
    r"border|end|jaw|finger|body|row|level|lip|rim|of)\b)")
_ENDS_UP = re.compile(r"\b(?:ends? up|ended up|winds? up|is now|are now|now sits|now lies|now at|lands?|landed)\b"
                      r"(?:\s+[\w']+){0,5}?\s+(?P<t>left|right|top|bottom|upper|lower)\b"
                      r"|\b(?:sideways|over|across)\s+(?:to|toward|towards)\s+the\s+(?P<t2>left|right)\b")
#: Clock idioms: "against the clock" is counterclockwise.
_CLOCK = re.compile(r"\b(?P<ccw>against|opposite(?:\s+way)?\s+to|contrary\s+to)\s+(?:the|a)\s+clock(?:'s\s+hands)?\b"
                    r"|\b(?:with|the\s+(?:same\s+)?way\s+as)\s+(?:the|a)\s+clock(?:'s\s+hands)?\b")
_NOUN_DIRECTION = re.compile(r"\b(?P<t>left|right|leftward|rightward|up|upward|down|downward|clockwise|counterclockwise)\s+"
                             r"(?P<noun>turn|pan|tilt|step|shift|rotation|roll|motion|movement|drift|swing|slide)\b")
_ENTER = re.compile(r"\b(?:comes?|came|coming) into (?:view|the frame|the picture|sight)\b|\bappear(?:s|ed|ing)?\b"
                    r"|\bemerg(?:e|es|ed|ing)\b|\breveal(?:s|ed|ing)?\b|\benter(?:s|ed|ing)?\b|\bbecomes? visible\b")
_EXIT = re.compile(r"\bdisappear(?:s|ed|ing)?\b|\bvanish(?:es|ed|ing)?\b|\bleav(?:e|es|ing) (?:the (?:frame|view|image|"
                   r"picture)|view)\b|\bexit(?:s|ed|ing)?\b|\bout of (?:the )?(?:view|frame|picture|sight|image)\b"
                   r"|\bcut off\b|\bpushed out\b")
_SIDE = re.compile(r"\b(?P<side>left|right|top|bottom|upper|lower)(?:\s+(?:edge|side|border|margin|boundary|end))?\b"
                   r"|\b(?P<plural>edges|borders|sides|margins|corners)\b")
_REVEAL = re.compile(r"\bmore of the (?P<a>ceiling|sky|roof|floor|ground|table)\b"
                     r"|\b(?P<b>ceiling|sky|floor|ground)\b[^.]{0,25}?\b(?:fills|takes up|occupies|covers) more\b")
_SCALE = (
    (1, re.compile(r"\b(?:grows?|grew|grown|growing|expands?|expanded|expanding|enlarges?|enlarged|looms?|loomed|"
                   r"looming|swells?|swelled)\b|\b(?:gets?|got|looks?|looked|appears?|appeared|becomes?|became|is|are|"
                   r"seems?)\s+(?:much\s+|a lot\s+|noticeably\s+|far\s+|slightly\s+)?(?:bigger|larger)\b"
                   r"|\b(?:bigger|larger) in (?:image \d|the (?:second|later|last) (?:image|frame))\b"
                   r"|\b(?:fills?|filled|covers?|covered|takes? up|took up|occupies|occupied)\s+(?:far\s+|much\s+|a lot\s+)?"
                   r"(?:more|most) of\b|\bzoom(?:s|ed)? in\b|\b(?:comes?|came|gets?|got|moves?|moved|draws?|drew)\s+"
                   r"(?:much\s+|a bit\s+|noticeably\s+)?(?:closer|nearer)\b(?!\s+(?:to(?:\s+the)?\s+)?(?:table|tabletop|"
                   r"surface|floor|ground|left|right|top|bottom|centre|center|edge|border|together))|\bapproach(?:es|ed|"
                   r"ing)? (?:the )?(?:camera|lens|viewer)\b|\bwalked toward\b|\badvanc(?:e|es|ed)\b")),
    (-1, re.compile(r"\b(?:shrinks?|shrank|shrunk|shrinking|contracts?|contracted|contracting|reced(?:e|es|ed|ing))\b"
                    r"|\b(?:gets?|got|looks?|looked|appears?|appeared|becomes?|became|is|are|seems?)\s+(?:much\s+|a lot\s+|"
                    r"noticeably\s+|slightly\s+)?(?:smaller|tinier)\b|\bsmaller (?:and|in (?:image \d|the (?:second|later)))"
                    r"|\b(?:fills?|covers?|takes? up|occupies)\s+less of\b|\bzoom(?:s|ed)? out\b"
                    r"|\b(?:farther|further) (?:away|off|back)\b|\baway from the (?:camera|lens|viewer)\b|\bback(?:s|ed|ing)? "
                    r"(?:away|up|off)\b|\bpull(?:s|ed|ing)? back\b|\bretreat(?:s|ed|ing)?\b")),
)
_FINGERS = r"(?:fingers?|fingertips?|jaws?|claws?|gripper|pincers?)"
_GAP = r"(?:gap|space|distance|spacing|aperture|opening|width)(?:\s+between\s+(?:the\s+)?(?:two\s+)?" + _FINGERS + r")"
_APERTURE = (
    (1, re.compile(r"\b" + _GAP + r"\s+(?:\w+\s+){0,2}?(?:grows?|grew|widens?|widened|increases?|increased|expands?|"
                   r"expanded|gets? (?:bigger|larger|wider)|opens? up)\b|\b" + _FINGERS + r"\s+(?:\w+\s+){0,2}?"
                   r"(?:spread|spreads|spreading|separate|separates|separated|part|parts|parted|splay|splays|open|opens|"
                   r"opened|opening|move apart|moved apart|draw apart|pull apart)\b|\b(?:wider|further|farther) apart\b"
                   r"|\blets? go\b|\breleas(?:e|es|ed|ing)\b|\bloosen(?:s|ed|ing)?\b")),
    (-1, re.compile(r"\b" + _GAP + r"\s+(?:\w+\s+){0,2}?(?:shrinks?|shrank|narrows?|narrowed|decreases?|decreased|"
                    r"closes?|closed|gets? smaller)\b|\b" + _FINGERS + r"\s+(?:\w+\s+){0,2}?(?:come|comes|came|draw|"
                    r"draws|drew|move|moves|moved|pull|pulls)\s+(?:closer\s+)?together\b|\bcloser together\b"
                    r"|\bsqueez(?:e|es|ed|ing)\b|\bclamp(?:s|ed|ing)? (?:down|shut)\b|\bpinch(?:es|ed)?\b"
                    r"|\btighten(?:s|ed|ing)?\b|\b" + _FINGERS + r"\s+(?:close|closes|closed|closing|shut|shuts)\b"
                    r"|\b" + _FINGERS + r"\s+(?:\w+\s+)?(?:touch|touches|meet|meets)\b")),
    (0, re.compile(r"\b(?:stays?|stayed|remains?|remained|kept|keeps?)\s+(?:\w+\s+){0,2}?(?:clamped|closed|shut|locked|"
                   r"wrapped|gripped|holding|gripping|clutching)\b|\bkeeps? (?:its )?(?:hold|grip)\b|\bstill (?:holding|"
                   r"gripping|clutching|carrying)\b|\b" + _FINGERS + r"\s+do(?:es)?(?:n't| not) move\b")),
)
_TABLE = r"(?:table|tabletop|table top|surface)"
_HEIGHT = (
    (-1, re.compile(r"\b(?:closer|nearer)\s+(?:to\s+)?the\s+" + _TABLE + r"\b|\btoward(?:s)? the " + _TABLE + r"\b"
                    r"|\b(?:gap|distance|space|height)\s+(?:between\s+the\s+\w+\s+and\s+the\s+" + _TABLE + r"|above\s+the\s+"
                    + _TABLE + r"|to\s+the\s+" + _TABLE + r")\s+(?:\w+\s+)?(?:shrinks?|narrows?|decreases?|gets? smaller)\b")),
    (1, re.compile(r"\baway from the " + _TABLE + r"\b|\b(?:farther|further) from the " + _TABLE + r"\b"
                   r"|\b(?:gap|distance|space|height)\s+(?:between\s+the\s+\w+\s+and\s+the\s+" + _TABLE + r"|above\s+the\s+"
                   + _TABLE + r"|to\s+the\s+" + _TABLE + r")\s+(?:\w+\s+)?(?:grows?|widens?|increases?|gets? (?:bigger|larger))\b")),
)
_ROTATION_WORD = re.compile(r"\b(?P<t>clockwise|counterclockwise)\b")
_SLANT = (
    # "rises toward the right": the right end went up, the content turned counterclockwise (as seen)
    (re.compile(r"\b(?:rises?|rising|rose|climbs?|goes up|(?:slopes?|slants?|tilts?|angles?)\s+up(?:ward)?)\s+"
                r"(?:to|toward|towards|on)\s+the\s+(?P<side>left|right)\b"), {"right": -1, "left": 1}),
    (re.compile(r"\b(?:(?:slopes?|slants?|tilts?|angles?|goes)\s+down(?:ward)?|dips?|drops?|falls?|sinks?)\s+"
                r"(?:to|toward|towards|on)\s+the\s+(?P<side>left|right)\b"), {"right": 1, "left": -1}),
    (re.compile(r"\bleans?\s+(?:over\s+)?(?:to|toward|towards)\s+the\s+(?P<side>left|right)\b"
                r"|\btops?(?:\s+ends?)?\b[^.]{0,25}?\b(?:move|moves|swing|swings|lean|leans|tilt|tilts)\b[^.]{0,20}?"
                r"\b(?P<side2>left|right)\b"), {"right": 1, "left": -1}),
)
_END_MOVES = re.compile(r"\bthe (?P<side>left|right) (?:end|side|edge|half|part|corner)\b[^.]{0,40}?\b(?P<verb>rises|rose|"
                        r"lifts|climbs|goes up|is higher|drops|dips|sinks|falls|goes down|is lower)\b")
_STILL = re.compile(r"\bidentical\b|\bthe same (?:picture|image|view|scene|shot)\b|\bno (?:change|shift|motion|movement|"
                    r"difference|displacement)\b|\bnothing\b[^.]{0,15}?\b(?:moves|moved|shifts|shifted|changes|changed)\b"
                    r"|\b(?:stays?|stayed|remains?|remained)\s+(?:exactly\s+|perfectly\s+)?(?:where it was|put|still|"
                    r"in place|fixed|the same)\b|\bunchanged\b|\bdid(?:n't| not) move\b|\bdoes(?:n't| not) move\b"
                    r"|\b(?:is|are|was|were|stays?|remains?)\s+(?:completely\s+|perfectly\s+)?(?:static|still|motionless|"
                    r"stationary)\b|\bstood still\b")
_MOVED = re.compile(r"\b(?:moves|moved|has moved|shifts|shifted|slides|slid|changes|changed|is displaced|displaced|"
                    r"differs?|differ|in a different (?:place|position|spot))\b")
_PHASES = {
    "approach": re.compile(r"\b(?:moving|moves|heading|reaching|travell?ing|coming|closing in|descending)\s+(?:toward|"
                           r"towards|to|for)\s+the\s+(?:block|cube|object)\b|\bhas(?:n't| not)(?: yet)? (?:touched|reached|"
                           r"grasped|contacted)\b|\bnot (?:yet )?touch|\bstill empty\b|\bapproach(?:es|ed|ing)?\b"
                           r"|\bheading for\b"),
    "grasp": re.compile(r"\b(?:close|closes|closed|closing|clamp|clamps|clamped|wrap|wraps|wrapped|tighten|tightens)\s+"
                        r"(?:around|on|onto|about)\s+the\s+(?:block|cube|object)\b|\bgrab(?:s|bed|bing)?\b"
                        r"|\bgrasp(?:s|ed|ing)?\b|\bseiz(?:e|es|ed)\b|\btakes? hold\b"),
    "lift": re.compile(r"\b(?:block|cube|object)\b[^.]{0,20}?\b(?:leaves|left|comes off|came off|lifts off|rises|rose|"
                       r"is raised|raised|is lifted|lifted|is up)\b|\boff the (?:table|surface|ground)\b|\bin the air\b"
                       r"|\bclear of the table\b|\blift(?:s|ed|ing)? (?:the|it)\b|\bno longer (?:on|resting on|touching) the (?:table|surface)\b"),
    "place": re.compile(r"\bset(?:s|ting)?\b[^.]{0,20}?\bdown\b|\bput(?:s|ting)?\b[^.]{0,15}?\bdown\b|\blower(?:s|ed|ing)\s+"
                        r"the\s+(?:block|cube|object)\b|\bonto the (?:table|surface)\b|\breleas(?:e|es|ed|ing)\b"
                        r"|\bdeposit(?:s|ed)?\b|\bplac(?:e|es|ed|ing)\s+(?:the|it)\b|\btouch(?:es|ed)? down\b"),
}


def _sentence_cues(s: str) -> list[Cue]:
    cues: list[Cue] = []

    def add(axis, sign, start, text, verb="", frame=None, value=None):
        cues.append(Cue(axis, sign, frame or _frame(s[:start], verb), text, value))

    # 1. a motion verb, then to/toward + a side ("slides toward the right edge")
    for m in _VERB_TO_TARGET.finditer(s):
        if re.search(r"\b" + _LOCATION_PREP + r"\s*$", m.group("gap") or ""):
            continue
        axis, sign = _TARGET[m.group("t")]
        add(axis, sign, m.start(), m.group(0), m.group("verb"))
    # 2. a motion verb, then (adverbs and) a bare direction ("shifts slightly right", "backed away")
    for m in _VERB_BARE.finditer(s):
        t = m.group("t")
        if t in ("in", "out") and (not _IN_OUT_VERBS.search(s[:m.start("t")]) or re.match(r"\s+of\b", s[m.end():])):
            continue
        if t in ("together", "apart") or (t == "up" and re.search(r"\bends?\s+$|\bended\s+$", s[:m.start("t")])):
            continue  # finger spacing is read by the aperture rules
        axis, sign = _BARE[t]
        add(axis, sign, m.start(), m.group(0), m.group("verb"))
    # 3. -ward words ("drifts leftward", "the upward shift")
    for m in _WARD.finditer(s):
        axis, sign = _BARE[m.group("t")]
        add(axis, sign, m.start(), m.group(0))
    # 4. a changed place ("further to the left in image 2", "sits lower in image 2 than in image 1")
    if _CHANGE_MARKER.search(s):
        for m in _COMPARATIVE_PLACE.finditer(s):
            t = m.group("t") or m.group("hl")
            axis, sign = _TARGET.get(t) or _BARE[t]
            add(axis, sign, m.start(), m.group(0))
    for m in _ENDS_UP.finditer(s):
        axis, sign = _TARGET[m.group("t") or m.group("t2")]
        add(axis, sign, m.start(), m.group(0))
    for m in _NOUN_DIRECTION.finditer(s):
        axis, sign = _BARE[m.group("t")]
        add(axis, sign, m.start(), m.group(0), m.group("noun") if m.group("noun") in ("pan", "tilt") else "",
            frame="camera" if m.group("noun") in ("turn", "pan", "tilt", "step", "roll") else None)
    # 5. content entering or leaving at an edge (scene motion away from / toward it)
    for rule, direction in ((_ENTER, -1), (_EXIT, 1)):
        for m in rule.finditer(s):
            window = s[max(0, m.start() - 60):m.end() + 60]
            sides = list(_SIDE.finditer(window))
            if not sides:
                continue
            centre = m.start() - max(0, m.start() - 60)
            side = min(sides, key=lambda x: (abs(x.start() - centre), x.start() < centre))
            if side.group("plural"):
                add("s", direction, m.start(), m.group(0), frame="scene")  # leaving at the edges: expansion
            else:
                axis, sign = _TARGET[side.group("side")]
                add(axis, direction * sign, m.start(), m.group(0) + " .. " + side.group(0), frame="scene")
    for m in _REVEAL.finditer(s):
        what = m.group("a") or m.group("b")  # more ceiling: the content moved down in the image
        add("v", -1 if what in ("ceiling", "sky", "roof") else 1, m.start(), m.group(0), frame="scene")
    # 6. size and distance
    for sign, rule in _SCALE:
        for m in rule.finditer(s):
            add("s", sign, m.start(), m.group(0))
    # 7. the gripper's fingers; height above the table
    for sign, rule in _APERTURE:
        for m in rule.finditer(s):
            add("a", sign, m.start(), m.group(0), frame="scene")
    for sign, rule in _HEIGHT:
        for m in rule.finditer(s):
            add("v", sign, m.start(), m.group(0), frame="scene")
    # 8. rotation: the words, slants of straight lines, an end that rises or drops
    for m in _CLOCK.finditer(s):
        add("r", -1 if m.group("ccw") else 1, m.start(), m.group(0))
    for m in _ROTATION_WORD.finditer(s):
        add("r", 1 if m.group("t") == "clockwise" else -1, m.start(), m.group(0))
    for rule, signs in _SLANT:
        for m in rule.finditer(s):
            side = m.groupdict().get("side") or m.groupdict().get("side2")
            add("r", signs[side], m.start(), m.group(0), frame="scene")
    for m in _END_MOVES.finditer(s):
        up = m.group("verb") in ("rises", "rose", "lifts", "climbs", "goes up", "is higher")
        add("r", (1 if up else -1) * (1 if m.group("side") == "left" else -1), m.start(), m.group(0), frame="scene")
    # 9. whether anything moved; the task's phase
    for m in _STILL.finditer(s):
        add("c", 0, m.start(), m.group(0), frame="scene")
    for m in _MOVED.finditer(s):
        add("c", 1, m.start(), m.group(0), frame="scene")
    for phase, rule in _PHASES.items():
        for m in rule.finditer(s):
            add("p", 0, m.start(), m.group(0), frame="scene", value=phase)
    # a rising/sinking verb with no direction word after it ("the horizon sinks", "the arm lowers the gripper")
    for m in re.finditer(r"\b(?P<up>rise|rises|rose|risen|rising|climb|climbs|climbed|climbing|ascend|ascends|ascended|"
                         r"lifts|lifted|raised|raises)\b|\b(?P<down>sink|sinks|sank|sunk|sinking|drops|dropped|dropping|"
                         r"fall|falls|fell|descend|"
                         r"falling|descends|descended|descending|dips|dipped|lowers|lowered|lowering)\b", s):
        if re.match(r"\s+out\b", s[m.end():]):
            continue  # "drops out of view": an exit, read by rule 5
        add("v", 1 if m.group("up") else -1, m.start(), m.group(0), m.group(0))
    return cues


def motion_cues(text: str) -> list[Cue]:
    """Every motion cue in ``text`` (module doc), general rules and disjunctions left out.

    >>> [(c.axis, c.sign, c.frame) for c in motion_cues("The scene slides toward the right edge of the image.")]
    [('h', 1, 'scene'), ('c', 1, 'scene')]
    >>> motion_cues("Compare the bottom-left region of image 2 and image 3.")
    []
    """
    out: list[Cue] = []
    for s in sentences(normalise(text)):
        if is_generic(s):
            continue
        out.extend(_sentence_cues(mask_disjunctions(s)))
    return out


# --- attributes -----------------------------------------------------------------------------------
#: attribute -> (the axes whose cues imply its value, {sign: value}, whether a scene cue is inverted).
ATTRIBUTE_AXES: dict[str, tuple[tuple[str, ...], dict[int, str], bool]] = {}
for _names, _axes, _values, _invert in (
    ("yaw camera_yaw translation_lateral camera_lateral", ("h",), {1: "right", -1: "left"}, True),
    ("pitch camera_pitch translation_vertical", ("v",), {1: "up", -1: "down"}, True),
    ("roll", ("r",), {1: "clockwise", -1: "counterclockwise"}, True),
    ("translation_forward camera_forward", ("s",), {1: "forward", -1: "backward"}, False),
    ("ee_lateral object_lateral", ("h",), {1: "right", -1: "left"}, False),
    ("ee_vertical", ("v",), {1: "up", -1: "down"}, False),
    ("ee_depth object_depth", ("s",), {1: "toward", -1: "away"}, False),
    ("wrist_rotation object_rotation", ("r",), {1: "clockwise", -1: "counterclockwise"}, False),
    ("gripper", ("a",), {1: "opening", -1: "closing", 0: "holding"}, False),
    ("camera_motion", ("c", "h", "v", "r", "s"), {1: "moving", 0: "stationary"}, False),
    ("phase", ("p", "a"), {1: "place", -1: "grasp"}, False),
):
    for _n in _names.split():
        ATTRIBUTE_AXES[_n] = (_axes, _values, _invert)


def implied_value(cue: Cue, attribute: str) -> str | None:
    """The value of ``attribute`` that ``cue`` states, or None when the cue is not about it.

    >>> implied_value(Cue("h", 1, "scene", "slides right"), "yaw"), implied_value(Cue("h", 1, "camera", "pans right"), "yaw")
    ('left', 'right')
    >>> implied_value(Cue("v", -1, "scene", "sinks"), "pitch"), implied_value(Cue("h", 1, "scene", "x"), "pitch")
    ('up', None)
    """
    spec = ATTRIBUTE_AXES.get(attribute)
    if spec is None or cue.axis not in spec[0]:
        return None
    axes, values, invert = spec
    if cue.axis == "p":
        return cue.value
    if attribute == "camera_motion":
        return "stationary" if (cue.axis == "c" and cue.sign == 0) else "moving"
    sign = -cue.sign if (invert and cue.frame == "scene") else cue.sign
    return values.get(sign, "?")


def value_cues(text: str, attribute: str) -> list[tuple[Cue, str]]:
    """The cues of ``text`` that state a value of ``attribute``, each with the value it states."""
    out = []
    for cue in motion_cues(text):
        value = implied_value(cue, attribute)
        if value is not None:
            out.append((cue, value))
    return out
