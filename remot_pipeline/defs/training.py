"""Training and evaluation assets, downstream of the release.

One asset per schedule (``sft_model``, ``grpo_model``, ``sft_grpo_model``, ``alternating_model``,
``ffr_model``) trains from the release's train split with a recipe (``remot_train/recipes/``) and
records the ``release_id``, the recipe, the final metrics and the loss / reward curves.
``base_model`` is the untrained starting point. ``evaluation`` scores every model on remot-bench
(the release's test split), and on any external benchmarks configured (``benchmarks``: VSI-Bench,
MMSI-Bench, CameraBench), with the shared scoring module and writes a comparison table and plot.

Training and evaluation run as **the same entry point a user runs by hand**,
``python -m remot_train train|evaluate ...`` (:mod:`remot_train.cli`), launched through Dagster
Pipes by the ``pipes_client`` resource (a ``PipesSubprocessClient`` by default). The subprocess
streams its log lines and reports its metadata back; the UI shows them as usual. ``launcher``
(``TrainingConfig``) puts a launcher in front: ``["accelerate", "launch", "--config_file",
"zero2.yaml"]`` runs the same command on several GPUs. A cluster user replaces ``pipes_client``
with Dagster's Kubernetes Pipes client (``dagster_k8s.PipesK8sClient``, given an image with remot
installed and the data root on shared storage). All of the logic lives in ``remot_train``; these
functions only wire it up.
"""

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from remot_pipeline.defs import plots
from remot_pipeline.defs.resources import RemotPaths

SCHEDULES = ("sft", "grpo", "sft_grpo", "alternating", "ffr")
MODEL_ASSETS = ("base_model", *(f"{s}_model" for s in SCHEDULES))


class TrainingConfig(dg.ConfigurableResource):
    """Which recipes train which models on which part of the release, and how they are launched.

    ``recipe_family`` is a folder under ``remot_train/recipes/`` (``cpu-demo``, ``tiny``,
    ``qwen3-vl-4b-thinking``); ``recipes`` overrides single schedules with a recipe name or a
    YAML path. ``model_path`` replaces every recipe's model by a local checkpoint folder.
    """

    recipe_family: str = "cpu-demo"
    recipes: dict[str, str] = {}
    model_path: str | None = None
    #: Ablations: train on these domains / attributes only (empty: all), or on binary pairs.
    domains: list[str] = []
    attributes: list[str] = []
    binary: bool = False
    #: Cap on training questions (None: every train question), and images' longest side in pixels
    #: (None: as released). The tiny model wants small images.
    max_train_questions: int | None = None
    image_max_side: int | None = 64
    #: remot-bench triplets evaluated per domain (None: all 200). Generation settings come from
    #: the family's recipes (``eval:``: batch size, max new tokens, dtype, sampling); these
    #: override them when set.
    eval_triplets_per_domain: int | None = 40
    eval_batch_size: int | None = None
    eval_max_new_tokens: int | None = None
    #: External benchmarks scored beside remot-bench, each ``KIND:PATH`` with KIND ``vsibench``,
    #: ``mmsi`` or ``camerabench`` and PATH the benchmark's folder in its published layout
    #: (:mod:`remot_train.benchmarks`; relative to the data root unless absolute), e.g.
    #: ``["vsibench:benchmarks/vsibench"]``. Videos give ``benchmark_frames`` frames each;
    #: ``benchmark_questions`` caps the questions per benchmark (None: all).
    benchmarks: list[str] = []
    benchmark_frames: int = 8
    benchmark_questions: int | None = None
    #: What runs ``-m remot_train ...``: empty for this Python, or a launcher such as
    #: ``["accelerate", "launch", "--config_file", "remot_train/recipes/qwen3-vl-4b-thinking/accelerate/zero2.yaml"]``.
    launcher: list[str] = []

    def recipe(self, schedule: str) -> dict:
        from remot_train.recipes import load_recipe

        name = self.recipes.get(schedule) or f"{self.recipe_family}/{schedule}"
        recipe = load_recipe(name)
        if self.model_path:
            recipe = {k: v for k, v in recipe.items() if k not in ("model", "tiny")} | {"model_path": self.model_path}
        return recipe

    def filters(self) -> dict:
        return dict(domains=self.domains or None, attributes=self.attributes or None, binary=self.binary)

    def command(self, *args: str) -> list[str]:
        """``[launcher..., -m, remot_train, *args]`` (this Python when no launcher is set)."""
        return [*(self.launcher or [sys.executable]), "-m", "remot_train", *args]

    def data_args(self) -> list[str]:
        out = []
        if self.domains:
            out += ["--domains", *self.domains]
        if self.attributes:
            out += ["--attributes", *self.attributes]
        if self.binary:
            out.append("--binary")
        if self.image_max_side:
            out += ["--image-max-side", str(self.image_max_side)]
        return out


