"""``python -m remot_train``: train and evaluate outside Dagster, under any launcher.

    python -m remot_train train --recipe tiny/sft --release data --out runs/sft
    accelerate launch --num_processes 8 --config_file zero2.yaml -m remot_train train --recipe ... --release ... --out ...
    python -m remot_train evaluate --model sft=runs/sft/sft/final --release data --out runs/eval
    python -m remot_train recipes

``train`` reads the release's train questions (the data adapter, with the recipe's SFT target:
a reasoning think block when ``include_think``, an empty one otherwise), runs the recipe's
schedule into ``--out`` (resuming from its last checkpoint) and writes ``--out/run.json``.
Every process of a multi-process launch (``accelerate launch``, ``torchrun``) runs the same
command; trl shards the batches; the main process writes files and reports.

``evaluate`` generates for remot-bench (the release's test split, or ``--split``) with each
``--model NAME=PATH``, in the recipe's ``eval:`` settings (or the flags), on the GPU when there
is one; under a multi-process launch the questions are split between the processes and the
records gathered. It writes ``comparison.json``, ``comparison.md`` and ``records.parquet``. Each
``--benchmark KIND:PATH`` (VSI-Bench, MMSI-Bench, CameraBench folders in their published layouts;
:mod:`remot_train.benchmarks`) is scored too, by its own metric: ``benchmarks.json`` holds their
tables, and ``comparison.md`` shows every evaluation set side by side, then each benchmark's
categories.

**Dagster Pipes.** When the process was started by a Dagster Pipes client (the training assets do
this with ``PipesSubprocessClient``; a cluster can use the Kubernetes one), the main process
streams a log line per logged step and reports the run's metadata (release id, checkpoint, steps,
final loss and rewards, precision check, wall time) as the asset's materialization. Only the
``dagster_pipes`` protocol module is imported, and only then.

Errors a user can fix (a missing release, an unknown recipe, a bad ``--set``, a precision that
would not train) end with one line naming the problem and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class CLIError(Exception):
    """A problem the user can fix: printed as one line, exit status 2."""


# --- helpers (pure) -----------------------------------------------------------------------------
def apply_sets(recipe: dict, assignments: list[str]) -> dict:
    """A copy of ``recipe`` with ``key.sub=value`` assignments applied; values are YAML
    (``1e-5``, ``true``, ``[a, b]``); ``null`` removes the key.

    >>> apply_sets({"sft": {"learning_rate": 1e-4}, "lora": {"r": 8}}, ["sft.learning_rate=1e-5", "lora=null"])
    {'sft': {'learning_rate': 1e-05}}
    >>> apply_sets({}, ["grpo.max_steps=3"])
    {'grpo': {'max_steps': 3}}
    >>> apply_sets({}, ["oops"])
    Traceback (most recent call last):
    ...
    remot_train.cli.CLIError: --set oops: expected key=value (e.g. --set sft.learning_rate=1e-5)
    """
    import copy

    import yaml

    out = copy.deepcopy(recipe)
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set {item}: expected key=value (e.g. --set sft.learning_rate=1e-5)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise CLIError(f"--set {item}: the value is not YAML ({str(e).splitlines()[0]})") from None
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads "1e-5" as a string; here it is a number
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    return out


def parse_models(items: list[str]) -> list[tuple[str, str]]:
    """``NAME=PATH`` pairs (a bare path is named by its folder).

    >>> parse_models(["sft=runs/sft/final", "runs/grpo/final"])
    [('sft', 'runs/sft/final'), ('final', 'runs/grpo/final')]
    """
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        out.append((name, path) if sep else (Path(item).name, item))
    return out


def _rank() -> int:
    """This process's rank under torchrun / accelerate launch (0 when alone)."""
    return int(os.environ.get("RANK", "0") or 0)


