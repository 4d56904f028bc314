r"""The logic reward: do the relations a completion asserts hold together, and with its answer?

``logic_reward`` reads the relations a completion asserts (in its reasoning and in any text
around its answer), adds the relations its final answer asserts (the question's ``relations``
column), and checks them all with :func:`remot_train.relations.consistent`:

* **-1** when they contradict each other: a cycle (``m12 > m13 > m14 > m12``), a strict order
  against an equality (``a = b`` and ``a < b``), or two directions for one motion;
* **+1** when the completion's text asserts at least one relation and all are consistent;
* **0** when the text asserts none. The answer's own relations do not count towards "at least
  one": every answer to a comparative question asserts one, so counting it would pay the same
  +1 to every well-formed rollout of a group, which is no signal.

The grammar is small and deliberately conservative. A missed claim costs a 0 where a +1 or -1
was due; a misread one can punish sound reasoning. So anything unclear is skipped.

**Tokens, sentences, clauses.** Text is lower-cased and split into words, digits and
punctuation; arrows (``→ -> --> =>``) become one token. Sentences end at ``. ! ? ;``, a line
break or a think/answer tag (not at a decimal point). Clauses end at ``, :`` ``)`` and ``and but
while whereas however although though yet so then hence thus therefore because since
meanwhile``.

**Subjects** are canonicalised to motion names ``m{i}{j}`` (``i < j``), the motion between
images ``i`` and ``j``; its size does not depend on the order.

* ``1→2 1->2 1-2 2→1``, ``image 1 to image 2``, ``images 1-2``, ``from 1 to 2``, ``between
  images 1 and 2``, ``m12 m_12 m_{12} M12`` all name ``m12``. ``images i and j`` names the motion
  only if it is one of the question's motions; otherwise (``images 2 and 3``, image 1 being the
  reference) it names two images.
* ``pair A``, ``pair 1`` and ``pairA`` name ``m12``; ``pair B`` names ``m34``. This follows the
  pair questions (pair A: image 1 to image 2; pair B: image 3 to image 4).
* An option letter (``A B (b) option A mA m_B B's``) names what its option text names (``Image
  3`` is ``m13``, ``Pair B`` is ``m34``), so ``A`` and ``pair A`` are one subject. Without subject
  options a letter reads as ``pair`` + letter. A capital ``A`` standing alone counts only before
  a verb (``is moved turned shows ...``), a comparison word (``than vs``), ``'s``,
  punctuation or the end of the text, so the article in ``A larger turn`` is not a subject.
  ``B`` always counts.
* ``image k`` is the motion that ends at image ``k``: ``m1k`` when image 1 is the reference
  (image questions), and ``m12``/``m34`` for images 2 and 4 of pair questions. Other images
  (``image 1``) name no motion and never carry a claim. ``both pairs`` and ``the two motions``
  name both options.
* A question without subject options (true/false) has one motion, ``m12``. Claims that name no
  subject are about it.

**Comparisons** of magnitudes give ``(x, op, y)``, with ``op`` one of ``<``, ``>``, ``=``.

* Symbolic: ``m12 < m13``, chains ``m12 < m13 < m14``, ``L1 < L2`` (any letter+digits
  symbol). ``=``, ``==``, ``~`` and ``≈`` read as ``=``. Non-strict ``<= >= ≤ ≥`` are skipped:
  the check handles only strict orders and equalities.
* ``X ... <comparative> ... than ... Y`` (``than`` within four tokens of the comparative):
  ``rotation 1→2 is larger than 1→3``, ``pair A moved more than pair B``, ``1→3 shows less
  rotation than 1→2``. Also ``X exceeds/outweighs/surpasses Y``.
* Without ``than``, a comparative compares ``X`` with the *other* option. In a pair question
  ``the rotation in pair B is smaller`` gives ``m34 < m12``. Superlatives do the same (``pair A
  has the largest rotation``, ``the largest rotation is in pair B``).
* Equality: ``the same``, ``about the same``, ``equal(ly)``, ``similar``, ``identical``,
  ``comparable``, ``indistinguishable``, ``as much/large/big/far/great/strong/long as``. It holds
  between the last two subjects named before it (``A and B are about the same``), else one
  before and one after (``A is similar to B``), else a subject and the other option.

Comparatives come in two kinds:

* **strong**: ``larger bigger greater stronger wider sharper faster smaller lesser weaker
  narrower slower milder subtler tinier``, and the matching superlatives;
* **weak**: ``more less further farther higher lower longer shorter fewer most least``.

A weak comparative counts only with ``than Y``, right after a motion verb (``moved more``,
``rotated the most``), or right before a measure noun (``more rotation``).

``X`` is the nearest subject before the comparative in its clause; else the first subject after
it in its clause, before ``than``; else the nearest subject before it in the sentence. A
comparison is skipped in these cases:

* it is negated;
* it is about appearance (``looks larger``, ``appears to be smaller``, ``seems similar``, ``the
  same direction/side/scene``);
* ``than`` is followed by no subject (``more than 10 degrees``);
* it is not about motion. There must be a motion word (``moved rotation turn angle degrees
  distance motion shift ...``) between ``X`` and the end of the comparison's clause, or ``X`` or
  ``Y`` must be written in motion notation (``1→2``, ``m12``, ``pair A``). So ``in image 3, the
  bookshelf is smaller`` is about size, not motion.

**Measures.** A comparison is about the question's own quantity unless the nearest measure word
names another. For a rotation attribute (yaw, camera_yaw, pitch, roll, wrist_rotation), ``the
translation in pair A is larger`` compares ``m12.trans``, not ``m12``. For a translation
attribute (``translation_*``, ``ee_*``, ``object_*``), rotation words give ``.rot``. Without such
an attribute all measures are one quantity.

**Directions** are facts ``(f"dir:{subject}:{actor}:{axis}", "=", f"{axis}:{value}")``.

* The verb sets the axis:
  * ``turn pan yaw rotate swing swivel veer steer`` + left/right: ``yaw``; + up/down: ``pitch``;
  * ``tilt pitch look nod aim point`` + up/down: ``pitch``; + left/right: ``yaw``;
  * ``roll spin twist``, and the turn verbs, + (counter/anti)clockwise: ``spin``;
  * ``move shift slide translate strafe drift go travel step walk drive advance head lift raise
    rise pull push`` (and the nouns ``motion movement displacement``): + left/right:
    ``lateral``; + up/down: ``vertical``; + forward/ahead/backward/back: ``depth``;
    + toward/away (from the camera): ``approach``.
* Forms: ``leftward shift``, ``left turn`` and ``clockwise rotation`` (direction, then noun).
  ``X is/was/lies to/on the left/right`` counts only right after its subject and not before
  ``side edge corner part half ...`` (``image 2 is to the left``).
* Up to eight filler tokens may sit between the verb and the direction (``turned slightly to
  the left``, ``moved about 1.5 m forward``).
* ``the gripper opened/closed`` (axis ``gripper``: ``open``/``closed``).
* ``stayed still``, ``was stationary``, ``did not move``, ``no motion`` (axis ``motion`` =
  ``still``). Every other direction fact except the gripper's implies ``motion`` = ``moving``.
* The actor is the nearest actor word before the verb in its clause:
  * camera: ``camera viewpoint observer ...``;
  * view: ``view perspective`` (but ``camera view`` is the camera);
  * gripper: ``gripper arm end-effector robot hand wrist ...``;
  * object: ``object cube block ball box cup ...``;
  * scene: ``scene content background everything objects features ...``.
  Failing that, it is the head noun right before the verb (``the door moved left`` is
  ``thing:door``); failing that (a pronoun, a subject, nothing), the question's own actor:
  gripper for ``ee_*``/gripper/wrist/phase attributes, object for ``object_*``, else camera. So
  ``the camera turned left while the cube moved right`` is no contradiction.
* The subject is the nearest motion subject before the claim in its clause; else the first after
  it in its clause; else the nearest before it in the sentence; else the question's only motion.

Each axis's values are distinct constants, chained ``yaw:left < yaw:right`` by
:func:`axis_constraints`. Two values for one fact merge two ordered constants into a cycle, so a
direction contradiction is the same kind of inconsistency as an order one.

**Not claims.**

* A sentence with one of these markers asserts nothing, so weighing alternatives, restating the
  question and judging statements never count:
  ``if whether suppose assume would might may maybe perhaps could possibly either unless or
  should expect question asks determine identify statement claim true false correct incorrect
  wrong``, a ``?``, a ``/`` or a quotation mark.
* A claim with ``not no never n't without neither nor cannot hardly barely`` earlier in its
  clause is skipped: it asserts no single direction or order. (``did not move`` is itself the
  claim ``still``.)

**Revisions.** A sentence revises when it has ``wait actually hmm again closer correction oops
mistake instead reconsider re-examine recheck scratch``, or opens with ``No,``. Its claims
replace earlier claims about the same fact or the same pair of quantities, so a thinking model
that corrects itself is not punished for the slip it corrected.

**The answer.** An item of the ``relations`` column, such as ``{"if_answer": "A", "left": "A",
"op": ">", "right": "B"}``, is asserted when its ``if_answer`` equals the parsed final answer
(case-insensitively). The column is the questions contract's list of structs, or the same as a
JSON string. ``left`` and ``right`` are canonicalised like text subjects (``A``, ``mA``,
``pairA``, ``m12``, ``1->2``). They may also be direction facts, ``dir:m12:yaw`` (the
question's actor) or ``dir:m12:camera:yaw`` against ``yaw:left``, so a generator can encode
"answering true asserts that the camera turned left".

**Cost.** One pass over the tokens: punctuation is spaced by ``str.replace``, the lower-cased
text split once, each token's kind looked up in one dict (``map``), and only tokens with a kind
visited. About 0.15 ms of CPU per 300-word completion on the 2-core development machine,
tokenising alone a third of it; ``bench/bench_rewards.py`` measures it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import compress
from typing import Any, NamedTuple

from remot_train import scoring
from remot_train.relations import Relation, consistent
from remot_train.rewards._common import column, completion_text
from remot_train.rewards.task import score_row

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

#: Values of each direction axis, in the (arbitrary, fixed) order axis_constraints chains them.
AXIS_VALUES: dict[str, tuple[str, ...]] = {
    "yaw": ("left", "right"),
    "pitch": ("up", "down"),
    "spin": ("clockwise", "counterclockwise"),
    "lateral": ("left", "right"),
    "vertical": ("up", "down"),
    "depth": ("forward", "backward"),
    "approach": ("toward", "away"),
    "gripper": ("open", "closed"),
    "motion": ("still", "moving"),
}

_VALUE = {
    "left": "left", "leftward": "left", "leftwards": "left", "right": "right", "rightward": "right",
    "rightwards": "right", "up": "up", "upward": "up", "upwards": "up", "down": "down", "downward": "down",
    "downwards": "down", "forward": "forward", "forwards": "forward", "ahead": "forward",
    "backward": "backward", "backwards": "backward", "back": "backward", "toward": "toward",
    "towards": "toward", "away": "away", "clockwise": "clockwise", "cw": "clockwise",
    "counterclockwise": "counterclockwise", "counter-clockwise": "counterclockwise",
    "anticlockwise": "counterclockwise", "anti-clockwise": "counterclockwise", "ccw": "counterclockwise",
}
_LR = {"left", "right"}
_UD = {"up", "down"}
_SPIN = {"clockwise", "counterclockwise"}
_FB = {"forward", "backward"}
_TA = {"toward", "away"}


def _words(text: str) -> list[str]:
    return text.split()


_TURN, _TILT, _ROLL, _MOVE = "turn", "tilt", "roll", "move"
_VERBS: dict[str, str] = {}
for _fam, _ws in (
    (_TURN, "turn turns turned turning pan pans panned panning yaw yaws yawed yawing swing swings swung "
            "swivel swivels swiveled swivelled rotate rotates rotated rotating rotation veer veers veered "
            "steer steers steered"),
    (_TILT, "tilt tilts tilted tilting pitch pitches pitched pitching look looks looked looking nod nods "
            "nodded aim aims aimed point points pointed pointing"),
    (_ROLL, "roll rolls rolled rolling spin spins spun spinning twist twists twisted twisting"),
    (_MOVE, "move moves moved moving shift shifts shifted shifting slide slides slid sliding translate "
            "translates translated translating translation strafe strafes strafed drift drifts drifted go "
            "goes went going travel travels traveled travelled traveling travelling step steps stepped walk "
            "walks walked drive drives drove driving advance advances advanced head heads headed heading "
            "motion movement displacement lift lifts lifted raise raises raised rise rises rose pull pulls "
            "pulled push pushes pushed"),
):
    for _w in _words(_ws):
        _VERBS[_w] = _fam

#: (verb family, value group) -> axis.
_AXIS = {
    (_TURN, "lr"): "yaw", (_TURN, "ud"): "pitch", (_TURN, "spin"): "spin",
    (_TILT, "ud"): "pitch", (_TILT, "lr"): "yaw",
    (_ROLL, "spin"): "spin",
    (_MOVE, "lr"): "lateral", (_MOVE, "ud"): "vertical", (_MOVE, "fb"): "depth", (_MOVE, "ta"): "approach",
    (_MOVE, "spin"): "spin",
}
_NOUN_FAMILY = {"turn": _TURN, "turns": _TURN, "rotation": _TURN, "pan": _TURN, "yaw": _TURN, "swing": _TURN,
                "tilt": _TILT, "roll": _ROLL, "spin": _ROLL, "twist": _ROLL, "shift": _MOVE, "motion": _MOVE,
                "movement": _MOVE, "translation": _MOVE, "displacement": _MOVE, "drift": _MOVE}


def _group(value: str) -> str:
    if value in _LR:
        return "lr"
    if value in _UD:
        return "ud"
    if value in _SPIN:
        return "spin"
    if value in _FB:
        return "fb"
    return "ta"


_FILLER = set(_words(
    "slightly a bit little lot sharply clearly noticeably further farther much somewhat significantly strongly "
    "mostly mainly primarily gently quickly slowly more less also then only to the its their his her our "
    "camera view itself around by about roughly approximately over degrees degree ° deg cm m mm meters metres "
    "meter metre rad radians head body gaze hand side 's slight small in and just very quite far "
    "0 1 2 3 4 5 6 7 8 9 10 15 20 30 45 60 90"))
_CAMERA_REF = set(_words("camera viewer us me lens observer"))

_ACTOR: dict[str, str] = {}
for _actor, _ws in (
    ("camera", "camera cam viewpoint observer ego"),
    ("view", "view perspective"),
    ("gripper", "gripper end-effector effector ee arm hand claw robot wrist fingers jaw jaws"),
    ("object", "object cube block ball box item cup bottle mug toy"),
    ("scene", "scene content background everything world objects features landmarks"),
):
    for _w in _words(_ws):
        _ACTOR[_w] = _actor

#: Measure words: rotation, translation, or generic motion (None: counts as motion context only).
_MEASURE: dict[str, str | None] = {}
for _fam, _ws in (
    ("rot", "rotation rotations rotational rotate rotated rotates rotating angle angles angular degree degrees ° "
            "yaw pitch roll turn turns turned turning pan panned panning tilt tilted spin spun heading"),
    ("trans", "translation translational translate translated distance distances displacement meters metres "
              "meter metre cm"),
    (None, "motion motions movement movements move moved moves moving change changes changed magnitude amount "
           "shift shifted shifts went travelled traveled"),
):
    for _w in _words(_ws):
        _MEASURE[_w] = _fam
_ATTR_FAMILY = {"yaw": "rot", "camera_yaw": "rot", "pitch": "rot", "roll": "rot", "wrist_rotation": "rot"}

_STRONG_GT = "larger bigger greater stronger wider sharper faster"
_STRONG_LT = "smaller lesser weaker narrower slower milder subtler tinier"
_WEAK_GT = "more further farther higher longer"
_WEAK_LT = "less fewer lower shorter"
_SUP_GT = "largest biggest greatest strongest widest sharpest fastest"
_SUP_LT = "smallest weakest narrowest slowest mildest subtlest tiniest"
_MOTION_VERBS = set(_words(
    "moved moves move rotated rotates rotate turned turns turn shifted shifts changed changes translated "
    "translates travelled traveled spun rolled tilted panned went goes"))
_ADVERBS = set(_words("much far slightly a bit little lot significantly noticeably considerably even somewhat "
                      "clearly substantially marginally way"))
_LOOK = set(_words("look looks looked appear appears appeared seem seems seemed be"))
_NOT_MAGNITUDE = set(_words("direction directions way side sense orientation scene scenes image images view views "
                            "content appearance colour color object objects lighting background"))
_EQ_WORDS = set(_words("same equal equally similar identical comparable indistinguishable"))
_EQ_PRE = set(_words("about roughly approximately nearly almost basically essentially the very pretty quite much"))
_AS_WORDS = set(_words("much large big far great strong long"))
_COPULA = set(_words("stayed stays remained remains was is were are stood stands kept keeps be been seems appears "
                     "looks looked seemed appeared"))
_STILL_ADV = set(_words("completely totally essentially basically perfectly almost nearly entirely fully quite "
                        "pretty fairly relatively"))
_GRIP_OPEN = set(_words("open opens opened opening"))
_GRIP_CLOSE = set(_words("close closes closed closing"))
_GRIP_WORDS = set(_words("gripper claw fingers jaw jaws hand"))
_GRIP_AUX = set(_words("is was has had been being fully partially slightly now then begins began starts started "
                       "to kept remained stays stayed the its"))
_POS_VERBS = set(_words("is was lies lay appears sits ends"))
_POS_FILL = set(_words("located positioned placed further farther more slightly up"))
_POS_NEXT = _POS_FILL | {"to", "on", "toward", "towards"}
_PLACE_NOUNS = set(_words("side sides edge edges corner corners part half portion area region border margin"))
_LETTER_FOLLOW = set(_words(
    ". , ; : ! ? ) < > = ~ _le_ _ge_ _end_ 's is was has had moved moves turned turns rotated rotates rolled tilted "
    "shifted shows showed went goes and vs versus than or did does involves exhibits displays looks appears "
    "seems"))
_BOTH_NOUNS = set(_words("pairs motions rotations movements translations options transitions changes cases"))
_IMAGE_WORDS = set(_words("image images img frame frames picture pictures"))
_RANGE_JOIN = {"to", "_to_", "-", "and", "vs"}

# Token kinds (from 1, so that a token's kind is truthy exactly when it matters).
(K_SENT, K_CLAUSE, K_HYPO, K_NEG, K_REVISE, K_IMAGE, K_PAIR, K_OPTION, K_BOTH, K_TWO, K_FROM, K_DIGIT,
 K_RANGE, K_MSUB, K_MLETTER, K_BARE, K_PAREN, K_OP, K_CMP, K_THAN, K_EXCEED, K_EQ, K_AS, K_VERB, K_VALUE,
 K_STILL, K_GRIP, K_POS, K_ACTOR, K_NO) = range(1, 31)

#: Lower-case token -> kind. Tokens are looked up lower-cased; only bare ``A``/``B`` check case.
_KIND: dict[str, int] = {}


def _add(kind: int, words: Iterable[str]) -> None:
    for w in words:
        _KIND[w] = kind


_add(K_SENT, [".", "!", ";", "_end_"])
_add(K_CLAUSE, [",", ":", ")", "while", "whereas", "but", "however", "although", "though", "yet", "and", "so",
                "then", "hence", "thus", "therefore", "because", "since", "meanwhile"])
_add(K_HYPO, _words("if whether suppose supposing assume assuming would might maybe perhaps could possibly either "
                    "unless hypothetically or should may expect expected question asks asking determine "
                    "identify whichever statement statements claim claims true false correct incorrect wrong"))
_add(K_HYPO, ["?", "/", '"', "“", "”"])
_add(K_NEG, _words("not never neither nor without cannot hardly barely 't"))
_add(K_NO, ["no"])
_add(K_REVISE, _words("wait actually hmm again closer correction oops mistake instead reconsider reconsidering "
                      "re-examine re-examining recheck rechecking scratch"))
_add(K_IMAGE, _IMAGE_WORDS)
_add(K_PAIR, ["pair", "pairs"])
_add(K_OPTION, ["option", "options", "choice"])
_add(K_BOTH, ["both"])
_add(K_TWO, ["two"])
_add(K_FROM, ["from", "between"])
_add(K_DIGIT, [str(d) for d in range(1, 10)])
_add(K_RANGE, [f"{a}-{b}" for a in range(1, 10) for b in range(1, 10)])
_add(K_MSUB, [f"m{s}{a}{b}{e}" for a in range(1, 10) for b in range(1, 10)
              for s, e in (("", ""), ("_", ""), ("_{", "}"), ("{", "}"))])
_add(K_MLETTER, [f"{p}{s}{x}" for p in ("m", "pair") for s in ("", "_") for x in "ab"])
_add(K_BARE, ["_a_", "_b_"])  # a capital A or B alone (lower-cased); "a" is the article
_add(K_PAREN, ["("])
_add(K_OP, ["<", ">", "=", "~", "_le_", "_ge_"])
_add(K_CMP, _words(" ".join((_STRONG_GT, _STRONG_LT, _WEAK_GT, _WEAK_LT, _SUP_GT, _SUP_LT, "most least"))))
_add(K_THAN, ["than"])
_add(K_EXCEED, _words("exceeds exceeded exceed outweighs outweighed surpasses surpassed"))
_add(K_EQ, _EQ_WORDS)
_add(K_AS, ["as"])
_add(K_VERB, _VERBS)
_add(K_VALUE, [w for w in _VALUE if w not in ("back", "toward", "towards", "away", "up", "down")])
_add(K_STILL, _words("still stationary static motionless unmoving"))
_add(K_GRIP, _GRIP_OPEN | _GRIP_CLOSE)
_add(K_POS, _POS_VERBS)
_add(K_ACTOR, _ACTOR)
_DIGITS = {str(d): d for d in range(1, 10)}
_PAD = [""] * 16  # lows[n:] and lows[-k:] read as "" without bounds checks

_CMP_POLARITY: dict[str, tuple[str, str]] = {}
for _ws, _op, _strength in ((_STRONG_GT, ">", "strong"), (_STRONG_LT, "<", "strong"), (_WEAK_GT, ">", "weak"),
                            (_WEAK_LT, "<", "weak"), (_SUP_GT, ">", "sup"), (_SUP_LT, "<", "sup"),
                            ("most", ">", "weaksup"), ("least", "<", "weaksup")):
    for _w in _words(_ws):
        _CMP_POLARITY[_w] = (_op, _strength)

_OPS = {"<": "<", ">": ">", "=": "=", "~": "="}
_SYMBOL = re.compile(r"[a-zθ]_?\{?\d{1,2}\}?")
_TAGS = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
# Text -> tokens. Punctuation becomes tokens of its own by str.replace (a C loop): common marks
# always, rare ones only when one regex scan finds any. Arrows, non-strict operators, line breaks
# and think/answer tags become ASCII word tokens (``_to_``, ``_le_``, ``_ge_``, ``_end_``), so an
# ASCII text stays ASCII (str.lower is ten times faster on it), and a capital A or B standing
# alone becomes ``_A_``/``_B_``, so that one lower-cased split serves the whole grammar.
_END, _TO = "_end_", "_to_"
_COMMON = [(".", " . "), (",", " , "), (";", " ; "), (":", " : "), ("?", " ? "), ("!", " ! "), ("\n", f" {_END} "),
           ("'", " '")]
_MULTI = [("-->", f" {_TO} "), ("->", f" {_TO} "), ("=>", f" {_TO} "), ("<=", " _le_ "), (">=", " _ge_ "),
          ("==", "=")]
_REWRITE = {"-": None, "*": " ", "–": "-", "—": " , ", "#": " ", "|": " ", "’": " '", "→": f" {_TO} ",
            "⇒": f" {_TO} ", "≤": " _le_ ", "≥": " _ge_ ", "≈": " ~ ", "“": ' " ', "”": ' " '}
_RARE = re.compile(r"[-=<>*–—#|’()\"“”≈~≤≥→⇒°/]")


def _spaced(text: str) -> str:
    s = _TAGS.sub(f" {_END} ", text) if "<" in text else text
    rare = set(_RARE.findall(s))
    if rare:
        if not rare.isdisjoint("-=<>"):
            for a, b in _MULTI:
                if a in s:
                    s = s.replace(a, b)
        for mark in rare:
            new = _REWRITE.get(mark, f" {mark} ")
            if new is not None:
                s = s.replace(mark, new)
    for a, b in _COMMON:
        s = s.replace(a, b)
    s = f" {s} "
    if "A" in s:
        s = s.replace(" A ", " _A_ ").replace(" A ", " _A_ ")  # twice: " A A " overlaps
    if "B" in s:
        s = s.replace(" B ", " _B_ ").replace(" B ", " _B_ ")
    return s


def tokenize(text: str) -> list[str]:
    """Split text into the grammar's tokens (case kept): words, digits, punctuation, markers.

    >>> tokenize("Pair A's rotation (1->2) is larger.\\nL1<L2</think>")  # doctest: +NORMALIZE_WHITESPACE
    ['Pair', '_A_', "'s", 'rotation', '(', '1', '_to_', '2', ')', 'is', 'larger', '.', '_end_',
     'L1', '<', 'L2', '_end_']
    >>> tokenize("m12 <= m13, 2-->3 => x==y; it’s A")
    ['m12', '_le_', 'm13', ',', '2', '_to_', '3', '_to_', 'x', '=', 'y', ';', 'it', "'s", '_A_']
    """
    return _spaced(text).split()


# --------------------------------------------------------------------------------------------
# Question context
# --------------------------------------------------------------------------------------------


class Context(NamedTuple):
    """What a question tells the grammar: how letters and images name motions, and defaults."""

    letters: tuple[str, str]  # the subjects letters A and B name
    options: tuple[str, str] | None  # the two compared subjects of a choice question
    single: str | None  # the only motion of a question without subject options
    pair_format: bool
    family: str | None  # "rot" | "trans" | None: the attribute's measure
    actor: str


_LETTER = {"a": "a", "b": "b", "_a_": "a", "_b_": "b", "1": "a", "2": "b"}


def _pair_subject(letter: str) -> str:
    return "m12" if letter == "a" else "m34"


def _range(a: int, b: int) -> str | None:
    return None if a == b else f"m{min(a, b)}{max(a, b)}"


def _image_subject(d: int, pair_format: bool) -> str:
    if pair_format:
        return {2: "m12", 4: "m34"}.get(d, f"img{d}")
    return "img1" if d == 1 else f"m1{d}"


@lru_cache(maxsize=4096)
def _context(options: tuple[str, ...] | None, attribute: str | None, parse_rule: str | None) -> Context:
    pair_format = bool(options) and any("pair" in str(o).lower() for o in options)
    base = Context(("m12", "m34"), None, "m12", pair_format, None, "camera")
    letters = {}
    if options and parse_rule != "true_false":
        for letter, text in zip("ab", options, strict=False):
            subjects = _subjects_of(str(text), base._replace(pair_format=pair_format))
            if len(subjects) == 1:
                letters[letter] = subjects[0]
    two = len(letters) == 2 and letters["a"] != letters["b"]
    attribute = (attribute or "").lower()
    if attribute.startswith(("ee_", "gripper", "wrist", "phase")):
        actor = "gripper"
    elif attribute.startswith("object_"):
        actor = "object"
    else:
        actor = "camera"
    if attribute in _ATTR_FAMILY:
        family = _ATTR_FAMILY[attribute]
    elif attribute.startswith(("translation", "ee_", "object_")):
        family = "trans"
    else:
        family = None
    return Context(
        letters=(letters["a"], letters["b"]) if two else ("m12", "m34"),
        options=(letters["a"], letters["b"]) if two else None,
        single=None if two else "m12",
        pair_format=pair_format,
        family=family,
        actor=actor,
    )


def context(options: Iterable[str] | None = None, attribute: str | None = None,
            parse_rule: str | None = None) -> Context:
    """The grammar's view of one question (cached).

    >>> context(["Image 2", "Image 3"]).options, context(["Pair A", "Pair B"]).options
    (('m12', 'm13'), ('m12', 'm34'))
    >>> context(["true", "false"], "yaw", "true_false")[2:]
    ('m12', False, 'rot', 'camera')
    """
    opts = tuple(str(o) for o in options) if options is not None else None
    return _context(opts, attribute, parse_rule)


# --------------------------------------------------------------------------------------------
# Scanner: tokens -> sentences of events
# --------------------------------------------------------------------------------------------

# Event: (kind, token index, clause number, payload)
E_SUBJ, E_CMP, E_THAN, E_EQ, E_DIR, E_POS, E_STILL, E_GRIP, E_REL, E_NEG, E_ACTOR = range(11)


class _Scanner:
    """One pass over a completion's tokens: sentences of events, for :func:`_sentence_claims`.

    Only tokens with a kind are visited (``itertools.compress`` over the kinds), and only
    sentences that make a claim, with no hypothetical marker, are kept.
    """

    __slots__ = ("lows", "kinds", "n", "ctx")

    def __init__(self, text: str, ctx: Context):
        lows = _spaced(text).lower().split()
        self.n, self.ctx = len(lows), ctx
        self.kinds = list(map(_KIND.get, lows))
        lows.extend(_PAD)
        self.lows = lows

    # Each subject parser returns (names, motion_form, next index) or None.
    def subject(self, i: int, kind: int) -> tuple[tuple[str, ...], bool, int] | None:  # noqa: C901
        ctx, lows = self.ctx, self.lows
        if kind == K_IMAGE:
            d1 = _DIGITS.get(lows[i + 1])
            if d1 is None:
                return None
            join = lows[i + 2]
            if join in _RANGE_JOIN:
                k = i + 3
                if lows[k] in _IMAGE_WORDS:
                    k += 1
                d2 = _DIGITS.get(lows[k])
                if d2 is not None:
                    if join == "and" and lows[i - 1] != "between" and not self.is_motion(d1, d2):
                        # "images 2 and 3" (image 1 the reference): two images, not a motion.
                        names = (_image_subject(d1, ctx.pair_format), _image_subject(d2, ctx.pair_format))
                        return names, False, k + 1
                    name = _range(d1, d2)
                    return ((name,), True, k + 1) if name else None
            return (_image_subject(d1, ctx.pair_format),), False, i + 2
        if kind == K_PAIR or kind == K_OPTION:
            j = i + 1
            if lows[j] == "(":
                j += 1
            letter = _LETTER.get(lows[j])
            if letter is None:
                return None
            nxt = j + 2 if lows[j + 1] == ")" else j + 1
            if kind == K_PAIR:
                names = [_pair_subject(letter)]
                second = _LETTER.get(lows[nxt + 1])
                if lows[i] == "pairs" and second and lows[nxt] in ("and", "&", ","):
                    names.append(_pair_subject(second))
                    nxt += 2
                return tuple(names), True, nxt
            return (ctx.letters[letter == "b"],), False, nxt
        if kind == K_BARE:
            if lows[i] == "_b_" or lows[i + 1] in _LETTER_FOLLOW or not lows[i + 1]:
                return (ctx.letters[lows[i] == "_b_"],), False, i + 1
            return None  # the article "A"
        if kind == K_DIGIT:
            if lows[i + 1] != "_to_":
                return None
            d2 = _DIGITS.get(lows[i + 2])
            name = _range(_DIGITS[lows[i]], d2) if d2 is not None else None
            return ((name,), True, i + 3) if name else None
        if kind == K_FROM:
            d1 = _DIGITS.get(lows[i + 1])
            join = lows[i + 2]
            if d1 is None or join not in ("to", "and", "_to_", "-"):
                return None
            if (join == "and") != (lows[i] == "between"):
                return None
            k = i + 3
            if lows[k] in _IMAGE_WORDS:
                k += 1
            d2 = _DIGITS.get(lows[k])
            name = _range(d1, d2) if d2 is not None else None
            return ((name,), True, k + 1) if name else None
        if kind == K_BOTH or kind == K_TWO:
            nxt = lows[i + 1]
            if kind == K_TWO and lows[i - 1] != "the":
                return None
            if ctx.options and (nxt in _BOTH_NOUNS or (kind == K_BOTH and nxt == "of" and lows[i + 2] == "them")):
                return ctx.options, nxt in _BOTH_NOUNS and nxt != "options", i + 2
            return None
        if kind == K_RANGE:
            t = lows[i]
            name = _range(int(t[0]), int(t[2]))
            return ((name,), True, i + 1) if name else None
        if kind == K_MSUB:
            digits = [c for c in lows[i] if c.isdigit()]
            name = _range(int(digits[0]), int(digits[1]))
            return ((name,), True, i + 1) if name else None
        if kind == K_MLETTER:
            t = lows[i]
            if t.startswith("pair"):
                return (_pair_subject(t[-1]),), True, i + 1
            return (ctx.letters[t[-1] == "b"],), False, i + 1
        if kind == K_PAREN:
            letter = _LETTER.get(lows[i + 1])
            if letter and lows[i + 2] == ")" and not lows[i + 1].isdigit():
                return (ctx.letters[letter == "b"],), False, i + 3
            return None
        return None

    def is_motion(self, a: int, b: int) -> bool:
        """Whether images a and b are the two ends of one of the question's motions."""
        a, b = min(a, b), max(a, b)
        if self.ctx.pair_format:
            return (a, b) in ((1, 2), (3, 4))
        return a == 1 and b > 1

    def symbol(self, j: int) -> str | None:
        t = self.lows[j]
        if t and _SYMBOL.fullmatch(t):
            return t.replace("_", "").replace("{", "").replace("}", "")
        return None

    def direction(self, i: int, family: str) -> tuple[str, str, int] | None:
        """Verb at ``i`` + fillers + a direction word: (axis, value, index after)."""
        lows = self.lows
        j = i + 1
        limit = i + 10  # up to eight filler tokens (a decimal number is three)
        while j < limit:
            t = lows[j]
            value = _VALUE.get(t)
            if value is not None:
                if value == "toward":
                    nxt = lows[j + 1]
                    if nxt == "the":
                        nxt = lows[j + 2]
                    if nxt in _LR or nxt in ("top", "bottom"):
                        j += 1
                        continue
                    return _axis(family, "toward", j + 1) if nxt in _CAMERA_REF else None
                if value == "away" and lows[j + 1] == "from":
                    nxt = lows[j + 2]
                    if nxt == "the":
                        nxt = lows[j + 3]
                    if nxt not in _CAMERA_REF:
                        return None
                return _axis(family, value, j + 1)
            if t in _FILLER or t.isdigit():
                j += 1
                continue
            if t == "." and lows[j - 1].isdigit() and lows[j + 1].isdigit():
                j += 1  # a decimal point: "1.5 degrees"
                continue
            return None
        return None

    def scan(self) -> list[tuple[list[tuple], bool]]:  # noqa: C901
        """The sentences that claim something, as (events, whether the sentence revises)."""
        lows, kinds, n = self.lows, self.kinds, self.n
        sentences: list[tuple[list[tuple], bool]] = []
        events: list[tuple] = []
        append = events.append
        clause = 0
        sent_start = 0
        hypo = revise = claim = False
        skip = 0
        for i in compress(range(n), kinds):
            if i < skip:
                continue
            kind = kinds[i]
            if kind == K_CLAUSE:
                clause += 1
                continue
            if kind == K_SENT or (kind == K_HYPO and lows[i] == "?"):
                if kind == K_SENT and lows[i] == "." and lows[i - 1].isdigit() and lows[i + 1].isdigit():
                    continue  # a decimal point
                if claim and not (hypo or kind == K_HYPO):
                    sentences.append((events, revise))
                if events:
                    events = []
                    append = events.append
                hypo = revise = claim = False
                sent_start = i + 1
                clause += 1
                continue
            if hypo:
                continue  # the rest of a hypothetical sentence asserts nothing
            if kind == K_HYPO:
                hypo = True
                continue
            if K_IMAGE <= kind <= K_PAREN:
                if kind == K_DIGIT and lows[i + 1] != "_to_":
                    continue  # a number, not "1 -> 2"
                parsed = self.subject(i, kind)
                if parsed is None:
                    if kind == K_PAREN:
                        clause += 1
                    continue
                names, motion_form, skip = parsed
                if len(names) == 2 and kind == K_IMAGE:
                    append((E_SUBJ, i, clause, ((names[0],), False, i + 2)))
                    append((E_SUBJ, skip - 1, clause, ((names[1],), False, skip)))
                else:
                    append((E_SUBJ, i, clause, (names, motion_form, skip)))
                continue
            if kind == K_VERB:
                t = lows[i]
                found = self.direction(i, _VERBS[t])
                if found is not None:
                    append((E_DIR, i, clause, (found[0], found[1])))
                    skip = found[2]
                    claim = True
                elif t in ("move", "moving", "moves") and lows[i - 1] in ("not", "'t", "never") \
                        and lows[i + 1] not in _FILLER:
                    append((E_STILL, i, clause, False))
                    claim = True
                continue
            if kind == K_NEG:
                append((E_NEG, i, clause, None))
                continue
            if kind == K_ACTOR:
                actor = _ACTOR[lows[i]]
                if actor == "view" and (lows[i - 1] == "camera" or (lows[i - 1] == "'s" and lows[i - 2] == "camera")):
                    continue  # "the camera view" is the camera
                append((E_ACTOR, i, clause, actor))
                continue
            if kind == K_CMP:
                found = self.comparative(i)
                if found is not None:
                    append((E_CMP, i, clause, found))
                    claim = True
                continue
            if kind == K_THAN:
                append((E_THAN, i, clause, None))
                continue
            if kind == K_VALUE:
                family = _NOUN_FAMILY.get(lows[i + 1])
                if family is not None:
                    found = _axis(family, _VALUE[lows[i]], i + 2)
                    if found is not None:
                        append((E_DIR, i, clause, (found[0], found[1])))
                        skip = i + 2
                        claim = True
                continue
            if kind == K_OP:
                found = self.operator(i, events)
                if found is not None:
                    append((E_REL, i, clause, found))
                    skip = found[3]
                    claim = True
                continue
            if kind == K_EQ or kind == K_AS:
                end = self.equality(i, kind)
                if end:
                    append((E_EQ, i, clause, None))
                    skip = end
                    claim = True
                continue
            if kind == K_REVISE:
                revise = True
                continue
            if kind == K_NO:
                if i == sent_start and lows[i + 1] == ",":
                    revise = True
                    continue
                j = i + 1
                while lows[j] in ("camera", "visible", "noticeable", "significant", "apparent", "real", "obvious"):
                    j += 1
                if lows[j] in ("motion", "movement"):
                    append((E_STILL, i, clause, False))
                    skip = j + 1
                    claim = True
                else:
                    append((E_NEG, i, clause, None))
                continue
            if kind == K_EXCEED:
                append((E_CMP, i, clause, (">", "direct")))
                claim = True
                continue
            if kind == K_STILL:
                j = i - 1
                while lows[j] in _STILL_ADV:
                    j -= 1
                if lows[j] in _COPULA:
                    append((E_STILL, i, clause, True))
                    claim = True
                continue
            if kind == K_GRIP:
                t = lows[i]
                if not (t == "close" and lows[i + 1] in ("to", "by")):
                    j = i - 1
                    while j >= i - 4 and lows[j] in _GRIP_AUX:
                        j -= 1
                    if lows[j] in _GRIP_WORDS:
                        append((E_GRIP, i, clause, "open" if t in _GRIP_OPEN else "closed"))
                        claim = True
                continue
            if kind == K_POS:
                if lows[i + 1] not in _POS_NEXT:
                    continue
                j = i + 1
                while lows[j] in _POS_FILL:
                    j += 1
                if lows[j] in ("to", "on", "toward", "towards") and lows[j + 1] == "the" and lows[j + 2] in _LR \
                        and lows[j + 3] not in _PLACE_NOUNS:
                    append((E_POS, i, clause, lows[j + 2]))
                    skip = j + 3
                    claim = True
                continue
        if claim and not hypo:
            sentences.append((events, revise))
        return sentences

    def operand(self, j: int) -> tuple[str, int] | None:
        """A subject or symbol starting at token ``j``: (name, next index)."""
        kind = self.kinds[j] if j < self.n else None
        if kind is not None and K_IMAGE <= kind <= K_PAREN:
            parsed = self.subject(j, kind)
            if parsed is not None and len(parsed[0]) == 1:
                return parsed[0][0], parsed[2]
        sym = self.symbol(j)
        return (sym, j + 1) if sym else None

    def operator(self, i: int, events: list) -> tuple[str, str, str, int] | None:
        """``left op right`` around the operator at ``i``: (left, op, right, index after)."""
        op = _OPS.get(self.lows[i])
        if op is None:
            return None
        last = events[-1] if events else None
        if last is not None and last[0] == E_SUBJ and len(last[3][0]) == 1 and last[3][2] == i:
            left = last[3][0][0]  # the subject ends right before the operator
        elif last is not None and last[0] == E_REL and last[3][3] == i:
            left = last[3][2]  # a chain: "m12 < m13 < m14"
        else:
            left = self.symbol(i - 1) if i else None
        right = self.operand(i + 1)
        if left is None or right is None:
            return None
        return left, op, right[0], right[1]

    def comparative(self, i: int) -> tuple[str, str] | None:
        """(op, strength) of the comparative at ``i``, or None when it is not about magnitude."""
        lows = self.lows
        op, strength = _CMP_POLARITY[lows[i]]
        j = i - 1
        while lows[j] in _ADVERBS:
            j -= 1
        before = lows[j]
        if before in _LOOK or (before == "to" and lows[j - 1] in _LOOK):
            return None  # appearance: "looks larger", "appears to be smaller"
        if strength == "weak" or strength == "weaksup":
            if before in _MOTION_VERBS or (before == "the" and lows[j - 1] in _MOTION_VERBS) \
                    or lows[i + 1] in _MEASURE:
                strength = "strong" if strength == "weak" else "sup"
            elif strength == "weaksup":
                return None
        return op, strength

    def equality(self, i: int, kind: int) -> int:
        """The index after an equality phrase at ``i``, or 0 when there is none."""
        lows = self.lows
        if kind == K_AS:
            return i + 3 if lows[i + 1] in _AS_WORDS and lows[i + 2] == "as" else 0
        prev = lows[i - 1]
        if lows[i] == "same" and prev != "the" and prev not in _EQ_PRE:
            return 0
        if lows[i + 1] in _NOT_MAGNITUDE:
            return 0
        j = i - 1
        while lows[j] in _EQ_PRE or lows[j] in _ADVERBS:
            j -= 1
        if lows[j] in _LOOK:
            return 0
        return i + 1