def _run_dir(paths: RemotPaths, release_id: str, schedule: str, recipe: dict, training: TrainingConfig) -> Path:
    key = json.dumps({"recipe": recipe, "data": training.filters(), "max": training.max_train_questions,
                      "img": training.image_max_side}, sort_keys=True, default=str)
    return paths.root / "models" / release_id / schedule / hashlib.sha256(key.encode()).hexdigest()[:12]


def _launch(context, pipes_client, command: list[str]) -> dict:
    """Run ``command`` through the Pipes client; return the metadata the process reported."""
    context.log.info("launching: " + " ".join(command))
    invocation = pipes_client.run(context=context, command=command)
    results = invocation.get_results()
    return dict(results[0].metadata or {}) if results else {}


def release_folder(paths: RemotPaths, release: dict) -> str:
    """The folder of the release the ``release`` asset published, under this data root (the
    stored value names it relative to the root, so a moved root still finds it). A release that
    failed its checks was not published and is refused in one line."""
    if not release.get("published", True):
        raise dg.Failure(description=f"release {release['release_id']} failed its blocking checks and was not "
                                     "published; fix them and materialize the release again", allow_retries=False)
    return str((paths.root / release["path"]).resolve())


def train_schedule(context: dg.AssetExecutionContext, schedule: str, training: TrainingConfig, paths: RemotPaths,
                   release: dict, pipes_client, start_from: dict | None = None) -> dg.Output:
    release = {**release, "path": release_folder(paths, release)}
    recipe = training.recipe(schedule)
    if start_from is not None:  # continue from an upstream model (FFR starts from the SFT model)
        recipe = {k: v for k, v in recipe.items() if k not in ("model", "tiny")} | {"model_path": start_from["checkpoint"]}
    if schedule == "ffr":  # the teacher reads the triplets' metadata from this release
        recipe["ffr"] = {**(recipe.get("ffr") or {}), "release": release["path"]}
    run_dir = _run_dir(paths, release["release_id"], schedule, recipe, training)
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe_file = run_dir / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    cmd = training.command("train", "--recipe", str(recipe_file), "--release", release["path"], "--out", str(run_dir),
                           *training.data_args())
    if training.max_train_questions:
        cmd += ["--max-questions", str(training.max_train_questions)]
    reported = _launch(context, pipes_client, cmd)
    run = json.loads((run_dir / "run.json").read_text())
    history = run["log_history"]
    value = {"schedule": schedule, "release_id": release["release_id"], "checkpoint": run["checkpoint"],
             "recipe": recipe}
    metadata: dict[str, Any] = {
        **reported,
        "release_id": release["release_id"], "checkpoint": dg.MetadataValue.path(run["checkpoint"]),
        "recipe": dg.MetadataValue.md(f"```yaml\n{yaml.safe_dump(recipe, sort_keys=False)}```"),
        "command": " ".join(cmd),
        "phases": " ".join(_phases(history)[:60]) + (" ..." if len(_phases(history)) > 60 else ""),
        "curves": plots.training_curves(history, schedule),
        **_ffr_metrics(history),
    }
    if start_from is not None:
        metadata["started_from"] = start_from["schedule"]
    return dg.Output(value, metadata=metadata)


def _phases(history: list[dict]) -> list[str]:
    return [h["phase"] for h in history if "loss" in h and "step" in h and "phase" in h]


def _ffr_metrics(history: list[dict]) -> dict:
    """FFR's per-step intervention statistics, averaged (rates, repair success, the reward gap) or
    summed (counts) over the run."""
    out = {}
    for key in sorted({k for h in history for k in h if k.startswith("ffr/")}):
        vals = [float(h[key]) for h in history if h.get(key) is not None]
        if vals:
            out[key] = round(sum(vals) / len(vals), 4) if key.endswith(("rate", "success", "gap")) else sum(vals)
    return out


def _schedule_asset(schedule: str):
    @dg.asset(name=f"{schedule}_model", group_name="training", code_version="2",
              description=f"A model trained with the {schedule} schedule on the release's train split "
                          "(python -m remot_train train, launched through Dagster Pipes).")
    def _asset(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths,
               pipes_client: dg.ResourceParam[dg.PipesClient], release: dict):
        return train_schedule(context, schedule, training, paths, release, pipes_client)

    return _asset