def _state():
    """accelerate's process state: one process, or every process of a multi-process launch (a CPU
    gloo group when there is no CUDA, as the trainers' ``use_cpu`` makes it too)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def _pipes():
    """The Dagster Pipes context when this (main) process was started by a Pipes client, else None."""
    if _rank() != 0:
        return None
    try:
        from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes
    except ImportError:
        return None
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return None
    return open_dagster_pipes()


def _say(pipes, message: str) -> None:
    if _rank() != 0:
        return
    print(message, flush=True)
    if pipes is not None:
        pipes.log.info(message)


def _progress_callback(pipes, every: int = 1):
    """A TrainerCallback that prints (and sends through Pipes) one line per logged step."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            if state.global_step % every:
                return
            keys = [k for k in logs if k == "loss" or (k.startswith("rewards/") and k.endswith("/mean"))
                    or k in ("phase", "sft/loss", "ffr/intervention_rate")]
            shown = " ".join(f"{k}={logs[k]:.4g}" if isinstance(logs[k], float) else f"{k}={logs[k]}" for k in keys)
            _say(pipes, f"step {state.global_step}/{state.max_steps}: {shown}")

    return Progress()


# --- train -------------------------------------------------------------------------------------
def load_run_recipe(recipe: str, sets: list[str], model_path: str | None) -> dict:
    """A recipe by name or YAML path, with ``--model-path`` and ``--set`` applied, validated."""
    from remot_train.recipes import RecipeError, load_recipe, validate

    try:
        raw = load_recipe(recipe, check_trainer_args=False)
    except (RecipeError, FileNotFoundError) as e:
        raise CLIError(str(e)) from None
    if model_path:
        raw = {k: v for k, v in raw.items() if k not in ("model", "tiny")} | {"model_path": model_path}
    raw = apply_sets(raw, sets)
    try:
        return validate(raw, source=recipe)
    except RecipeError as e:
        raise CLIError(str(e)) from None


def train_rows(release: str, recipe: dict, args) -> list[dict]:
    """The release's train questions as trl rows, with the recipe's SFT target."""
    from remot_train.data import ReleaseNotFound, question_rows

    try:
        rows = question_rows(release, release_id=args.release_id, split="train", with_completion=True,
                             rationale=bool(recipe.get("include_think", False)), image_max_side=args.image_max_side,
                             limit=args.max_questions, domains=args.domains or None,
                             attributes=args.attributes or None, binary=args.binary,
                             views=recipe.get("views", "frames"), clip_frames=recipe.get("clip_frames"))
    except ReleaseNotFound as e:
        raise CLIError(str(e)) from None
    if not rows:
        raise CLIError(f"{release}: no train questions match domains={args.domains} attributes={args.attributes} "
                       f"binary={args.binary}; widen the filters")
    return rows