def _axis(family: str, value: str, end: int) -> tuple[str, str, int] | None:
    axis = _AXIS.get((family, _group(value)))
    return (axis, value, end) if axis else None


# --------------------------------------------------------------------------------------------
# Sentences -> claims
# --------------------------------------------------------------------------------------------


_FUNCTION = set(_words(
    "the a an this that these those it its they them their we our i you he she his her then also clearly has had "
    "have was is were are been being be just now still only both in on at of to from for with by as seems seemed "
    "appears appeared appear seem looks look looked apparently obviously likely probably definitely certainly there "
    "here 's all whole entire slightly somewhat who so thus really indeed again first second next"))


_NOT_HEAD = {K_REVISE, K_NEG, K_NO, K_CMP, K_EQ, K_STILL}


def _negated(events: list[tuple], p: int) -> bool:
    clause = events[p][2]
    for q in range(p - 1, -1, -1):
        e = events[q]
        if e[2] != clause:
            return False
        if e[0] == E_NEG:
            return True
    return False


def _is_motion_subject(e: tuple) -> bool:
    # A subject event naming motions; a lone image such as the reference image 1 names none.
    return e[0] == E_SUBJ and not e[3][0][0].startswith("img")


def _subject_near(events: list[tuple], p: int, stop_kinds: tuple[int, ...] = ()) -> tuple | None:
    """The subject event of the claim at ``p``: the nearest motion subject before it in its
    clause, else the first after it in its clause, else the nearest before it in the sentence."""
    clause = events[p][2]
    for q in range(p - 1, -1, -1):
        e = events[q]
        if e[2] != clause:
            break
        if _is_motion_subject(e):
            return e
    for q in range(p + 1, len(events)):
        e = events[q]
        if e[2] != clause or e[0] in stop_kinds:
            break
        if _is_motion_subject(e):
            return e
    for q in range(p - 1, -1, -1):
        if _is_motion_subject(events[q]):
            return events[q]
    return None


