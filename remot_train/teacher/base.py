"""The teacher protocol, the guard every teacher goes through, and the leakage measurement.

A teacher is anything with ``patch(sample, failed_rollouts) -> EvidencePatch | None``. Concrete
teachers subclass :class:`BaseTeacher` and implement :meth:`BaseTeacher.propose`; the base
class's :meth:`BaseTeacher.patch` then

1. calls ``propose`` and turns any exception, ``None`` or schema error into a *fallback*
   (no patch; never raises);
2. validates the patch against the question's image count;
3. runs :func:`~remot_train.teacher.leak.check_leak` and drops a leaking patch (*leak drop*);
4. fills in the crops (one zoom per region) when the teacher gave none.

The guard runs on every patch, whether or not the teacher saw the answer: a teacher that only sees
the images can still describe the motion ("the scene slides right"), which gives the answer away as
surely as naming it. Model-backed teachers are shown the answer only when asked (``sees_answer``,
:func:`answer_option`).

``teacher.stats`` counts ``calls``, ``patches`` (delivered), ``fallbacks`` and ``leak_drops``;
``calls == patches + fallbacks + leak_drops`` always holds. :func:`guarded` puts the same guard
around a teacher that does not subclass :class:`BaseTeacher`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from remot_train.teacher.images import crops_for, image_roles, sample_images
from remot_train.teacher.leak import check_leak
from remot_train.teacher.patch import EvidencePatch, PatchSchemaError

log = logging.getLogger(__name__)


@runtime_checkable
class Teacher(Protocol):
    def patch(self, sample: dict, failed_rollouts: list[str]) -> EvidencePatch | None: ...


@dataclass
class Outcome:
    """What one teacher call produced: the delivered ``patch`` (None unless ``status`` is
    ``"patch"``), the ``status`` (``patch`` | ``fallback`` | ``leak``), the ``reason`` for a
    fallback or a drop, and the raw ``proposed`` patch (kept for audits, also when dropped)."""

    patch: EvidencePatch | None
    status: str
    reason: str | None = None
    proposed: EvidencePatch | None = None


class BaseTeacher:
    """Guarded teacher: subclasses implement :meth:`propose`."""

    def __init__(self, crop_size: int = 128, with_crops: bool = True) -> None:
        self.crop_size = crop_size
        self.with_crops = with_crops
        self.stats: dict[str, int] = {"calls": 0, "patches": 0, "fallbacks": 0, "leak_drops": 0}
        self.last: Outcome | None = None

    def propose(self, sample: dict, failed_rollouts: list[str]) -> EvidencePatch | None:
        raise NotImplementedError

    def patch(self, sample: dict, failed_rollouts: list[str]) -> EvidencePatch | None:
        return self.review(sample, failed_rollouts).patch

    def review(self, sample: dict, failed_rollouts: list[str] | None) -> Outcome:
        """One guarded call; updates :attr:`stats` and :attr:`last`."""
        self.stats["calls"] += 1
        proposed = None
        try:
            n_images = len(image_roles(sample))
            proposed = self.propose(sample, list(failed_rollouts or []))
            if proposed is None:
                return self._done(Outcome(None, "fallback", "the teacher gave no patch"))
            if not isinstance(proposed, EvidencePatch):
                proposed = EvidencePatch.from_json(proposed)
            proposed.validate(n_images)
        except PatchSchemaError as exc:
            return self._done(Outcome(None, "fallback", f"invalid patch: {exc}", proposed))
        except Exception as exc:  # a teacher must never take training down
            log.warning("teacher %s failed: %s: %s", type(self).__name__, type(exc).__name__, exc)
            return self._done(Outcome(None, "fallback", f"{type(exc).__name__}: {exc}", proposed))
        reason = check_leak(proposed, sample)
        if reason is not None:
            return self._done(Outcome(None, "leak", reason, proposed))
        if self.with_crops and proposed.regions and not proposed.crops:
            try:
                proposed.crops = crops_for(proposed.regions, sample_images(sample), self.crop_size)
            except Exception as exc:
                return self._done(Outcome(None, "fallback", f"cannot crop: {type(exc).__name__}: {exc}", proposed))
        return self._done(Outcome(proposed, "patch", None, proposed))

    def _done(self, outcome: Outcome) -> Outcome:
        key = {"patch": "patches", "fallback": "fallbacks", "leak": "leak_drops"}[outcome.status]
        self.stats[key] += 1
        self.last = outcome
        return outcome


class GuardedTeacher(BaseTeacher):
    """The guard around any object with a ``patch(sample, failed_rollouts)`` method."""

    def __init__(self, inner: Teacher, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def propose(self, sample: dict, failed_rollouts: list[str]) -> EvidencePatch | None:
        return self.inner.patch(sample, failed_rollouts)


def answer_option(sees_answer: bool, kwargs: dict) -> bool:
    """The tool loop's ``show_answer`` for a model-backed teacher: ``sees_answer`` (default off).
    ``show_answer`` itself is refused, so a recipe cannot turn the answer on by the old name.

    >>> answer_option(False, {}), answer_option(True, {})
    (False, True)
    """
    if "show_answer" in kwargs:
        raise ValueError("pass sees_answer=True to show the teacher the answer (show_answer is not a teacher option)")
    if not isinstance(sees_answer, bool):
        raise ValueError(f"sees_answer must be true or false, got {sees_answer!r}")
    return sees_answer


def guarded(teacher: Teacher) -> BaseTeacher:
    """``teacher`` itself when it is already guarded, else a :class:`GuardedTeacher` around it."""
    return teacher if isinstance(teacher, BaseTeacher) else GuardedTeacher(teacher)


def _reason_kind(reason: str) -> str:
    return re.split(r"[\'\"(]", reason, maxsplit=1)[0].strip()


def leakage_rate(
    teacher: Teacher,
    samples: Iterable[dict],
    failed_rollouts: Callable[[dict], list[str]] | list[str] | None = None,
) -> dict:
    """Measure how often ``teacher`` proposes a leaking patch on ``samples`` (e.g. remot-bench).

    ``failed_rollouts``: the rollouts to show the teacher, a list for every sample or a function
    of the sample (default: none). Returns counts and rates with 95% Wilson intervals:
    ``leakage_rate`` = leaking proposals / valid proposals (delivered + dropped), ``fallback_rate``
    = fallbacks / calls, ``post_guard_leaks`` (delivered patches that a re-check flags; must be
    0), the leak reasons by kind, and the same rates per attribute and question type.
    """
    from remot_train.scoring import wilson_interval

    guard = guarded(teacher)
    rows = []
    post_guard = 0
    for s in samples:
        rs = failed_rollouts(s) if callable(failed_rollouts) else list(failed_rollouts or [])
        out = guard.review(s, rs)
        if out.patch is not None and check_leak(out.patch, s) is not None:
            post_guard += 1
        rows.append({"attribute": s.get("attribute"), "question_type": s.get("question_type"),
                     "status": out.status, "reason": out.reason})

    def block(rs: list[dict]) -> dict:
        c = Counter(r["status"] for r in rs)
        proposed = c["patch"] + c["leak"]
        return {
            "calls": len(rs), "delivered": c["patch"], "leaked": c["leak"], "fallbacks": c["fallback"],
            "leakage_rate": c["leak"] / proposed if proposed else 0.0,
            "leakage_ci95": wilson_interval(c["leak"], proposed),
            "fallback_rate": c["fallback"] / len(rs) if rs else 0.0,
        }

    out = block(rows)
    out["post_guard_leaks"] = post_guard
    out["leak_reasons"] = dict(Counter(_reason_kind(r["reason"]) for r in rows if r["status"] == "leak"))
    out["fallback_reasons"] = dict(Counter(_reason_kind(r["reason"]) for r in rows if r["status"] == "fallback"))
    for key in ("attribute", "question_type"):
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(str(r[key]), []).append(r)
        out[f"by_{key}"] = {k: block(v) for k, v in sorted(groups.items())}
    return out
