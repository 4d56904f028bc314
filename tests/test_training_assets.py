"""The training and evaluation assets, end to end on the tiny model (CPU), from a real release."""

import json

import dagster as dg
import pytest

from remot_pipeline import definitions
from remot_pipeline.core.release import read_latest
from remot_pipeline.defs.resources import RemotPaths
from remot_pipeline.defs.store import StageIOManager
from remot_pipeline.defs.training import MODEL_ASSETS, TRAINING_ASSETS, TrainingConfig
from tests.conftest import small_config, small_release_home

pytestmark = pytest.mark.slow


#: Steps per schedule here: these tests check the wiring (lineage, Pipes, metadata, the comparison),
#: not what training learns, so each shipped tiny recipe runs with only as many steps as the checks
#: need (alternating: k_sft 2 + k_grpo 1 = 3, so its phases start "sft sft grpo"; SFT: 2, so the
#: weights move; sft_grpo: both of its phases). Everything else is the shipped recipe's.
FEW_STEPS = {"sft": {"sft": 2}, "grpo": {"grpo": 1}, "sft_grpo": {"sft": 2, "grpo": 1},
             "alternating": {"grpo": 3}, "ffr": {"grpo": 1}}


def few_step_recipes(folder) -> dict[str, str]:
    """The shipped ``tiny/<schedule>`` recipes with :data:`FEW_STEPS`' ``max_steps``, as YAML
    files (``TrainingConfig.recipes`` takes recipe paths)."""
    import yaml

    from remot_train.recipes import recipe_path

    out = {}
    for schedule, steps in FEW_STEPS.items():
        recipe = yaml.safe_load(recipe_path(f"tiny/{schedule}").read_text())
        for section, n in steps.items():
            assert recipe[section]["max_steps"] > n  # fewer steps than shipped, never more
            recipe[section]["max_steps"] = n
        path = folder / f"{schedule}.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        out[schedule] = str(path)
    return out


@pytest.fixture(scope="module")
def trained(small_release, tmp_path_factory):
    """The training assets on the shared small release (its stage outputs hold the `release`
    value; models and evaluations land beside it under their own release id)."""
    root = small_release
    recipes = few_step_recipes(tmp_path_factory.mktemp("recipes"))
    from remot_train.benchmarks.fixtures import main as write_benchmark_fixtures

    benchmarks = tmp_path_factory.mktemp("benchmarks")
    write_benchmark_fixtures(["all", str(benchmarks)])
    # One thread per training process: the suite runs two xdist workers on two cores (as
    # tests/test_train_cli.py does for its subprocesses).
    pipes_env = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    resources = {"config": small_config(),
                 "paths": RemotPaths(data_root=str(root)), "io_manager": StageIOManager(root=str(root / "stages")),
                 "training": TrainingConfig(recipe_family="tiny", recipes=recipes, image_max_side=32,
                                            max_train_questions=64, eval_triplets_per_domain=3, eval_batch_size=8,
                                            eval_max_new_tokens=12, benchmark_frames=2, benchmark_questions=4,
                                            benchmarks=[f"{k}:{benchmarks / k}" for k in ("vsibench", "mmsi", "camerabench")]),
                 "pipes_client": dg.PipesSubprocessClient(env=pipes_env)}
    # The instance that built the release: the training assets load its `release` output from there.
    with dg.DagsterInstance.local_temp(str(small_release_home(small_release.parent))) as instance:
        result = dg.materialize([*definitions.DATA_ASSETS, *TRAINING_ASSETS], resources=resources, instance=instance,
                                selection=TRAINING_ASSETS)
        result.logs = [e.user_message for e in instance.all_logs(result.run_id)]
    return root, result


def _metadata(result, asset: str) -> dict:
    (mat,) = [m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey(asset)]
    return mat.materialization.metadata