def _actor_near(events: list[tuple], p: int, scanner: _Scanner) -> str:
    """Who moved: the nearest actor word before the claim in its clause; else the head noun
    right before the verb (``the door moved left`` is ``thing:door``, not the camera); else,
    after a pronoun, a subject or nothing, the question's own actor."""
    e = events[p]
    clause = e[2]
    for q in range(p - 1, -1, -1):
        f = events[q]
        if f[2] != clause:
            break
        if f[0] == E_ACTOR:
            return f[3]
    default = scanner.ctx.actor
    lows, kinds = scanner.lows, scanner.kinds
    for j in range(e[1] - 1, max(0, e[1] - 6) - 1, -1):
        t = lows[j]
        kind = kinds[j]
        if kind == K_CLAUSE or kind == K_SENT or t == "(":
            break  # the start of the clause
        if t in _FUNCTION or t.endswith("ly") or kind in _NOT_HEAD:
            continue
        if t.isdigit() or (kind is not None and (K_IMAGE <= kind <= K_PAREN or kind in (K_ACTOR, K_VERB))):
            return default
        return f"thing:{t}" if t.isalpha() else default
    return default


def _measure(scanner: _Scanner, start: int, centre: int) -> tuple[str | None, bool]:
    """(measure family, motion word present) of a comparison at ``centre`` whose subject is at
    ``start``: over the tokens from the subject (or the comparison's clause, if that starts
    earlier) to the end of the comparison's clause. The family is the named measure nearest
    ``centre``; None for generic motion words or none."""
    lows, kinds = scanner.lows, scanner.kinds
    a = centre
    while a > 0 and kinds[a - 1] != K_CLAUSE and kinds[a - 1] != K_SENT:
        a -= 1
    b = centre
    while b < scanner.n and kinds[b] != K_CLAUSE and kinds[b] != K_SENT:
        b += 1
    motion = False
    best, best_d = None, 1 << 30
    for j in range(min(a, start), b):
        t = lows[j]
        if t in _MEASURE:
            motion = True
            fam = _MEASURE[t]
            if fam is not None and abs(j - centre) < best_d:
                best, best_d = fam, abs(j - centre)
        elif t in _VERBS:
            motion = True
    return best, motion


