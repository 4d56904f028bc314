"""Training recipes: YAML files that say which method, which model and which trainer arguments.

``load_recipe("tiny/sft")`` reads ``remot_train/recipes/tiny/sft.yaml`` (a path to any YAML file
works too) and validates it: unknown keys are an error, at the top level and inside the ``sft:``
and ``grpo:`` sections (checked against trl's ``SFTConfig`` / ``GRPOConfig`` fields), so a typo
fails before a GPU is booked. The model is always local: ``model_path:`` (a checkpoint folder), or
``model: tiny`` to build the tiny model into the run folder.

A recipe's keys:

* ``method``: ``sft``, ``grpo``, ``sft_grpo`` (sequential), ``alternating`` or ``ffr``
  (teacher-guided GRPO, :mod:`remot_train.trainers.ffr`).
* ``model: tiny`` with an optional ``tiny:`` section (``seed``, ``image_size`` and
  :data:`remot_train.model.TINY_DEFAULTS` keys), or ``model_path:``.
* ``precision``: the precision policy (:mod:`remot_train.precision`: ``fp32``, ``bf16-mixed``,
  ``bf16-lora``, ``bf16``): the weights' dtype and bf16 autocast. The trainer sections may not set
  ``bf16`` / ``fp16`` themselves.
* ``include_think``: the SFT loss covers the think span too, and SFT rows reason from the
  metadata; without it the think block is empty (:mod:`remot_train.collator`).
* ``sft:`` / ``grpo:``: trainer arguments. ``rewards:``: reward function name -> weight.
  ``reward_options:``: reward name -> options of its factory (``length_reward``:
  :func:`remot_train.rewards.make_length_reward`'s ``target_tokens`` (whitespace words) and
  ``normaliser``).
* ``alternating:``: ``k_sft``, ``k_grpo``, optional ``sft_batch_size``.
* ``ffr:``: ``kappa``, ``alignment_weight`` (RIR's structural alignment term, 0 = off, the
  default; :mod:`remot_train.rir`), ``repairs``, ``threshold``, ``coordinates``, ``teacher``
  (``metadata`` | ``model`` | ``http``) with ``teacher_options`` (passed to the teacher as they
  are), ``release``/``release_id``. FFR trains with the RIR **in place of** ``task_reward``, at
  its weight (the RIR's outcome term is the task reward), so an FFR recipe's ``rewards:`` must
  name ``task_reward``; format and the other terms stay as configured.
* ``views``: ``frames`` (default: each image alone) or ``clips`` (each pair the question shows
  enters as one clip, its frames packed in temporal patches of the vision tower;
  :mod:`remot_train.clips`). The rows must be built with the same ``views``
  (:func:`remot_train.data.question_rows`). ``clip_frames`` (with ``views: clips``): frames per
  clip, at most what the release stores (its ``remot_config`` ``clip_frames``); default: all of
  them.
* ``lora:``: ``peft.LoraConfig`` arguments (needs peft), or absent for full fine-tuning.
* ``eval:``: ``batch_size``, ``max_new_tokens``, ``dtype`` (default bfloat16 on a GPU, float32 on
  CPU), sampling (``do_sample``, ``temperature``, ``top_p``, ``top_k``; unset: the checkpoint's
  ``generation_config.json``), ``seed``. ``description``: free text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
METHODS = ("sft", "grpo", "sft_grpo", "alternating", "ffr")
TOP_KEYS = {
    "method",
    "description",
    "model",
    "model_path",
    "tiny",
    "precision",
    "include_think",
    "sft",
    "grpo",
    "rewards",
    "reward_options",
    "alternating",
    "ffr",
    "lora",
    "eval",
    "views",
    "clip_frames",
}
ALTERNATING_KEYS = {"k_sft", "k_grpo", "sft_batch_size"}
FFR_KEYS = {"kappa", "alignment_weight", "repairs", "threshold", "coordinates", "teacher", "teacher_options",
            "release", "release_id"}
EVAL_KEYS = {"batch_size", "max_new_tokens", "dtype", "do_sample", "temperature", "top_p", "top_k", "seed"}
#: Rewards that take options (``reward_options:``), by name -> the factory that builds them.
REWARD_FACTORIES = {"length_reward": "remot_train.rewards:make_length_reward"}
#: Sections each method needs.
NEEDS = {
    "sft": ("sft",),
    "grpo": ("grpo", "rewards"),
    "sft_grpo": ("sft", "grpo", "rewards"),
    "alternating": ("grpo", "rewards", "alternating"),
    "ffr": ("grpo", "rewards", "ffr"),
}


class RecipeError(ValueError):
    """A recipe that cannot be run as written."""


def available() -> list[str]:
    """Recipe names shipped with remot (``folder/name``), sorted."""
    return sorted(
        str(p.relative_to(RECIPES_DIR).with_suffix("")) for p in RECIPES_DIR.glob("*/*.yaml") if p.stem != "model_config"
    )


def recipe_path(name_or_path: str | Path) -> Path:
    """The YAML file for a recipe name (``tiny/sft``) or path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    raise RecipeError(f"no recipe {str(name_or_path)!r}: not a YAML file, and not one of {available()}")


