"""Updates that land: every shipped recipe's precision policy, at its learning rates, changes the
weights it trains; pure-bf16 weights at small learning rates would not, and are refused."""

from __future__ import annotations

import pytest

from remot_train.model import build_tiny_model, load
from remot_train.precision import (
    PrecisionError,
    changed_fraction,
    check_updates_land,
    trainable_snapshot,
    update_monitor,
)
from remot_train.recipes import available, load_recipe
from remot_train.trainers import grpo, sft
from remot_train.trainers.toy import toy_rows

SIZE = 32


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", image_size=SIZE)


def _policies() -> list[tuple[str, float, str]]:
    """Every (precision, learning rate, lora) a shipped recipe trains with, once each."""
    import json

    seen = {}
    for name in available():
        recipe = load_recipe(name)
        for section in ("sft", "grpo"):
            if section in recipe:
                lr = float(recipe[section].get("learning_rate", 5e-5))
                key = (recipe.get("precision", "fp32"), lr, json.dumps(recipe.get("lora"), sort_keys=True))
                seen.setdefault(key, name)
    return sorted(seen)


def test_adamw_on_bf16_weights_loses_small_updates_and_fp32_keeps_them():
    """The measurement behind the check: 10 AdamW steps on a 0.02-scale tensor."""
    import torch

    for dtype, lr, lost in ((torch.bfloat16, 1e-5, 0.7), (torch.bfloat16, 1e-6, 0.9)):
        torch.manual_seed(0)
        w = torch.nn.Parameter((torch.randn(4096) * 0.02).to(dtype))
        start = w.detach().clone()
        opt = torch.optim.AdamW([w], lr=lr, weight_decay=0.0)
        for _ in range(10):
            w.grad = torch.randn_like(w)
            opt.step()
        assert float((w.detach() == start).float().mean()) > lost
        # the check predicts it before any step
        model = torch.nn.Module()
        model.w = torch.nn.Parameter(start.clone())
        with pytest.raises(PrecisionError, match="would not change at learning rate"):
            check_updates_land(model, lr, "bf16")
    w = torch.nn.Parameter(torch.randn(4096) * 0.02)
    start = w.detach().clone()
    opt = torch.optim.AdamW([w], lr=1e-6, weight_decay=0.0)
    w.grad = torch.randn_like(w)
    opt.step()
    assert float((w.detach() != start).float().mean()) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("precision, lr, lora", _policies())
def test_every_shipped_policy_changes_at_least_90_percent_of_what_it_trains(base, tmp_path, precision, lr, lora):
    import json

    lora = json.loads(lora)
    monitor = update_monitor(sample=1 << 30)  # every element
    result = sft(base, toy_rows(4, seed=0, size=SIZE), tmp_path / "run", precision=precision, lora=lora,
                 args=dict(max_steps=3, per_device_train_batch_size=2, learning_rate=lr, lr_scheduler_type="constant",
                           save_steps=100), callbacks=[monitor])
    assert result.precision["policy"] == precision and result.precision["fraction"] <= 0.5
    if lora:
        assert result.precision["dtypes"] == ["float32"]  # the adapters train in fp32 on bf16 weights
        assert (result.final_checkpoint / "adapter" / "adapter_config.json").is_file()
        assert 0 < result.precision["lora_merge"]["kept"] <= result.precision["lora_merge"]["adapted"]
    assert monitor.changed_fraction >= 0.9, (precision, lr, monitor.changed_fraction)
    load(result.final_checkpoint)  # the merged (or full) checkpoint loads


@pytest.mark.slow
def test_grpo_updates_land_under_the_4b_policy(base, tmp_path):
    """GRPO at the 4B recipes' rate (1e-5) and policy (LoRA on bf16 weights), with a reward that
    varies within each group so the policy gradient is not zero."""
    recipe = load_recipe("qwen3-vl-4b-thinking/grpo")

    def parity(prompts, completions, completion_ids=None, **kw):  # sampled tokens differ, so rewards do
        return [float(sum(ids) % 2) for ids in completion_ids]

    monitor = update_monitor(sample=1 << 30)
    result = grpo(base, toy_rows(4, seed=0, size=SIZE, with_completion=False), tmp_path / "grpo",
                  reward_funcs=[parity], precision=recipe["precision"], lora=recipe["lora"],
                  args=dict(max_steps=3, per_device_train_batch_size=4, num_generations=2, max_completion_length=8,
                            learning_rate=recipe["grpo"]["learning_rate"], temperature=1.0, beta=0.0, save_steps=100,
                            loss_type=recipe["grpo"]["loss_type"],
                            mask_truncated_completions=False),  # the tiny model never ends: keep its tokens
                  callbacks=[monitor])
    assert result.precision["policy"] == "bf16-lora" and monitor.changed_fraction >= 0.9, monitor.changed_fraction


def test_pure_bf16_at_the_4b_rate_is_refused_before_training(base, tmp_path):
    with pytest.raises(PrecisionError, match=r"weights would not change at learning rate 1e-05.*bf16-lora"):
        sft(base, toy_rows(2, seed=0, size=SIZE), tmp_path / "run", precision="bf16",
            args=dict(max_steps=1, per_device_train_batch_size=2, learning_rate=1e-5))
    with pytest.raises(PrecisionError, match="needs a lora: section"):
        sft(base, toy_rows(2, seed=0, size=SIZE), tmp_path / "run2", precision="bf16-lora",
            args=dict(max_steps=1, learning_rate=1e-4))


def test_changed_fraction_counts_elements():
    import torch

    model = torch.nn.Linear(4, 2)
    before = trainable_snapshot(model)
    with torch.no_grad():
        model.weight[0, :2] += 1.0
    assert changed_fraction(before, model) == pytest.approx(2 / 10)