def _quantity(subject: str, measure: str | None, ctx: Context) -> str:
    if measure is None or ctx.family is None or measure == ctx.family:
        return subject
    return f"{subject}.{measure}"


def _other(subject: str, ctx: Context) -> str | None:
    if ctx.options and subject in ctx.options:
        return ctx.options[1] if subject == ctx.options[0] else ctx.options[0]
    return None


def _single(names: tuple[str, ...] | None) -> str | None:
    return names[0] if names and len(names) == 1 else None


def _sentence_claims(events: list[tuple], scanner: _Scanner) -> list[tuple[Any, Relation]]:  # noqa: C901
    """(key, relation) for each claim of one sentence's events; the key says what a later
    revision replaces (a direction fact, or a pair of quantities)."""
    ctx = scanner.ctx
    out: list[tuple[Any, Relation]] = []
    for p, e in enumerate(events):
        kind = e[0]
        if kind == E_REL:
            left, op, right, _ = e[3]
            out.append((frozenset((left, right)), (left, op, right)))
        elif kind == E_DIR or kind == E_POS or kind == E_STILL or kind == E_GRIP:
            if not (kind == E_STILL and not e[3]) and _negated(events, p):
                continue  # ("did not move" is itself the claim, not a negated one)
            if kind == E_POS:  # "image 2 is to the left": only right after its subject
                prev = events[p - 1] if p else None
                if prev is None or prev[0] != E_SUBJ or prev[3][2] != e[1]:
                    continue
                names: tuple[str, ...] | None = prev[3][0]
            else:
                subject = _subject_near(events, p)
                names = subject[3][0] if subject else ((ctx.single,) if ctx.single else None)
            if not names:
                continue
            if kind == E_GRIP:
                actor, axis, value = "gripper", "gripper", e[3]
            elif kind == E_STILL:
                actor, axis, value = _actor_near(events, p, scanner), "motion", "still"
            elif kind == E_POS:
                actor, axis, value = _actor_near(events, p, scanner), "lateral", e[3]
            else:
                actor = _actor_near(events, p, scanner)
                axis, value = e[3]
            for name in names:
                key = f"dir:{name}:{actor}:{axis}"
                out.append((key, (key, "=", f"{axis}:{value}")))
                if axis != "motion" and axis != "gripper":
                    mkey = f"dir:{name}:{actor}:motion"
                    out.append((mkey, (mkey, "=", "motion:moving")))
        elif kind == E_CMP:
            op, strength = e[3]
            if _negated(events, p):
                continue
            # "than" right after (within 4 tokens), then the subject after it.
            than = None
            for q in range(p + 1, len(events)):
                f = events[q]
                if f[1] - e[1] > 4 or f[0] in (E_CMP, E_EQ, E_SUBJ):
                    break
                if f[0] == E_THAN:
                    than = q
                    break
            x_ev = _subject_near(events, p, stop_kinds=(E_THAN,))
            x = _single(x_ev[3][0]) if x_ev else None
            if x is None:
                continue
            y_ev = None
            if strength == "direct" or than is not None:
                for q in range((p if than is None else than) + 1, len(events)):
                    f = events[q]
                    if f[0] == E_CMP or f[0] == E_EQ:
                        break
                    if f[0] == E_SUBJ:
                        y_ev = f
                        break
                y = _single(y_ev[3][0]) if y_ev else None
            elif strength == "strong" or strength == "sup":
                y = _other(x, ctx)
            else:
                y = None
            if y is None or x == y or y.startswith("img"):
                continue
            measure, motion = _measure(scanner, x_ev[1], e[1])
            if not (motion or x_ev[3][1] or (y_ev[3][1] if y_ev else ctx.pair_format)):
                continue  # not about motion: "the cube is smaller in image 3"
            qx, qy = _quantity(x, measure, ctx), _quantity(y, measure, ctx)
            out.append((frozenset((qx, qy)), (qx, op, qy)))
        elif kind == E_EQ:
            if _negated(events, p):
                continue
            before: list[tuple[str, tuple]] = []  # (name, its event), latest mention last
            for q in range(p):
                if events[q][0] == E_SUBJ:
                    for name in events[q][3][0]:
                        before = [b for b in before if b[0] != name] + [(name, events[q])]
            after = [(n, events[q]) for q in range(p + 1, len(events)) if events[q][0] == E_SUBJ
                     for n in events[q][3][0]]
            if len(before) >= 2:
                pair = before[-2:]
            elif len(before) == 1:
                others = [a for a in after if a[0] != before[0][0]]
                pair = [before[0], others[0] if others else (_other(before[0][0], ctx), None)]
            elif len(after) >= 2:
                pair = after[:2]
            elif len(after) == 1:
                pair = [after[0], (_other(after[0][0], ctx), None)]
            else:
                continue
            (x, x_ev), (y, y_ev) = pair
            if y is None or x == y or x.startswith("img") or y.startswith("img"):
                continue
            measure, motion = _measure(scanner, x_ev[1], e[1])
            if not (motion or x_ev[3][1] or (y_ev[3][1] if y_ev else ctx.pair_format)):
                continue
            qx, qy = _quantity(x, measure, ctx), _quantity(y, measure, ctx)
            out.append((frozenset((qx, qy)), (qx, "=", qy)))
    return out