def _unknown(section: str, given: Mapping, known: set[str]) -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise RecipeError(f"unknown key(s) {extra} in {section}; known: {sorted(known)}")


def _trainer_fields(kind: str) -> set[str]:
    import dataclasses

    from trl import GRPOConfig, SFTConfig

    cls = {"sft": SFTConfig, "grpo": GRPOConfig}[kind]
    return {f.name for f in dataclasses.fields(cls)} - {"output_dir"}


def validate(recipe: dict, source: str = "recipe", check_trainer_args: bool = True) -> dict:
    """Check a recipe dict; returns it, or raises :class:`RecipeError` naming the problem.

    >>> validate({"method": "sft", "model": "tiny", "sft": {}}, check_trainer_args=False)["method"]
    'sft'
    >>> validate({"method": "sft", "model": "tiny", "sft": {}, "lerning_rate": 1}, check_trainer_args=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    remot_train.recipes.RecipeError: unknown key(s) ['lerning_rate'] in recipe; known: ['alternating', 'clip_frames', 'description', ...]
    """
    from remot_train.model import TINY_DEFAULTS

    from remot_train.precision import POLICIES, PrecisionError, check_policy

    if not isinstance(recipe, dict):
        raise RecipeError(f"{source}: a recipe is a mapping, got {type(recipe).__name__}")
    if "dtype" in recipe:
        raise RecipeError(f"{source}: dtype: is replaced by precision: (one of {list(POLICIES)}; fp32 is float32 "
                          "weights, bf16-lora bf16 weights with fp32 LoRA adapters, see remot_train/precision.py)")
    _unknown(source, recipe, TOP_KEYS)
    method = recipe.get("method")
    if method not in METHODS:
        raise RecipeError(f"{source}: method must be one of {list(METHODS)}, got {method!r}")
    if ("model" in recipe) == ("model_path" in recipe):
        raise RecipeError(f"{source}: give exactly one of model: tiny or model_path: <local folder>")
    if "model" in recipe and recipe["model"] != "tiny":
        raise RecipeError(f"{source}: model: accepts only 'tiny'; use model_path: for a checkpoint folder")
    if recipe.get("views", "frames") not in ("frames", "clips"):
        raise RecipeError(f"{source}: views must be frames or clips, got {recipe.get('views')!r}")
    if "clip_frames" in recipe:
        k = recipe["clip_frames"]
        if recipe.get("views") != "clips":
            raise RecipeError(f"{source}: clip_frames needs views: clips")
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise RecipeError(f"{source}: clip_frames must be an integer >= 2, got {k!r}")
    if "tiny" in recipe and "model" not in recipe:
        raise RecipeError(f"{source}: a tiny: section needs model: tiny")
    _unknown(f"{source}: tiny", recipe.get("tiny") or {}, set(TINY_DEFAULTS) | {"seed", "image_size"})
    missing = [k for k in NEEDS[method] if not isinstance(recipe.get(k), dict)]
    if missing:
        raise RecipeError(f"{source}: method {method!r} needs section(s) {missing}")
    _unknown(f"{source}: alternating", recipe.get("alternating") or {}, ALTERNATING_KEYS)
    _unknown(f"{source}: eval", recipe.get("eval") or {}, EVAL_KEYS)
    if "rir_weight" in (recipe.get("ffr") or {}):
        raise RecipeError(f"{source}: ffr: rir_weight is gone: the RIR takes task_reward's place and weight "
                          "(set rewards: task_reward: <weight>)")
    _unknown(f"{source}: ffr", recipe.get("ffr") or {}, FFR_KEYS)
    if method == "ffr" and "task_reward" not in recipe["rewards"]:
        raise RecipeError(f"{source}: ffr needs task_reward in rewards: the RIR takes its place and weight")
    if (recipe.get("ffr") or {}).get("teacher", "metadata") not in ("metadata", "model", "http"):
        raise RecipeError(f"{source}: ffr: teacher must be metadata, model or http")
    try:
        check_policy(recipe.get("precision", "fp32"), recipe.get("lora"),
                     {k: recipe.get(k) for k in ("sft", "grpo") if k in recipe})
    except PrecisionError as e:
        raise RecipeError(f"{source}: {e}") from None
    options = recipe.get("reward_options") or {}
    if not isinstance(options, dict) or any(not isinstance(v, dict) for v in options.values()):
        raise RecipeError(f"{source}: reward_options: maps a reward name to a mapping of options")
    for name in options:
        if name not in (recipe.get("rewards") or {}):
            raise RecipeError(f"{source}: reward_options: {name!r} is not one of the recipe's rewards")
        if name not in REWARD_FACTORIES:
            raise RecipeError(f"{source}: reward_options: {name!r} takes no options (only {sorted(REWARD_FACTORIES)})")
    if method == "alternating":
        alt = recipe["alternating"]
        if "k_sft" not in alt or "k_grpo" not in alt:
            raise RecipeError(f"{source}: alternating: needs k_sft and k_grpo")
        if int(recipe["grpo"].get("max_steps", -1)) <= 0:
            raise RecipeError(f"{source}: alternating needs grpo: max_steps > 0")
    for name, weight in (recipe.get("rewards") or {}).items():
        if not isinstance(weight, (int, float)):
            raise RecipeError(f"{source}: rewards: {name} needs a numeric weight, got {weight!r}")
    if check_trainer_args:
        for kind in ("sft", "grpo"):
            if kind in recipe:
                _unknown(f"{source}: {kind}", recipe[kind] or {}, _trainer_fields(kind))
    return recipe