def cmd_train(args) -> dict:
    from remot_train.data import resolve_release
    from remot_train.precision import PrecisionError, update_monitor
    from remot_train.recipes import RecipeError, model_for, run_recipe

    pipes = _pipes()
    recipe = load_run_recipe(args.recipe, args.set, args.model_path)
    try:
        release_dir = resolve_release(args.release, args.release_id)
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None
    if recipe["method"] == "ffr":  # the teacher and the leakage guard read the triplets from the release
        recipe["ffr"] = {**(recipe.get("ffr") or {}), "release": str(release_dir)}
    out = Path(args.out)
    state = _state()
    with state.main_process_first():  # the tiny model is built once, by the main process
        out.mkdir(parents=True, exist_ok=True)
        model_for(recipe, out)
    rows = train_rows(str(release_dir), recipe, args)
    manifest = json.loads((release_dir / "manifest.json").read_text())
    release_id = manifest.get("release_id", release_dir.name)
    _say(pipes, f"{recipe['method']}: {len(rows)} train questions from release {release_id}, "
                f"recipe {recipe.get('description', args.recipe)}, {state.num_processes} process(es), out {out}")
    started = time.perf_counter()
    monitor = update_monitor()
    try:
        result = run_recipe(recipe, out, sft_rows=rows, grpo_rows=rows, callbacks=[_progress_callback(pipes), monitor])
    except (PrecisionError, RecipeError) as e:
        raise CLIError(str(e)) from None
    wall_s = time.perf_counter() - started
    history = result.log_history
    losses = [h for h in history if "loss" in h]
    rewards = sorted({k for h in history for k in h if k.startswith("rewards/") and k.endswith("/mean")})
    summary = {
        "method": recipe["method"], "release": str(release_dir), "release_id": release_id,
        "checkpoint": str(result.final_checkpoint), "train_questions": len(rows),
        "steps": result.global_step or len(result.phases) or len(losses), "processes": state.num_processes, "wall_s": round(wall_s, 2),
        "final_loss": float(losses[-1]["loss"]) if losses else None,
        "final_rewards": {k: float([h[k] for h in history if k in h][-1]) for k in rewards},
        "precision": result.precision, "changed_fraction": _changed(monitor, history), "recipe": recipe,
    }
    if state.is_main_process:
        import yaml

        from data_contracts.tables import atomic_write_bytes

        (out / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
        atomic_write_bytes(out / "run.json", json.dumps({**summary, "log_history": history}, indent=1,
                                                         default=str).encode())
        _say(pipes, f"done in {wall_s:.1f} s: {summary['steps']} steps, final loss {summary['final_loss']}, "
                    f"{_percent(summary['changed_fraction'])} of the trainable weights changed, "
                    f"checkpoint {result.final_checkpoint}")
        if pipes is not None:
            pipes.report_asset_materialization(metadata=_pipes_metadata(summary))
    return summary


def _changed(monitor, history: list[dict]) -> float | None:
    """The share of trainable weights this run changed: measured now, or, for a run that had
    already finished (returned as it was), as it recorded then."""
    if monitor.changed_fraction is not None:
        return monitor.changed_fraction
    return next((h["train/changed_fraction"] for h in reversed(history) if "train/changed_fraction" in h), None)


def _percent(x: float | None) -> str:
    return "?" if x is None or x != x else f"{100 * x:.1f}%"


def _pipes_metadata(summary: dict) -> dict:
    """The run's summary as Pipes metadata (typed values)."""
    precision = summary.get("precision") or {}
    md: dict[str, Any] = {
        "release_id": summary["release_id"],
        "checkpoint": {"raw_value": summary["checkpoint"], "type": "path"},
        "train_questions": summary["train_questions"], "steps": summary["steps"], "wall_s": summary["wall_s"],
        "processes": summary["processes"],
        "precision": precision.get("policy", ""),
        "precision/vanishing_update_fraction": float(precision.get("fraction", 0.0)),
        "precision/trainable_parameters": int(precision.get("trainable", 0)),
    }
    if summary["final_loss"] is not None:
        md["final_loss"] = summary["final_loss"]
    if summary.get("changed_fraction") is not None and summary["changed_fraction"] == summary["changed_fraction"]:
        md["trainable_weights_changed"] = float(summary["changed_fraction"])
    if "lora_merge" in precision:
        md["lora_merge/kept"] = float(precision["lora_merge"]["kept"])
    md.update({f"final/{k}": v for k, v in summary["final_rewards"].items()})
    return md


# --- evaluate ----------------------------------------------------------------------------------
def eval_settings(recipe: dict | None, args) -> dict:
    """Generation settings: the flags, else the recipe's ``eval:``, else the defaults (bf16 on a GPU,
    fp32 on CPU; 2,048 new tokens; sampling from the checkpoint's generation config)."""
    import torch

    section = dict((recipe or {}).get("eval") or {})
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = {
        "device": device,
        "dtype": args.dtype or section.get("dtype") or ("bfloat16" if device.startswith("cuda") else "float32"),
        "batch_size": args.batch_size or section.get("batch_size") or 8,
        "max_new_tokens": args.max_new_tokens or section.get("max_new_tokens") or 2048,
        "seed": section.get("seed", 0),
    }
    if device == "cpu" and out["dtype"] == "bfloat16" and not args.dtype:
        out["dtype"] = "float32"  # the recipe's GPU dtype; bf16 matmuls on CPU are slow and gain nothing here
    sampling = {k: section.get(k) for k in ("do_sample", "temperature", "top_p", "top_k") if section.get(k) is not None}
    if args.greedy:
        sampling = {"do_sample": False}
    out["sampling"] = sampling
    return out


def cmd_evaluate(args) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from accelerate.utils import gather_object

    from data_contracts.tables import atomic_write_bytes
    from remot_train.benchmarks import benchmark_summary
    from remot_train.data import ReleaseNotFound, question_rows
    from remot_train.evaluate import bench_subset, comparison_markdown, evaluate, summary_row
    from remot_train.model import load

    pipes = _pipes()
    recipe = load_run_recipe(args.recipe, [], None) if args.recipe else None
    settings = eval_settings(recipe, args)
    state = _state()
    if settings["device"].startswith("cuda") and state.num_processes > 1:
        settings["device"] = f"cuda:{state.local_process_index}"
    try:
        views = args.views or (recipe or {}).get("views", "frames")  # remot-bench as clips or frames
        clip_frames = (recipe or {}).get("clip_frames") if views == "clips" else None
        rows = question_rows(args.release, release_id=args.release_id, split=args.split,
                             image_max_side=args.image_max_side, views=views, clip_frames=clip_frames)
    except ReleaseNotFound as e:
        raise CLIError(str(e)) from None
    rows = bench_subset(rows, args.triplets_per_domain)
    if not rows:
        raise CLIError(f"{args.release}: the {args.split} split has no questions")
    sets = evaluation_sets(args)
    models = parse_models(args.model)
    for name, path in models:
        if not Path(path).expanduser().is_dir():
            raise CLIError(f"--model {name}={path}: no such checkpoint folder")
    out = Path(args.out)
    table, records = [], []
    bench_tables: dict[str, list[dict]] = {}
    for name, path in models:
        started = time.perf_counter()
        model, processor = load(path, dtype=settings["dtype"], device=settings["device"])
        with state.split_between_processes(rows) as mine:
            from remot_train.clips import clip_frames_of, processor_for

            shown = processor_for(processor, views, clip_frames_of(rows)) if views == "clips" else processor
            res = evaluate(model, shown, list(mine), batch_size=settings["batch_size"],
                           max_new_tokens=settings["max_new_tokens"], sampling=settings["sampling"],
                           seed=settings["seed"] + state.process_index)
        mine_records = res.records
        all_records = gather_object(mine_records) if state.num_processes > 1 else mine_records
        set_records = score_sets(model, processor, sets, state, settings)
        del model
        if not state.is_main_process:
            continue
        from remot_train.scoring import summarize

        metrics = summarize(all_records)
        table.append({**summary_row(name, metrics), "checkpoint": str(path), "wall_s": round(time.perf_counter() - started, 1)})
        records += [{**r, "model": name, "relations": json.dumps(r.get("relations") or []), "benchmark": "remot-bench",
                     "index": None} for r in all_records]
        for set_name, kind, _ in sets:
            bench_tables.setdefault(set_name, []).append({"model": name, **benchmark_summary(kind, set_records[set_name])})
            records += [{**r, "model": name, "relations": "[]"} for r in set_records[set_name]]
            _say(pipes, f"{name} on {set_name}: {bench_tables[set_name][-1]['metric']} "
                        f"{bench_tables[set_name][-1]['value']:.3f} ({len(set_records[set_name])} questions)")
        _say(pipes, f"{name}: partial {metrics['partial']['value']:.3f}, overall {metrics['overall']['value']:.3f}, "
                    f"format failures {metrics['format_failure_rate']['value']:.3f}, "
                    f"truncated {metrics['truncation_rate']['value']:.3f} ({len(all_records)} questions)")
    markdown = comparison_markdown(table) + sets_markdown(table, bench_tables)
    summary = {"release": args.release, "questions": len(rows), "settings": settings, "table": table,
               "benchmarks": {n: {"kind": k, "questions": len(r), "table": bench_tables.get(n, [])} for n, k, r in sets},
               "markdown": markdown}
    if state.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "comparison.json", json.dumps(table, indent=2).encode())
        pq.write_table(pa.Table.from_pylist(records), out / ".records.parquet.tmp")
        (out / ".records.parquet.tmp").replace(out / "records.parquet")
        atomic_write_bytes(out / "comparison.md", markdown.encode())
        atomic_write_bytes(out / "benchmarks.json", json.dumps(summary["benchmarks"], indent=2).encode())
        atomic_write_bytes(out / "evaluation.json", json.dumps(summary, indent=1, default=str).encode())
        if pipes is not None:
            pipes.report_asset_materialization(metadata={
                "bench_questions": len(rows), "device": settings["device"], "dtype": settings["dtype"],
                "max_new_tokens": settings["max_new_tokens"],
                "comparison": {"raw_value": markdown, "type": "md"},
                "evaluation_sets": ", ".join(["remot-bench", *(n for n, _, _ in sets)]),
                **{f"{n}/questions": len(r) for n, _, r in sets},
                "records": {"raw_value": str(out / "records.parquet"), "type": "path"}})
    return summary


