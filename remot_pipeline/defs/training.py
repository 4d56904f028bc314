"""Training and evaluation assets, downstream of the release.

One asset per schedule (``sft_model``, ``grpo_model``, ``sft_grpo_model``, ``alternating_model``,
``ffr_model``) trains from the release's train split with a recipe (``remot_train/recipes/``) and
records the ``release_id``, the recipe, the final metrics and the loss / reward curves.
``base_model`` is the untrained starting point. ``evaluation`` scores every model on remot-bench
(the release's test split) with the shared scoring module and writes a comparison table and
plot. All of the logic lives in ``remot_train``; these functions only wire it up.
"""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts.tables import atomic_write_bytes

from remot_pipeline.defs import plots
from remot_pipeline.defs.resources import RemotPaths

SCHEDULES = ("sft", "grpo", "sft_grpo", "alternating", "ffr")
MODEL_ASSETS = ("base_model", *(f"{s}_model" for s in SCHEDULES))


class TrainingConfig(dg.ConfigurableResource):
    """Which recipes train which models on which part of the release.

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
    #: remot-bench triplets evaluated per domain (None: all 200), and the generation budget.
    eval_triplets_per_domain: int | None = 40
    eval_batch_size: int = 16
    eval_max_new_tokens: int = 48

    def recipe(self, schedule: str) -> dict:
        from remot_train.recipes import load_recipe

        name = self.recipes.get(schedule) or f"{self.recipe_family}/{schedule}"
        recipe = load_recipe(name)
        if self.model_path:
            recipe = {k: v for k, v in recipe.items() if k not in ("model", "tiny")} | {"model_path": self.model_path}
        return recipe

    def filters(self) -> dict:
        return dict(domains=self.domains or None, attributes=self.attributes or None, binary=self.binary)


def _run_dir(paths: RemotPaths, release_id: str, schedule: str, recipe: dict, training: TrainingConfig) -> Path:
    key = json.dumps({"recipe": recipe, "data": training.filters(), "max": training.max_train_questions,
                      "img": training.image_max_side}, sort_keys=True, default=str)
    return paths.root / "models" / release_id / schedule / hashlib.sha256(key.encode()).hexdigest()[:12]


def _rows(release: dict, training: TrainingConfig, split: str = "train"):
    from remot_train.data import question_rows

    return question_rows(release["path"], split=split, with_completion=True, image_max_side=training.image_max_side,
                         limit=training.max_train_questions, **training.filters())


def train_schedule(context: dg.AssetExecutionContext, schedule: str, training: TrainingConfig, paths: RemotPaths,
                   release: dict, start_from: dict | None = None) -> dg.Output:
    import yaml

    from remot_train.recipes import run_recipe

    recipe = training.recipe(schedule)
    if start_from is not None:  # continue from an upstream model (FFR starts from the SFT model)
        recipe = {k: v for k, v in recipe.items() if k not in ("model", "tiny")} | {"model_path": start_from["checkpoint"]}
    if schedule == "ffr":  # the teacher reads the triplets' metadata from this release
        recipe["ffr"] = {**(recipe.get("ffr") or {}), "release": release["path"]}
    run_dir = _run_dir(paths, release["release_id"], schedule, recipe, training)
    rows = _rows(release, training)
    if not rows:
        raise dg.Failure(f"release {release['release_id']}: no train questions match {training.filters()}; "
                         "widen the domains / attributes filters")
    context.log.info(f"{schedule}: {len(rows)} train questions, recipe {recipe.get('description')}, run dir {run_dir}")
    started = time.perf_counter()
    result = run_recipe(recipe, run_dir, sft_rows=rows, grpo_rows=rows)
    wall_s = time.perf_counter() - started
    history = result.log_history
    train = [h for h in history if "loss" in h]
    rewards = sorted({k for h in history for k in h if k.startswith("rewards/") and k.endswith("/mean")})
    value = {"schedule": schedule, "release_id": release["release_id"], "checkpoint": str(result.final_checkpoint),
             "recipe": recipe}
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    metadata = {
        "release_id": release["release_id"], "checkpoint": dg.MetadataValue.path(str(result.final_checkpoint)),
        "recipe": dg.MetadataValue.md(f"```yaml\n{yaml.safe_dump(recipe, sort_keys=False)}```"),
        "train_questions": len(rows), "steps": len(result.phases) or len(train), "wall_s": round(wall_s, 1),
        "final_loss": float(train[-1]["loss"]) if train else float("nan"),
        "phases": " ".join(result.phases[:60]) + (" ..." if len(result.phases) > 60 else ""),
        "curves": plots.training_curves(history, schedule),
        **{f"final/{k}": float([h[k] for h in history if k in h][-1]) for k in rewards},
        **_ffr_metrics(history),
    }
    if start_from is not None:
        metadata["started_from"] = start_from["schedule"]
    return dg.Output(value, metadata=metadata)


def _ffr_metrics(history: list[dict]) -> dict:
    """FFR's per-step intervention statistics, averaged (rates) or summed (counts) over the run."""
    out = {}
    for key in sorted({k for h in history for k in h if k.startswith("ffr/")}):
        vals = [float(h[key]) for h in history if h.get(key) is not None]
        if vals:
            out[key] = round(sum(vals) / len(vals), 4) if key.endswith(("rate", "success")) else sum(vals)
    return out