def load_recipe(name_or_path: str | Path, check_trainer_args: bool = True) -> dict:
    """Read and validate a recipe (a name such as ``tiny/sft``, or a YAML path)."""
    import yaml

    path = recipe_path(name_or_path)
    recipe = yaml.safe_load(path.read_text())
    return validate(recipe, source=str(path), check_trainer_args=check_trainer_args)


def load_model_config(name: str = "qwen3-vl-4b-thinking") -> dict:
    """The architecture config stored next to a recipe family (``<name>/model_config.yaml``),
    as a ``config.json``-style dict (``Qwen3VLConfig(**d)`` builds it)."""
    import yaml

    path = RECIPES_DIR / name / "model_config.yaml"
    if not path.is_file():
        raise RecipeError(f"no model_config.yaml for {name!r} under {RECIPES_DIR}")
    return yaml.safe_load(path.read_text())


class NamedReward:
    """A reward function under another name (trl logs ``rewards/<__name__>/mean``), so that logs
    carry the recipe's reward names whatever the functions are called.

    >>> f = NamedReward("format_reward", lambda prompts, completions, **kw: [1.0] * len(completions))
    >>> f.__name__, f(["p"], ["c"])
    ('format_reward', [1.0])
    """

    def __init__(self, name: str, func: Callable):
        self.__name__ = name
        self.func = func

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)