def evaluation_sets(args) -> list[tuple[str, str, list[dict]]]:
    """The external benchmarks named by ``--benchmark KIND:PATH``, read into evaluation rows:
    ``(name, kind, rows)``, the name being the kind (``kind-2``... when a kind repeats). A bad
    benchmark folder is one line (:class:`remot_train.benchmarks.BenchmarkError`)."""
    from remot_train.benchmarks import BenchmarkError, load_benchmark, parse_spec

    out = []
    try:
        for spec in args.benchmark:
            kind, path = parse_spec(spec)
            n = sum(k == kind for _, k, _ in out)
            rows = load_benchmark(kind, path, frames=args.benchmark_frames, image_max_side=args.image_max_side,
                                  limit=args.benchmark_limit)
            out.append((kind if n == 0 else f"{kind}-{n + 1}", kind, rows))
    except BenchmarkError as e:
        raise CLIError(str(e)) from None
    return out


def score_sets(model, processor, sets, state, settings) -> dict[str, list[dict]]:
    """Each external benchmark's scored records (every process runs this; the main process gets
    all of them), each carrying its ``benchmark`` name and ``index`` (CameraBench's group place)."""
    from accelerate.utils import gather_object

    from remot_train.evaluate import evaluate

    out = {}
    for set_name, _, rows in sets:
        with state.split_between_processes(rows) as mine:
            res = evaluate(model, processor, list(mine), batch_size=settings["batch_size"],
                           max_new_tokens=settings["max_new_tokens"], sampling=settings["sampling"],
                           seed=settings["seed"] + state.process_index, by=("question_type",))
            mine_records = [{**r, "benchmark": set_name, "index": row.get("index")} for r, row in zip(res.records, mine)]
        out[set_name] = gather_object(mine_records) if state.num_processes > 1 else mine_records
    return out