def extract_claims(text: str, options: Iterable[str] | None = None, attribute: str | None = None,
                   parse_rule: str | None = None) -> list[Relation]:
    """The relations a text asserts, in the grammar of this module's docstring.

    >>> extract_claims("The rotation 1→2 is larger than 1->3, and image 1 to image 3 exceeds m14.")
    [('m12', '>', 'm13'), ('m13', '>', 'm14')]
    >>> extract_claims("In pair B the camera turned to the right; pair A is smaller.", ["Pair A", "Pair B"])
    [('dir:m34:camera:yaw', '=', 'yaw:right'), ('dir:m34:camera:motion', '=', 'motion:moving'), ('m12', '<', 'm34')]
    >>> extract_claims("If the camera turned left, image 2 would be on the right.")
    []
    >>> extract_claims("The camera turned left. Wait, actually it turned right.")
    [('dir:m12:camera:yaw', '=', 'yaw:right'), ('dir:m12:camera:motion', '=', 'motion:moving')]
    """
    ctx = context(options, attribute, parse_rule)
    return _claims(text, ctx)


def _claims(text: str, ctx: Context) -> list[Relation]:
    scanner = _Scanner(text, ctx)
    claims: dict[Any, list[Relation]] = {}
    for events, revise in scanner.scan():
        for key, relation in _sentence_claims(events, scanner):
            held = claims.get(key)
            if held is None:
                claims[key] = [relation]
            elif relation not in held:
                if revise:
                    claims[key] = [relation]
                else:
                    held.append(relation)
    return [r for rels in claims.values() for r in rels]