def resolve_rewards(recipe: dict, reward_funcs: Mapping[str, Callable] | None = None) -> tuple[list, list]:
    """``(functions, weights)`` for a recipe's ``rewards:``; names come from ``reward_funcs`` or,
    by default, from ``remot_train.rewards``. A function whose name differs from its recipe name
    is wrapped in :class:`NamedReward` (async functions are passed as they are)."""
    import importlib

    names = list((recipe.get("rewards") or {}).keys())
    if reward_funcs is None:
        module = importlib.import_module("remot_train.rewards")
        reward_funcs = {n: getattr(module, n) for n in names if hasattr(module, n)}
    reward_funcs = dict(reward_funcs)
    for name, options in (recipe.get("reward_options") or {}).items():
        module_name, factory = REWARD_FACTORIES[name].split(":")
        try:
            reward_funcs[name] = getattr(importlib.import_module(module_name), factory)(**options)
        except TypeError as e:
            raise RecipeError(f"reward_options: {name}: {e}") from None
    missing = [n for n in names if n not in reward_funcs]
    if missing:
        raise RecipeError(f"reward function(s) {missing} not found; have {sorted(reward_funcs)}")
    import inspect

    funcs = []
    for n in names:
        f = reward_funcs[n]
        same = getattr(f, "__name__", None) == n
        funcs.append(f if same or inspect.iscoroutinefunction(f) else NamedReward(n, f))
    return funcs, [float(recipe["rewards"][n]) for n in names]


def model_for(recipe: dict, run_dir: Path) -> Path:
    """The model folder a recipe starts from: its ``model_path``, or the tiny model built (once)
    into ``run_dir/base``."""
    if "model_path" in recipe:
        return Path(recipe["model_path"]).expanduser()
    from remot_train.model import build_tiny_model

    base = Path(run_dir) / "base"
    if not (base / "config.json").is_file():
        build_tiny_model(base, **(recipe.get("tiny") or {}))
    return base


def run_recipe(
    recipe: dict | str | Path,
    run_dir: Path,
    sft_rows=None,
    grpo_rows=None,
    reward_funcs: Mapping[str, Callable] | None = None,
    callbacks: list | None = None,
) -> Any:
    """Run a recipe into ``run_dir`` and return the trainer's :class:`TrainResult`. ``sft_rows``
    (with ``completion``) feed SFT, ``grpo_rows`` feed GRPO; rerunning resumes."""
    from remot_train import trainers

    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    run_dir = Path(run_dir)
    model = model_for(recipe, run_dir)
    common = dict(precision=recipe.get("precision", "fp32"), lora=recipe.get("lora"), callbacks=callbacks,
                  views=recipe.get("views", "frames"))
    method = recipe["method"]
    if method == "sft":
        return trainers.sft(
            model, sft_rows, run_dir / "sft", args=recipe["sft"], include_think=recipe.get("include_think", False), **common
        )
    funcs, weights = resolve_rewards(recipe, reward_funcs)
    if method == "grpo":
        return trainers.grpo(
            model, grpo_rows, run_dir / "grpo", reward_funcs=funcs, reward_weights=weights, args=recipe["grpo"], **common
        )
    if method == "ffr":
        from remot_train.trainers.ffr import run_recipe_ffr

        return run_recipe_ffr(recipe, model, grpo_rows, run_dir / "ffr", funcs, weights, **common)
    if method == "sft_grpo":
        return trainers.sequential(
            model,
            sft_rows,
            grpo_rows,
            run_dir,
            reward_funcs=funcs,
            reward_weights=weights,
            sft_args=recipe["sft"],
            grpo_args=recipe["grpo"],
            include_think=recipe.get("include_think", False),
            **common,
        )
    alt = recipe["alternating"]
    return trainers.alternating(
        model,
        sft_rows,
        grpo_rows,
        run_dir / "alternating",
        k_sft=int(alt["k_sft"]),
        k_grpo=int(alt["k_grpo"]),
        sft_batch_size=alt.get("sft_batch_size"),
        reward_funcs=funcs,
        reward_weights=weights,
        args=recipe["grpo"],
        include_think=recipe.get("include_think", False),
        **common,
    )