@dg.asset(group_name="training", code_version="1")
def base_model(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths, release: dict):
    """The untrained starting model (the recipes' own model: the tiny model, or ``model_path``)."""
    from remot_train.recipes import model_for

    recipe = training.recipe("sft")
    path = model_for(recipe, _run_dir(paths, release["release_id"], "base", recipe, training))
    return dg.Output({"schedule": "base", "release_id": release["release_id"], "checkpoint": str(path), "recipe": recipe},
                     metadata={"checkpoint": dg.MetadataValue.path(str(path)), "release_id": release["release_id"]})


schedule_models = [_schedule_asset(s) for s in SCHEDULES if s != "ffr"]


@dg.asset(group_name="training", code_version="2")
def ffr_model(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths,
              pipes_client: dg.ResourceParam[dg.PipesClient], release: dict, sft_model: dict):
    """Teacher-guided GRPO (FFR) from the SFT model: failed groups get a metadata teacher's
    evidence patch, repaired rollouts compete, and the chosen one is trained on its own tokens
    under the original prompt (RIR with patch tax kappa)."""
    return train_schedule(context, "ffr", training, paths, release, pipes_client, start_from=sft_model)


@dg.asset(group_name="training", code_version="3", ins={name: dg.AssetIn(name) for name in MODEL_ASSETS})
def evaluation(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths,
               pipes_client: dg.ResourceParam[dg.PipesClient], release: dict, **models: dict):
    """Every model on remot-bench, scored by the shared module (``python -m remot_train evaluate``
    through Pipes, on the GPU when there is one, in the recipes' eval settings): Overall,
    Partial, logical consistency, format failures and truncations, with breakdowns; a comparison
    table and plot across models. Each external benchmark in ``TrainingConfig.benchmarks``
    (VSI-Bench, MMSI-Bench, CameraBench folders) is scored in the same run by its own metric; the
    comparison table then shows every evaluation set side by side, and each benchmark's table its
    categories (``benchmarks.json`` beside ``comparison.json``)."""
    out_dir = paths.root / "evaluations" / release["release_id"]
    cmd = training.command("evaluate", "--release", release_folder(paths, release), "--out", str(out_dir),
                           "--recipe", training.recipes.get("sft") or f"{training.recipe_family}/sft")
    for name in MODEL_ASSETS:
        if name in models:
            cmd += ["--model", f"{models[name]['schedule']}={models[name]['checkpoint']}"]
    if training.eval_triplets_per_domain is not None:
        cmd += ["--triplets-per-domain", str(training.eval_triplets_per_domain)]
    if training.image_max_side:
        cmd += ["--image-max-side", str(training.image_max_side)]
    if training.eval_batch_size:
        cmd += ["--batch-size", str(training.eval_batch_size)]
    if training.eval_max_new_tokens:
        cmd += ["--max-new-tokens", str(training.eval_max_new_tokens)]
    cmd += benchmark_args(training, paths)
    reported = _launch(context, pipes_client, cmd)
    table = json.loads((out_dir / "comparison.json").read_text())
    benchmarks = json.loads((out_dir / "benchmarks.json").read_text()) if training.benchmarks else {}
    return dg.Output({"release_id": release["release_id"], "path": str(out_dir), "table": table,
                      "benchmarks": benchmarks}, metadata={
        **reported, "release_id": release["release_id"], "command": " ".join(cmd),
        **{f"{name}/{row['model']}": row["value"] for name, b in benchmarks.items() for row in b["table"]
           if row["value"] is not None},
        "comparison": dg.MetadataValue.md((out_dir / "comparison.md").read_text()),
        "plot": plots.model_comparison(table), "records": dg.MetadataValue.path(str(out_dir / "records.parquet"))})


def benchmark_args(training: TrainingConfig, paths: RemotPaths) -> list[str]:
    """``--benchmark KIND:PATH`` for each configured benchmark (PATH under the data root unless
    absolute), plus the frame and question settings; a malformed entry fails in one line."""
    from remot_train.benchmarks import BenchmarkError, parse_spec

    out = []
    for spec in training.benchmarks:
        try:
            kind, path = parse_spec(spec)
        except BenchmarkError as e:
            raise dg.Failure(description=f"training.benchmarks: {e}", allow_retries=False) from None
        out += ["--benchmark", f"{kind}:{path if path.is_absolute() else (paths.root / path).resolve()}"]
    if out:
        out += ["--benchmark-frames", str(training.benchmark_frames)]
        if training.benchmark_questions:
            out += ["--benchmark-limit", str(training.benchmark_questions)]
    return out


TRAINING_ASSETS = [base_model, *schedule_models, ffr_model, evaluation]
