"""The GPU smoke of every schedule (bench/gpu_smoke.py): its CPU path end to end on the scaled-down
model, with small step counts and sizes, and its defaults (the issue's numbers)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_smoke.py"
TRAINED = ("sft", "grpo", "alternating", "ffr")


@pytest.fixture(scope="module")
def smoke():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_cpu_smoke_runs_every_schedule_and_reports_it(smoke, small_release, tmp_path):
    result = smoke.main([
        "--model", "tiny-ish", "--device", "cpu", "--release", str(small_release), "--out", str(tmp_path),
        "--sft-steps", "2", "--grpo-steps", "2", "--alternating-steps", "2", "--ffr-steps", "2",
        "--eval-questions", "4", "--image-size", "64x48", "--max-completion-length", "8",
        "--grpo-batch-size", "4", "--sft-batch-size", "2", "--sft-grad-accum", "2", "--alt-sft-batch-size", "2",
        "--eval-batch-size", "4",
    ])
    saved = json.loads((tmp_path / "gpu_smoke.json").read_text())
    errors = {k: v.get("error") for k, v in saved["schedules"].items() if "error" in v}
    assert not errors, errors
    assert saved["smoke"] is True and saved["device"]["type"] == "cpu" and saved["device"]["name"]
    assert saved["device"]["torch"] and saved["device"]["transformers"] and saved["device"]["trl"]
    assert saved["model"]["kind"] == "tiny-ish" and saved["model"]["params"]["total"] > 0
    assert saved["model"]["vocab_size"] == 151936 and saved["model"]["tokenizer_size"] == 151669
    assert saved["setup"]["precision"] == "bf16-lora" == saved["setup"]["recipes_precision"]
    assert set(saved["schedules"]) == set(TRAINED) | {"evaluate"}
    assert "smoke_id_reward" in saved["note"]
    for name in TRAINED:
        run = saved["schedules"][name]
        assert run["status"] == "PASS", (name, run["checks"])
        assert run["steps"] == 2 and len(run["step_seconds"]) == 2 and all(s > 0 for s in run["step_seconds"]), name
        assert run["step_mean_s"] > 0 and run["tokens_per_s"] > 0, name
        assert all(t > 0 for t in run["tokens_per_step"]), (name, run["tokens_per_step"])
        assert run["changed_fraction"] >= 0.9, (name, run["changed_fraction"])
        assert run["losses"] and all(math.isfinite(x) for x in run["losses"]), name
        assert run["precision"] == "bf16-lora" and run["lora_r"] == 64, name
        assert run["peak_memory_gib"] > 0, name
    assert saved["schedules"]["sft"]["learning_rate"] == 1e-4 and saved["schedules"]["grpo"]["learning_rate"] == 1e-5
    # the SFT tokens counted per step are trl's own SFT token count
    assert sum(saved["schedules"]["sft"]["tokens_per_step"]) == saved["schedules"]["sft"]["trl_num_tokens"]
    assert saved["schedules"]["alternating"]["phases"] == ["sft", "grpo"]
    assert "smoke_id_reward" in saved["schedules"]["grpo"]["reward_funcs"]
    ffr = saved["schedules"]["ffr"]
    assert "rir" in ffr["reward_funcs"] and ffr["ffr_stats"]["totals"]["groups"] == 2  # 1 group x 2 steps
    ev = saved["schedules"]["evaluate"]
    assert ev["status"] == "PASS" and ev["questions"] == 4 and ev["questions_per_s"] > 0
    assert 0 < ev["new_tokens"] <= 4 * 8 and 0 <= ev["truncation_rate"] <= 1
    assert saved["status"] == "PASS" == result["status"] and saved["total_wall_s"] > 0
    table = (tmp_path / "gpu_smoke.md").read_text()
    assert "CPU/SMOKE" in table and all(f"| {name} | PASS |" in table for name in (*TRAINED, "evaluate"))


def test_defaults_are_the_issue_numbers(smoke):
    opts = smoke.parse_args(["--release", "data"])
    assert (opts.sft_steps, opts.grpo_steps, opts.alternating_steps, opts.ffr_steps, opts.eval_questions) == \
        (5, 5, 6, 3, 32)
    assert (opts.grpo_batch_size, opts.num_generations, opts.beta) == (16, 4, 0.01)
    assert (opts.model, opts.image_size, opts.max_completion_length, opts.precision) == ("4b", "256x192", 128, None)
    assert smoke.smoke_id_reward([], [], completion_ids=[[1, 2], [3, 999]]) == [0.003, 0.002]