# --------------------------------------------------------------------------------------------
# The answer's relations, and the check
# --------------------------------------------------------------------------------------------


def _items(parsed: Any, raw: Any) -> tuple[tuple[str, str, str, str], ...]:
    try:
        return tuple((str(it["if_answer"]).strip().lower(), str(it["left"]), str(it["op"]), str(it["right"]))
                     for it in parsed)
    except (KeyError, TypeError) as e:
        raise ValueError(f"relations must be a list of {{if_answer, left, op, right}} objects, got {raw!r:.120}") \
            from e


@lru_cache(maxsize=8192)
def _parse_relations(raw: str) -> tuple[tuple[str, str, str, str], ...]:
    if not raw.strip():
        return ()
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"relations is not JSON: {raw!r:.120}") from e
    return _items(parsed, raw)


def _relation_items(raw: Any) -> tuple[tuple[str, str, str, str], ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return _parse_relations(raw)
    return _items(raw, raw)


def _subjects_of(text: str, ctx: Context) -> list[str]:
    scanner = _Scanner(text, ctx)
    out, i = [], 0
    while i < scanner.n:
        kind = scanner.kinds[i]
        parsed = scanner.subject(i, kind) if kind is not None and K_IMAGE <= kind <= K_PAREN else None
        if parsed is None:
            i += 1
            continue
        out.extend(parsed[0])
        i = parsed[2]
    return out


@lru_cache(maxsize=8192)
def _canonical_name(name: str, ctx: Context) -> str:
    text = name.strip()
    parts = text.split(":")
    if len(parts) in (3, 4) and parts[0].lower() == "dir":
        subject = _canonical_name(parts[1], ctx)
        actor = parts[2].lower() if len(parts) == 4 else ctx.actor
        return f"dir:{subject}:{actor}:{parts[-1].lower()}"
    if len(parts) == 2 and parts[0].lower() in AXIS_VALUES:
        value = _VALUE.get(parts[1].lower(), parts[1].lower())
        return f"{parts[0].lower()}:{value}"
    subjects = _subjects_of(text, ctx)
    if len(subjects) == 1:
        return subjects[0]
    return text.lower()


def canonical_name(name: str, options: Iterable[str] | None = None, attribute: str | None = None,
                   parse_rule: str | None = None) -> str:
    """A quantity or fact name as the grammar writes it.

    >>> [canonical_name(n, ["Pair A", "Pair B"]) for n in ["mA", "pairB", "A", "1->2", "image 3 to image 4", "L1"]]
    ['m12', 'm34', 'm12', 'm12', 'm34', 'l1']
    >>> canonical_name("dir:pairA:yaw"), canonical_name("yaw:Leftward")
    ('dir:m12:camera:yaw', 'yaw:left')
    """
    return _canonical_name(name, context(options, attribute, parse_rule))


def answer_relations(relations: Any, parsed_answer: str | None, options: Iterable[str] | None = None,
                     attribute: str | None = None, parse_rule: str | None = None) -> list[Relation]:
    """The relations the final answer asserts: the ``relations`` items whose ``if_answer`` it is.

    >>> rels = json.dumps([{"if_answer": "A", "left": "mA", "op": ">", "right": "mB"},
    ...                    {"if_answer": "B", "left": "mA", "op": "<", "right": "mB"}])
    >>> answer_relations(rels, "B", ["Image 2", "Image 3"])
    [('m12', '<', 'm13')]
    >>> answer_relations("[]", "A"), answer_relations(rels, None)
    ([], [])
    """
    return _answer_relations(_relation_items(relations), parsed_answer, context(options, attribute, parse_rule))


def _answer_relations(items: tuple[tuple[str, str, str, str], ...], parsed_answer: str | None,
                      ctx: Context) -> list[Relation]:
    if parsed_answer is None or not items:
        return []
    answer = str(parsed_answer).strip().lower()
    return [(_canonical_name(left, ctx), op, _canonical_name(right, ctx))
            for if_answer, left, op, right in items if if_answer == answer]


def axis_constraints(relations: Iterable[Relation]) -> list[Relation]:
    """Order constraints that keep an axis's values distinct: ``yaw:left < yaw:right``, ...

    >>> axis_constraints([("dir:m12:camera:yaw", "=", "yaw:left"), ("dir:m12:camera:yaw", "=", "yaw:right")])
    [('yaw:left', '<', 'yaw:right')]
    """
    seen: dict[str, set[str]] = {}
    for relation in relations:
        for name in (relation[0], relation[2]):
            axis, sep, value = name.partition(":")
            if sep and axis in AXIS_VALUES and value in AXIS_VALUES[axis]:
                seen.setdefault(axis, set()).add(value)
    out = []
    for axis, values in seen.items():
        ordered = [v for v in AXIS_VALUES[axis] if v in values]
        out.extend((f"{axis}:{a}", "<", f"{axis}:{b}") for a, b in zip(ordered, ordered[1:], strict=False))
    return out


def check(relations: Iterable[Relation]) -> bool:
    """Whether relations (order comparisons and direction facts) can all hold.

    >>> check([("m12", ">", "m13"), ("m13", ">", "m14")]), check([("m12", ">", "m13"), ("m13", ">", "m12")])
    (True, False)
    >>> check([("dir:m12:camera:yaw", "=", "yaw:left"), ("dir:m12:camera:yaw", "=", "yaw:right")])
    False
    """
    relations = list(relations)
    return consistent(relations + axis_constraints(relations))


def logic_score(text: str, relations: Any = None, parsed_answer: str | None = None,
                options: Iterable[str] | None = None, attribute: str | None = None,
                parse_rule: str | None = None) -> float:
    """-1, 0 or +1 for one completion's text (see the module docstring).

    >>> rels = json.dumps([{"if_answer": "A", "left": "mA", "op": ">", "right": "mB"},
    ...                    {"if_answer": "B", "left": "mA", "op": "<", "right": "mB"}])
    >>> opts = ["Pair A", "Pair B"]
    >>> logic_score("Pair A rotated more than pair B.</think><answer>A</answer>", rels, "A", opts)
    1.0
    >>> logic_score("Pair A rotated more than pair B.</think><answer>B</answer>", rels, "B", opts)
    -1.0
    >>> logic_score("Hard to tell.</think><answer>B</answer>", rels, "B", opts)
    0.0
    """
    return _logic(text, context(options, attribute, parse_rule), relations, lambda: parsed_answer)


def _logic(text: str, ctx: Context, relations: Any, answer: Callable[[], str | None]) -> float:
    claims = _claims(text, ctx)
    if not claims:
        return 0.0
    items = _relation_items(relations)
    if items:  # parse the answer only when it can assert something
        claims += _answer_relations(items, answer(), ctx)
    return 1.0 if check(claims) else -1.0


def parsed_answer(text: str, answer: Any = None, parse_rule: Any = None, options: Any = None,
                  tolerance: Any = None) -> str | None:
    """The final answer as scoring parses it; the raw last ``<answer>`` text without a parse rule.

    >>> parsed_answer("x</think><answer>(b)</answer>", "A", "choice_letter", ["Pair A", "Pair B"])
    'B'
    >>> parsed_answer("x</think><answer>140 cm</answer>", "1.2 m", "number_mra")
    '1.4'
    >>> parsed_answer("<answer>1 m</answer>", "5 deg", "number_mra") is None  # a length for an angle
    True
    >>> parsed_answer("<answer> maybe </answer>")
    'maybe'
    """
    if parse_rule is None:
        return scoring.last_answer(text)
    return score_row(text, answer if answer is not None else "", parse_rule, options, tolerance).parsed


def logic_reward(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                 **columns: Any) -> list[float]:
    """+1 / 0 / -1 per completion: consistent relations, none, or a contradiction.

    Columns used (all optional): ``relations`` (JSON list of ``{"if_answer", "left", "op",
    "right"}``, or the parsed list), ``answer``, ``parse_rule``, ``options``, ``tolerance`` (to
    parse the final answer as scoring does), ``attribute`` (measure and default actor).

    >>> rels = json.dumps([{"if_answer": "A", "left": "mA", "op": ">", "right": "mB"},
    ...                    {"if_answer": "B", "left": "mA", "op": "<", "right": "mB"}])
    >>> logic_reward(completions=[
    ...     "Image 1 to image 2 rotates more than 1→3, so m12 > m13.</think><answer>A</answer>",
    ...     "The rotation in image 3 is larger.</think><answer>A</answer>",
    ...     [{"role": "assistant", "content": "Both look similar.</think><answer>B</answer>"}]],
    ...     relations=[rels] * 3, answer=["A"] * 3, parse_rule=["choice_letter"] * 3,
    ...     options=[["Image 2", "Image 3"]] * 3, attribute=["yaw"] * 3)
    [1.0, -1.0, 0.0]
    """
    n = len(completions)
    rows = zip(completions, column(columns, "relations", n), column(columns, "answer", n),
               column(columns, "parse_rule", n), column(columns, "options", n), column(columns, "tolerance", n),
               column(columns, "attribute", n), strict=True)
    out = []
    for completion, relations, answer, parse_rule, options, tolerance, attribute in rows:
        text = completion_text(completion)
        out.append(_logic(text, context(options, attribute, parse_rule), relations,
                          lambda: parsed_answer(text, answer, parse_rule, options, tolerance)))  # noqa: B023
    return out