def sets_markdown(table: list[dict], bench_tables: dict[str, list[dict]]) -> str:
    """remot-bench and every external benchmark side by side (a line per model, each set's
    headline), then each benchmark's own table with its categories; empty without benchmarks."""
    from remot_train.benchmarks import summary_markdown

    if not bench_tables:
        return ""

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}"

    names = list(bench_tables)
    head = ["model", "remot-bench Partial", "remot-bench Overall",
            *(f"{n} {bench_tables[n][0]['metric'].split(' (')[0]}" for n in names)]
    lines = ["", "## Evaluation sets side by side", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        cells = [r["model"], pct((r.get("partial") or {}).get("value")), pct((r.get("overall") or {}).get("value"))]
        for n in names:
            hit = next((b for b in bench_tables[n] if b["model"] == r["model"]), None)
            cells.append(pct(hit["value"] if hit else None))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("\nPercent. Each benchmark is scored by its own published metric (VSI-Bench: the mean over task "
                 "types of mean relative accuracy (numeric) or accuracy (multiple choice); MMSI-Bench: accuracy; "
                 "CameraBench: binary accuracy, with question / video / group accuracy over groups of four).\n")
    for n in names:
        lines.append(summary_markdown(n, bench_tables[n]))
    return "\n".join(lines) + "\n"


# --- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m remot_train",
        description="Train and evaluate remot models from a release, outside Dagster; any launcher "
                    "(python, accelerate launch, torchrun) runs the same command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,recipes}")

    train = sub.add_parser("train", help="run a recipe's schedule (sft, grpo, sft_grpo, alternating, ffr) on a release",
                           description="Run a recipe on the release's train questions; resumes from --out's last checkpoint.")
    train.add_argument("--recipe", required=True, help="a shipped recipe (e.g. tiny/sft; see `recipes`) or a YAML path")
    train.add_argument("--release", required=True, help="the data root (its LATEST release) or a release folder")
    train.add_argument("--release-id", default=None, help="a release id under the data root instead of LATEST")
    train.add_argument("--out", required=True, help="the run folder (checkpoints, final/, run.json)")
    train.add_argument("--model-path", default=None, help="start from this local checkpoint instead of the recipe's model")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a recipe key, dotted for sections: --set grpo.max_steps=10 --set lora=null")
    _data_filters(train)
    train.add_argument("--max-questions", type=int, default=None, help="cap on train questions (default: all)")

    ev = sub.add_parser("evaluate", help="score checkpoints on remot-bench (the release's test split)",
                        description="Generate and score every question of the split for each --model.")
    ev.add_argument("--model", action="append", required=True, metavar="NAME=PATH", help="a checkpoint to score (repeat)")
    ev.add_argument("--release", required=True, help="the data root (its LATEST release) or a release folder")
    ev.add_argument("--release-id", default=None)
    ev.add_argument("--out", required=True, help="where comparison.json/.md and records.parquet go")
    ev.add_argument("--recipe", default=None, help="take the generation settings from this recipe's eval: section")
    ev.add_argument("--split", default="test")
    ev.add_argument("--views", default=None, choices=["frames", "clips"],
                    help="show remot-bench's pairs as frames or as clips (default: the recipe's views, else frames)")
    ev.add_argument("--triplets-per-domain", type=int, default=None, help="the first N triplets of each domain (default: all)")
    ev.add_argument("--image-max-side", type=int, default=None, help="shrink images to this longest side (tiny models)")
    ev.add_argument("--batch-size", type=int, default=None)
    ev.add_argument("--max-new-tokens", type=int, default=None)
    ev.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    ev.add_argument("--device", default=None, help="cuda, cuda:1 or cpu (default: cuda when there is one)")
    ev.add_argument("--greedy", action="store_true", help="greedy decoding whatever the recipe or checkpoint says")
    ev.add_argument("--benchmark", action="append", default=[], metavar="KIND:PATH",
                    help="also score an external benchmark folder (vsibench, mmsi, camerabench; repeat), "
                         "e.g. vsibench:data/benchmarks/vsibench")
    ev.add_argument("--benchmark-frames", type=int, default=8, help="frames sampled uniformly per benchmark video")
    ev.add_argument("--benchmark-limit", type=int, default=None, help="the first N questions of each benchmark")

    sub.add_parser("recipes", help="list the shipped recipes")
    return parser


def _data_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--domains", nargs="*", default=[], help="train on these domains only (ablation)")
    p.add_argument("--attributes", nargs="*", default=[], help="train on these attributes only")
    p.add_argument("--binary", action="store_true", help="binary pairs instead of triplets (ablation)")
    p.add_argument("--image-max-side", type=int, default=None, help="shrink images to this longest side (tiny models)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "recipes":
            from remot_train.recipes import available, load_recipe

            for name in available():
                print(f"{name:40s} {load_recipe(name, check_trainer_args=False).get('description', '')}")
            return 0
        result = cmd_train(args) if args.command == "train" else cmd_evaluate(args)
        if args.command == "evaluate" and _rank() == 0:
            print(result["markdown"])
        return 0
    except CLIError as e:
        print(f"remot_train {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
