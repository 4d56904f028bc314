"""The FFR teacher: evidence patches for a student that failed a question (DESIGN.md §6).

* :class:`EvidencePatch`: the patch (frames, display timestamps, regions, crops, text), its JSON
  schema, and :meth:`EvidencePatch.as_observation` (the content parts to append to the
  student's prompt).
* :class:`Teacher`: the protocol, ``patch(sample, failed_rollouts) -> EvidencePatch | None``;
  ``sample`` is a question row merged with its triplet row.
* :class:`MetadataTeacher` (default, no model): the triplet's attribute + OpenCV optical flow.
* :class:`ModelTeacher`: a frozen local VLM with ``get_frame`` / ``zoom_region`` tools.
* :class:`HTTPTeacher`: an OpenAI-compatible endpoint with the same tools (stdlib HTTP).
* :func:`check_leak`: the leakage guard every teacher's patches go through
  (:class:`BaseTeacher` / :func:`guarded`), reading the text's meaning through
  :func:`motion_cues` / :func:`implied_value` (``meaning``); :func:`leakage_rate` measures it on a
  benchmark. Model-backed teachers see the answer only with ``sees_answer=True``.

Heavy dependencies (torch, transformers) are imported only when a :class:`ModelTeacher` runs.
"""

from remot_train.teacher.base import BaseTeacher, GuardedTeacher, Outcome, Teacher, guarded, leakage_rate
from remot_train.teacher.errors import classify_error, classify_rollout
from remot_train.teacher.http_teacher import HTTPTeacher, TeacherUnavailable
from remot_train.teacher.images import sample_images
from remot_train.teacher.leak import check_leak, value_words
from remot_train.teacher.meaning import implied_value, motion_cues
from remot_train.teacher.metadata import MetadataTeacher, evidence_box
from remot_train.teacher.model_teacher import ModelTeacher
from remot_train.teacher.patch import ERROR_CLASSES, EvidencePatch, PatchSchemaError

__all__ = [
    "ERROR_CLASSES", "BaseTeacher", "EvidencePatch", "GuardedTeacher", "HTTPTeacher", "MetadataTeacher", "ModelTeacher",
    "Outcome", "PatchSchemaError", "Teacher", "TeacherUnavailable", "check_leak", "classify_error", "classify_rollout",
    "evidence_box", "guarded", "implied_value", "leakage_rate", "motion_cues", "sample_images", "value_words",
]