def _schedule_asset(schedule: str):
    @dg.asset(name=f"{schedule}_model", group_name="training", code_version="1",
              description=f"A model trained with the {schedule} schedule on the release's train split.")
    def _asset(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths, release: dict):
        return train_schedule(context, schedule, training, paths, release)

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


@dg.asset(group_name="training", code_version="1")
def ffr_model(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths, release: dict,
              sft_model: dict):
    """Teacher-guided GRPO (FFR) from the SFT model: failed groups get a metadata teacher's
    evidence patch, repaired rollouts compete, and the chosen one is trained on its own tokens
    under the original prompt (RIR with patch tax kappa)."""
    return train_schedule(context, "ffr", training, paths, release, start_from=sft_model)


@dg.asset(group_name="training", code_version="1", ins={name: dg.AssetIn(name) for name in MODEL_ASSETS})
def evaluation(context: dg.AssetExecutionContext, training: TrainingConfig, paths: RemotPaths, release: dict,
               **models: dict):
    """Every model on remot-bench, scored by the shared module: Overall, Partial, logical
    consistency, format failures, with breakdowns; a comparison table and plot across models."""
    from remot_train.data import question_rows
    from remot_train.evaluate import evaluate
    from remot_train.model import load

    rows = question_rows(release["path"], split="test", image_max_side=training.image_max_side)
    rows = _bench_subset(rows, training.eval_triplets_per_domain)
    out_dir = paths.root / "evaluations" / release["release_id"]
    out_dir.mkdir(parents=True, exist_ok=True)
    table, records = [], []
    for name in MODEL_ASSETS:
        if name not in models:
            continue
        m = models[name]
        model, processor = load(m["checkpoint"])
        res = evaluate(model, processor, rows, batch_size=training.eval_batch_size,
                       max_new_tokens=training.eval_max_new_tokens)
        table.append(_summary_row(m["schedule"], res.metrics))
        records += [{**r, "model": m["schedule"], "relations": json.dumps(r.get("relations") or [])} for r in res.records]
        context.log.info(f"{m['schedule']}: {table[-1]}")
    atomic_write_bytes(out_dir / "comparison.json", json.dumps(table, indent=2).encode())
    pq.write_table(pa.Table.from_pylist(records), out_dir / ".records.parquet.tmp")
    (out_dir / ".records.parquet.tmp").replace(out_dir / "records.parquet")
    md = _markdown(table)
    atomic_write_bytes(out_dir / "comparison.md", md.encode())
    return dg.Output({"release_id": release["release_id"], "path": str(out_dir), "table": table}, metadata={
        "release_id": release["release_id"], "bench_questions": len(rows),
        "comparison": dg.MetadataValue.md(md), "plot": plots.model_comparison(table),
        "records": dg.MetadataValue.path(str(out_dir / "records.parquet"))})


def _bench_subset(rows: list[dict], per_domain: int | None) -> list[dict]:
    """All questions of the first ``per_domain`` triplets (by id) of each domain."""
    if per_domain is None:
        return rows
    keep: dict[str, list[str]] = {}
    for r in sorted(rows, key=lambda r: r["triplet_id"]):
        ids = keep.setdefault(r["domain"], [])
        if r["triplet_id"] not in ids and len(ids) < per_domain:
            ids.append(r["triplet_id"])
    chosen = {t for ids in keep.values() for t in ids}
    return [r for r in rows if r["triplet_id"] in chosen]


def _summary_row(model: str, m: dict) -> dict:
    def v(block, key):
        x = block.get(key)
        return None if x is None else {"value": x["value"], "ci95": list(x["ci95"]), "n": x["n"]}

    row = {"model": model, **{k: v(m, k) for k in ("overall", "partial", "logical_consistency", "format_failure_rate")}}
    for key in ("domain", "question_type"):
        for value, block in m["by"].get(key, {}).items():
            row[f"partial/{key}={value}"] = block["partial"]["value"]
    return row


def _markdown(table: list[dict]) -> str:
    def cell(x):
        return "-" if x is None else f"{100 * x['value']:.1f} [{100 * x['ci95'][0]:.0f}, {100 * x['ci95'][1]:.0f}]"

    lines = ["| model | Overall | Partial | consistency | format failures |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {cell(r['overall'])} | {cell(r['partial'])} | {cell(r['logical_consistency'])} "
              f"| {cell(r['format_failure_rate'])} |" for r in table]
    return "\n".join(lines) + "\n\nPercent, with 95% Wilson intervals; Overall counts a triplet only when all its questions are right.\n"


TRAINING_ASSETS = [base_model, *schedule_models, ffr_model, evaluation]
