"""remot's answer scoring as a reward function for verl and EasyR1.

A release exported with ``python -m remot_pipeline.export --to verl`` trains in verl or EasyR1; this
module gives their users remot's answer parsing (the last ``<answer>`` block, letters, true/false,
categories, numbers with units: :func:`remot_train.scoring.score`, the function remot's own GRPO
reward and evaluation use), so a reward there means what it means here. It needs ``remot``
installed in the trainer's environment (``pip install -e /path/to/remot``); nothing else.

**verl** (``custom_reward_function.path=<this file>``, ``custom_reward_function.name=compute_score``;
see verl's docs, "Implement Reward Function for Dataset"): verl calls
``compute_score(data_source, solution_str, ground_truth, extra_info)`` per response, with
``ground_truth`` the row's ``reward_model.ground_truth`` (the release's answer) and ``extra_info``
the row's ``extra_info`` (``parse_rule``, ``options``, ``tolerance``, ...). Returns a float in
``[0, 1]``.

**EasyR1** (``worker.reward.reward_function=<this file>:compute_score_easyr1``, ``reward_type``
``batch`` or ``sequential``, ``data.prompt_key=problem``, ``data.answer_key=answer``): EasyR1 passes
only ``{"response", "response_length", "ground_truth"}`` (``verl/workers/reward/function.py``), so
the export's ``answer`` column carries the whole scoring spec as JSON (:func:`ground_truth_spec`).
Returns ``{"overall", "format", "accuracy"}`` per response, as EasyR1's reward functions do.

A ground truth that is a spec also works in verl without ``extra_info``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from remot_train import scoring
from remot_train.rewards.formats import is_well_formed

#: The ``data_source`` of exported rows.
DATA_SOURCE = "remot"
_SPEC_KEYS = ("answer", "parse_rule", "options", "tolerance")


def ground_truth_spec(answer: str, parse_rule: str, options=None, tolerance: float | None = None) -> str:
    """Everything scoring needs, as one JSON string (keys sorted): what EasyR1 passes as
    ``ground_truth``.

    >>> ground_truth_spec("A", "choice_letter", ["Image 2", "Image 3"])
    '{"answer": "A", "options": ["Image 2", "Image 3"], "parse_rule": "choice_letter", "tolerance": null}'
    """
    opts = None if options is None else [str(o) for o in options]
    tol = None if tolerance is None else float(tolerance)
    return json.dumps({"answer": str(answer), "parse_rule": str(parse_rule), "options": opts, "tolerance": tol},
                      sort_keys=True)


def _spec(ground_truth: Any, extra_info: Mapping | None) -> tuple[str, str, list[str] | None, float | None]:
    """(answer, parse_rule, options, tolerance) from verl's ``extra_info`` or a JSON spec."""
    info = dict(extra_info or {})
    if info.get("parse_rule") is None and isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
        try:
            info = {**info, **json.loads(ground_truth)}
        except ValueError:
            pass
        else:
            ground_truth = info.get("answer")
    if info.get("parse_rule") is None:
        raise ValueError(f"ground truth {ground_truth!r} comes without a parse_rule: export the release with "
                         "`python -m remot_pipeline.export --to verl` (extra_info.parse_rule, or the JSON "
                         "answer column for EasyR1's data.answer_key)")
    options = info.get("options")
    tolerance = info.get("tolerance")
    options = None if options is None else [str(o) for o in options]  # numpy arrays when read through pandas
    tolerance = None if tolerance is None or tolerance != tolerance else float(tolerance)  # NaN from pandas
    return str(ground_truth), str(info["parse_rule"]), options, tolerance


def score_response(solution_str: str, ground_truth: Any, extra_info: Mapping | None = None) -> scoring.Scored:
    """:func:`remot_train.scoring.score` of one response against a verl row's ground truth."""
    answer, parse_rule, options, tolerance = _spec(ground_truth, extra_info)
    if tolerance is None:
        return scoring.score(solution_str or "", answer, parse_rule, options)
    return scoring.score(solution_str or "", answer, parse_rule, options, tolerance=tolerance)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping | None = None,
                  **kwargs: Any) -> float:
    """verl's reward function signature: the answer's score in ``[0, 1]`` (1/0 for the discrete
    rules, the mean relative accuracy for ``number_mra``; a format failure scores 0).

    >>> compute_score("remot", "it moved left</think><answer>(b)</answer>", "B",
    ...               {"parse_rule": "choice_letter", "options": ["Image 2", "Image 3"]})
    1.0
    >>> compute_score("remot", "<answer>yes</answer>", ground_truth_spec("false", "true_false"))
    0.0
    """
    return float(score_response(solution_str, ground_truth, extra_info).score)


def _easyr1_one(reward_input: Mapping, format_weight: float) -> dict[str, float]:
    response = reward_input["response"]
    accuracy = float(score_response(response, reward_input["ground_truth"]).score)
    fmt = 1.0 if is_well_formed(response) else 0.0
    return {"overall": (1 - format_weight) * accuracy + format_weight * fmt, "format": fmt, "accuracy": accuracy}


def compute_score_easyr1(reward_inputs: Mapping | list[Mapping], format_weight: float = 0.0):
    """EasyR1's reward function signature, batch (a list of inputs -> a list of scores) or sequential
    (one dict -> one dict): ``overall = (1 - format_weight) * accuracy + format_weight * format``,
    ``accuracy`` as :func:`compute_score`, ``format`` 1/0 for remot's ``... </think> <answer>X</answer>``
    shape. ``ground_truth`` is the export's ``answer`` column (:func:`ground_truth_spec`).

    >>> compute_score_easyr1([{"response": "left</think><answer>left</answer>", "response_length": 5,
    ...                        "ground_truth": ground_truth_spec("left", "categorical", ["left", "right"])}])
    [{'overall': 1.0, 'format': 1.0, 'accuracy': 1.0}]
    """
    if isinstance(reward_inputs, Mapping):
        return _easyr1_one(reward_inputs, format_weight)
    return [_easyr1_one(r, format_weight) for r in reward_inputs]
