"""``python -m remot_train``: the entry point every launcher runs, on one process and on two
(a CPU gloo group, as ``accelerate launch`` forms it), with one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from remot_train.cli import apply_sets

REPO = Path(__file__).resolve().parents[1]
TINY = ["--image-max-side", "32", "--max-questions", "16"]


def _run(args: list[str], launcher: list[str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [*(launcher or [sys.executable]), "-m", "remot_train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


def _two_processes() -> list[str]:
    """accelerate's multi-process launcher with two processes; with no CUDA the processes form a
    CPU gloo group (accelerate 1.16's ``--cpu`` launches one process unless MPI is used)."""
    accelerate = Path(sys.executable).with_name("accelerate")
    return [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]


def test_help_lists_the_commands():
    out = _run(["--help"])
    assert out.returncode == 0
    for command in ("train", "evaluate", "recipes"):
        assert command in out.stdout
    train_help = _run(["train", "--help"]).stdout
    assert "--recipe" in train_help and "--release" in train_help and "--set KEY=VALUE" in train_help
    recipes = _run(["recipes"]).stdout
    assert "qwen3-vl-4b-thinking/grpo" in recipes and "tiny/sft" in recipes


@pytest.mark.parametrize("args, message", [
    (["train", "--recipe", "tiny/nope", "--release", "x", "--out", "o"], "no recipe 'tiny/nope'"),
    (["train", "--recipe", "tiny/sft", "--release", "/nowhere/data", "--out", "o"],
     "/nowhere/data: no release 'LATEST' with a manifest.json here"),
    (["train", "--recipe", "tiny/sft", "--release", "x", "--out", "o", "--set", "oops"], "--set oops: expected key=value"),
    (["train", "--recipe", "tiny/sft", "--release", "x", "--out", "o", "--set", "precision=fp16"],
     "precision must be one of"),
    (["evaluate", "--model", "m=/nowhere/ckpt", "--release", "/nowhere", "--out", "o"], "no release"),
])
def test_user_errors_are_one_line_with_status_2(args, message):
    out = _run(args)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.stderr, out.stderr[-2000:]


def test_a_policy_whose_updates_would_vanish_stops_with_one_line(small_release, tmp_path):
    out = _run(["train", "--recipe", "tiny/sft", "--release", str(small_release), "--out", str(tmp_path / "r"), *TINY,
                "--set", "precision=bf16", "--set", "sft.learning_rate=1e-6"])
    assert out.returncode == 2 and "would not change at learning rate 1e-06" in out.stderr, out.stderr[-2000:]


def test_set_parses_yaml_numbers_and_removes_nulls():
    got = apply_sets({"grpo": {"beta": 0.01}, "lora": {"r": 8}},
                     ["grpo.learning_rate=1e-6", "grpo.beta=0", "lora=null", "eval.max_new_tokens=4096",
                      "grpo.use_vllm=false", "description=a b"])
    assert got == {"grpo": {"beta": 0, "learning_rate": 1e-6, "use_vllm": False}, "eval": {"max_new_tokens": 4096},
                   "description": "a b"}


def _losses(run_dir: Path) -> list[float]:
    run = json.loads((run_dir / "run.json").read_text())
    return [e["loss"] for e in run["log_history"] if "loss" in e]


@pytest.mark.slow
def test_two_processes_train_sft_like_one_process_with_the_same_global_batch(small_release, tmp_path):
    """DDP over two CPU processes with 2 rows each sees, step by step, the 4 rows one process
    sees with 4: the loss curves agree and both checkpoints load."""
    from remot_train.model import load

    one = _run(["train", "--recipe", "tiny/sft", "--release", str(small_release), "--out", str(tmp_path / "one"), *TINY,
                "--set", "sft.max_steps=4", "--set", "sft.per_device_train_batch_size=4"])
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(["train", "--recipe", "tiny/sft", "--release", str(small_release), "--out", str(tmp_path / "two"), *TINY,
                "--set", "sft.max_steps=4", "--set", "sft.per_device_train_batch_size=2"], launcher=_two_processes())
    assert two.returncode == 0, two.stderr[-3000:]
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert run["processes"] == 2 and run["steps"] == 4 and run["changed_fraction"] > 0.9
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 4 and a[-1] < a[0]
    assert b == pytest.approx(a, rel=2e-3), (a, b)
    for d in ("one", "two"):
        load(tmp_path / d / "sft" / "final")


@pytest.mark.slow
def test_two_processes_train_grpo_and_evaluate_like_one(small_release, tmp_path):
    """GRPO on two processes (a length target small enough that the rewards vary): every step
    logs a loss and rewards, the weights move, the checkpoint loads; the two-process evaluation
    gathers exactly the one-process records."""
    import pyarrow.parquet as pq

    from remot_train.model import load

    grpo = _run(["train", "--recipe", "tiny/grpo", "--release", str(small_release), "--out", str(tmp_path / "grpo"),
                 *TINY, "--set", "grpo.max_steps=2", "--set", "grpo.per_device_train_batch_size=2",
                 "--set", "grpo.learning_rate=1e-3",
                 "--set", "reward_options={length_reward: {target_tokens: 1, normaliser: 16}}"], launcher=_two_processes())
    assert grpo.returncode == 0, grpo.stderr[-3000:]
    run = json.loads((tmp_path / "grpo" / "run.json").read_text())
    assert run["processes"] == 2 and run["steps"] == 2 and run["changed_fraction"] > 0.5
    logged = [e for e in run["log_history"] if "loss" in e]
    assert len(logged) == 2 and all("rewards/length_reward/mean" in e for e in logged)
    load(tmp_path / "grpo" / "grpo" / "final")
    model = f"grpo={tmp_path / 'grpo' / 'grpo' / 'final'}"
    common = ["evaluate", "--model", model, "--release", str(small_release), "--triplets-per-domain", "1",
              "--image-max-side", "32", "--max-new-tokens", "6", "--batch-size", "4"]
    one = _run([*common, "--out", str(tmp_path / "e1")])
    two = _run([*common, "--out", str(tmp_path / "e2")], launcher=_two_processes())
    assert one.returncode == 0 and two.returncode == 0, (one.stderr[-2000:], two.stderr[-2000:])
    key = lambda r: (r["question_id"], r["completion"], r["truncated"])  # noqa: E731
    a = sorted(map(key, pq.read_table(tmp_path / "e1" / "records.parquet").to_pylist()))
    b = sorted(map(key, pq.read_table(tmp_path / "e2" / "records.parquet").to_pylist()))
    assert a == b and len(a) >= 9  # one triplet of each domain, three questions each
    table = json.loads((tmp_path / "e2" / "comparison.json").read_text())
    assert table[0]["truncation_rate"]["value"] == 1.0  # 6 new tokens: every completion is cut


@pytest.mark.parametrize("name, kind, stage", [("zero2", "DEEPSPEED", 2), ("zero3", "DEEPSPEED", 3), ("ddp", "MULTI_GPU", None)])
def test_shipped_launch_configs_are_valid_accelerate_configs(name, kind, stage):
    from accelerate.commands.config.config_args import load_config_from_file

    path = REPO / "remot_train" / "recipes" / "qwen3-vl-4b-thinking" / "accelerate" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.distributed_type == kind and config.num_processes == 8 and config.mixed_precision == "bf16"
    if stage is not None:
        assert config.deepspeed_config["zero_stage"] == stage
        assert config.deepspeed_config.get("zero3_save_16bit_model", stage != 3) is True  # ZeRO-3 gathers the weights
