"""The GRPO step benchmark (bench/bench_grpo_step.py): its CPU smoke path end to end, and the
full-size 4B configuration it would build on a GPU (shapes only, no memory)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_grpo_step.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_grpo_step", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_smoke_writes_positive_timings_for_both_reward_sets(bench, tmp_path):
    out = tmp_path / "grpo_step_cpu.json"
    result = bench.main(["--model", "tiny-ish", "--device", "cpu", "--warmup", "0", "--steps", "1",
                         "--image-size", "64x64", "--max-completion-length", "8", "--batch-size", "8",
                         "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["smoke"] is True and saved["device"]["type"] == "cpu" and saved["device"]["name"]
    assert saved["model"]["kind"] == "tiny-ish" and saved["model"]["params"]["total"] > 0
    assert saved["setup"]["batch_size"] == 8 and saved["setup"]["num_generations"] == 4
    assert saved["setup"]["beta"] == 0.01
    assert set(saved["runs"]) == {"ours", "trl"}
    for label, run in saved["runs"].items():
        assert len(run["step_seconds"]) == 1 and run["step_seconds"][0] > 0, label
        assert run["step_mean_s"] > 0 and run["tokens_per_s"] > 0 and run["completion_tokens_per_s"] > 0
        # EOS is suppressed: every completion runs to the maximum length.
        assert run["completion_tokens_per_step"] == 8 * 8
        assert run["tokens_per_step"] > run["completion_tokens_per_step"]
        assert run["reward_funcs"] and set(run["reward_s_per_step"]) == set(run["reward_funcs"])
        assert all(v > 0 for v in run["reward_s_per_step"].values()), run["reward_s_per_step"]
        assert 0 < run["reward_overhead_pct"] < 100
        assert run["reward_time_outside_steps_s"] == {}
        assert run["completion_chars_mean"] > 8  # the rewards saw decoded text, not empty strings
    assert saved["runs"]["ours"]["reward_funcs"] == ["format_reward", "task_reward", "length_reward", "logic_reward"]
    assert saved["runs"]["ours"]["reward_weights"] == [3.5, 3.5, 1.3, 1.7]
    assert "think_format_reward" in saved["runs"]["trl"]["reward_funcs"]
    verdict = saved["verdict"]
    assert verdict["status"] in ("PASS", "FAIL") and verdict["budget_pct"] == 5.0
    assert math.isclose(verdict["ours_pct"], saved["runs"]["ours"]["reward_overhead_pct"])
    table = out.with_suffix(".md").read_text()
    assert "CPU SMOKE" in table and "| ours |" in table and "| trl |" in table
    assert result["verdict"]["status"] == verdict["status"]


def test_4b_config_is_the_real_architecture_with_the_tokenizer_ids(bench):
    from remot_train.model import build_tokenizer
    from remot_train.recipes import load_model_config

    tok = build_tokenizer()
    real = load_model_config("qwen3-vl-4b-thinking")
    config = bench.bench_config("4b", tok)
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim"):
        assert config["text_config"][key] == real["text_config"][key], key
    assert config["vision_config"] == real["vision_config"]
    assert config["image_token_id"] == tok.convert_tokens_to_ids("<|image_pad|>")
    assert config["vision_start_token_id"] == tok.convert_tokens_to_ids("<|vision_start|>")
    assert config["text_config"]["eos_token_id"] == tok.convert_tokens_to_ids("<|im_end|>")
    params = bench.parameter_counts(config)
    assert 4.3e9 < params["total"] < 4.6e9 and 0.3e9 < params["vision"] < 0.5e9
    # Pure bf16 (weights, gradients, AdamW moments, reference model) fits an 80 GB GPU; fp32 does not.
    assert bench.memory_estimate(params, "bfloat16", False, 0.01)["static_total"] < 50
    assert bench.memory_estimate(params, "float32", False, 0.01)["static_total"] > 80
    suppressed = bench.suppressed_ids(config, tok)
    assert config["image_token_id"] in suppressed and tok.eos_token_id in suppressed
    assert len(suppressed) == real["text_config"]["vocab_size"] - len(tok) + 7
    assert tok.convert_tokens_to_ids("</think>") not in suppressed


def test_defaults_are_the_paper_grpo_shape(bench):
    opts = bench.parse_args([])
    assert (opts.batch_size, opts.num_generations, opts.beta) == (16, 4, 0.01)
    assert (opts.warmup, opts.steps, opts.image_size) == (1, 3, "256x192")
    assert bench.parse_size("256x192") == (256, 192) and bench.parse_size("448") == (448, 448)