def test_every_schedule_trains_from_the_release_and_records_its_lineage(trained):
    root, result = trained
    assert result.success
    release_id = read_latest(root / "releases")
    for asset in MODEL_ASSETS:
        md = _metadata(result, asset)
        assert md["release_id"].value == release_id
        assert (root / "models" / release_id).is_dir()
        if asset != "base_model":
            assert md["steps"].value > 0 and "curves" in md and "recipe" in md
    assert _metadata(result, "alternating_model")["phases"].value.split()[:3] == ["sft", "sft", "grpo"]
    assert any(k.startswith("final/rewards/") for k in _metadata(result, "grpo_model"))
    ffr = _metadata(result, "ffr_model")
    assert ffr["started_from"].value == "sft" and "ffr/intervention_rate" in ffr and "ffr/leak_drops" in ffr


def test_training_runs_the_entry_point_through_pipes(trained):
    """Each schedule ran `python -m remot_train train` in a subprocess launched by the Pipes
    client; its step lines reached the run's log and its metadata the materialization."""
    root, result = trained
    for asset in MODEL_ASSETS[1:]:
        md = _metadata(result, asset)
        assert "-m remot_train train --recipe" in md["command"].value
        assert md["precision"].value == "fp32" and md["precision/vanishing_update_fraction"].value == 0.0
        assert md["processes"].value == 1 and 0.0 <= md["trainable_weights_changed"].value <= 1.0
        if asset in ("sft_model", "sft_grpo_model", "alternating_model"):  # the SFT loss moves the weights;
            assert md["trainable_weights_changed"].value > 0.9  # GRPO from scratch earns no reward, so may not
        assert (root / "models").rglob("run.json")
    assert any(m.startswith("step 1/") for m in result.logs) and any(m.startswith("done in") for m in result.logs)
    assert "-m remot_train evaluate" in _metadata(result, "evaluation")["command"].value


def test_evaluation_compares_every_model_on_remot_bench(trained):
    root, result = trained
    md = _metadata(result, "evaluation")
    release_id = read_latest(root / "releases")
    table = json.loads((root / "evaluations" / release_id / "comparison.json").read_text())
    assert [r["model"] for r in table] == [a.removesuffix("_model") for a in MODEL_ASSETS]
    for r in table:
        assert 0.0 <= r["partial"]["value"] <= 1.0 and r["partial"]["n"] == md["bench_questions"].value
        assert r["logical_consistency"] is None or 0.0 <= r["logical_consistency"]["value"] <= 1.0
    assert "| sft |" in md["comparison"].value
    import duckdb

    n = duckdb.sql(f"SELECT count(DISTINCT model) FROM '{root / 'evaluations' / release_id / 'records.parquet'}'").fetchall()[0][0]
    assert n == len(MODEL_ASSETS)


def test_evaluation_scores_external_benchmarks_beside_remot_bench(trained):
    """The configured benchmark folders (fixtures in the published layouts) are scored in the same
    evaluation, each by its own metric, and shown beside remot-bench in the comparison table."""
    root, result = trained
    md = _metadata(result, "evaluation")
    release_id = read_latest(root / "releases")
    out = root / "evaluations" / release_id
    benchmarks = json.loads((out / "benchmarks.json").read_text())
    assert list(benchmarks) == ["vsibench", "mmsi", "camerabench"]
    for name, b in benchmarks.items():
        assert [r["model"] for r in b["table"]] == [a.removesuffix("_model") for a in MODEL_ASSETS]
        assert all(0.0 <= r["value"] <= 1.0 and r["n"] == b["questions"] for r in b["table"])
        assert md[f"{name}/sft"].value == b["table"][1]["value"]
    comparison = (out / "comparison.md").read_text()
    assert "| model | remot-bench Partial | remot-bench Overall | vsibench overall | mmsi accuracy | camerabench Acc |" in comparison
    # four questions each (the cap): VSI-Bench's first four are numeric, CameraBench's one whole group
    assert all(b["questions"] == 4 for b in benchmarks.values())
    assert "### vsibench" in comparison and "object_counting" in comparison and "| sft |" in comparison
    assert md["comparison"].value == comparison and "--benchmark" in md["command"].value
    import duckdb

    per_set = dict(duckdb.sql(f"SELECT benchmark, count(*) FROM '{out / 'records.parquet'}' GROUP BY 1").fetchall())
    assert per_set["vsibench"] == len(MODEL_ASSETS) * benchmarks["vsibench"]["questions"]
