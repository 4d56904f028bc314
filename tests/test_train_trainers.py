"""Trainer builders on the tiny model (CPU): real effects, in few steps."""

from __future__ import annotations

import pytest
from transformers import TrainerCallback

from remot_train.collator import AnswerSpanCollator
from remot_train.evaluate import generate
from remot_train.model import build_tiny_model, load
from remot_train.recipes import RecipeError, available, load_recipe, run_recipe, validate
from remot_train.trainers import alternating, grpo, schedule, sequential, sft
from remot_train.trainers.toy import toy_rows

SIZE = 32  # px: 1 image token per image, fast
GRPO_TINY = dict(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, learning_rate=1e-3)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", seed=0, image_size=SIZE)


def answer_tag(prompts, completions, completion_ids=None, **columns):
    """1 when the completion opens an answer block."""
    return [1.0 if "<answer>" in c[0]["content"] else 0.0 for c in completions]


def brevity(prompts, completions, completion_ids=None, **columns):
    """Minus the completion length in units of 8 tokens."""
    return [-len(ids) / 8 for ids in completion_ids]


class Crash(TrainerCallback):
    """Kill the run (an exception) when step ``at`` is about to start."""

    def __init__(self, at: int):
        self.at = at

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt(f"killed before step {self.at + 1}")


class Watch(TrainerCallback):
    """Record the step each run starts at, the optimizer per step, and the weights at train begin."""

    def __init__(self):
        self.starts, self.optimizers, self.models, self.initial = [], [], [], []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.initial.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    def on_step_begin(self, args, state, control, **kwargs):
        if not self.optimizers or state.global_step != self._last + 1:
            self.starts.append(state.global_step)
        self._last = state.global_step

    def on_step_end(self, args, state, control, optimizer=None, model=None, **kwargs):
        self.optimizers.append(id(optimizer))
        self.models.append(id(model))


def _train_entries(result):
    return [e for e in result.log_history if "loss" in e]


def test_sft_lowers_the_masked_loss_and_its_checkpoint_reloads(base, tmp_path):
    import torch

    model, processor = load(base)
    rows = toy_rows(4, seed=0, size=SIZE)
    batch = AnswerSpanCollator(processor)(rows)
    with torch.no_grad():
        before = float(model(**batch).loss)
    # 12 steps: the real vocabulary's 151,936-way softmax needs more than the small one did
    result = sft(model, rows, tmp_path / "sft", processor=processor,
                 args=dict(max_steps=12, per_device_train_batch_size=4, learning_rate=1e-2,
                           lr_scheduler_type="constant", save_steps=6))
    with torch.no_grad():
        after = float(model(**batch).loss)
    assert after < before - 5.0, (before, after)
    steps = _train_entries(result)
    assert [e["step"] for e in steps] == list(range(1, 13)) and {e["phase"] for e in steps} == {"sft"}
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert (result.final_checkpoint / "model.safetensors").is_file()
    assert (result.output_dir / "result.json").is_file()
    # the saved checkpoint is the in-memory model: same weights, same greedy output
    reloaded, reprocessor = load(result.final_checkpoint)
    trained = model.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in reloaded.state_dict().items())
    eval_rows = toy_rows(3, seed=100, size=SIZE, with_completion=False)
    ours = generate(model, processor, eval_rows, max_new_tokens=10)
    assert generate(reloaded, reprocessor, eval_rows, max_new_tokens=10) == ours
    assert any("</think>\n\n<answer" in c for c in ours), ours  # SFT taught the format: close the think, answer


def test_a_finished_run_is_returned_as_it_is(base, tmp_path):
    """Materializing a finished run again trains nothing (transformers would resume mid-epoch and
    take one more step); a larger max_steps continues it."""
    rows = toy_rows(8, seed=0, size=SIZE)
    args = dict(max_steps=2, per_device_train_batch_size=1, learning_rate=1e-2, save_steps=2)
    first = sft(base, rows, tmp_path / "run", args=args)
    again = sft(base, rows, tmp_path / "run", args=args)
    assert first.global_step == again.global_step == 2 and again.log_history == first.log_history
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == ["checkpoint-2"]
    longer = sft(base, rows, tmp_path / "run", args={**args, "max_steps": 3, "save_steps": 3})
    assert longer.global_step == 3


def test_a_killed_run_resumes_at_its_last_checkpoint(base, tmp_path):
    rows = toy_rows(8, seed=0, size=SIZE)
    args = dict(max_steps=4, per_device_train_batch_size=2, learning_rate=1e-2, save_steps=2)
    with pytest.raises(KeyboardInterrupt):
        sft(base, rows, tmp_path / "run", args=args, callbacks=[Crash(at=3)])
    killed = (tmp_path / "run" / "checkpoint-2" / "trainer_state.json").read_text()
    assert not (tmp_path / "run" / "checkpoint-3").exists()
    watch = Watch()
    result = sft(base, rows, tmp_path / "run", args=args, callbacks=[watch])
    assert watch.starts == [2]  # resumed after step 2, not from scratch
    assert [e["step"] for e in _train_entries(result)] == [1, 2, 3, 4]
    # the resumed steps are those an uninterrupted run takes
    fresh = sft(base, rows, tmp_path / "fresh", args=args)
    assert [round(e["loss"], 5) for e in _train_entries(result)] == [round(e["loss"], 5) for e in _train_entries(fresh)]
    assert '"global_step": 2' in killed


def test_grpo_computes_and_logs_each_weighted_reward(base, tmp_path):
    seen = []

    def correct_word(prompts, completions, completion_ids=None, answer=None, question_id=None, **columns):
        seen.append((len(completions), list(answer), list(question_id), sorted(columns)))
        return [1.0 if a in c[0]["content"] else 0.0 for c, a in zip(completions, answer)]

    rows = toy_rows(4, seed=0, size=SIZE, with_completion=False)
    result = grpo(base, rows, tmp_path / "grpo", reward_funcs=[answer_tag, brevity, correct_word],
                  reward_weights=[2.0, 0.5, 1.0], args=dict(GRPO_TINY, max_steps=2, beta=0.01))
    steps = _train_entries(result)
    assert [e["step"] for e in steps] == [1, 2] and {e["phase"] for e in steps} == {"grpo"}
    for e in steps:
        for name in ("answer_tag", "brevity", "correct_word"):
            assert f"rewards/{name}/mean" in e
        weighted = 2.0 * e["rewards/answer_tag/mean"] + 0.5 * e["rewards/brevity/mean"] + e["rewards/correct_word/mean"]
        assert e["reward"] == pytest.approx(weighted, abs=1e-5)
        assert e["rewards/brevity/mean"] == pytest.approx(-e["completions/mean_length"] / 8, abs=1e-5)
        assert "kl" in e
    n, answers, qids, others = seen[0]
    assert n == 4 and len(answers) == len(qids) == 4 and set(qids) <= {r["question_id"] for r in rows}
    assert {"parse_rule", "options", "tolerance", "triplet_id", "relations"} <= set(others)


def test_sequential_runs_grpo_on_the_sft_weights(base, tmp_path):
    import torch
    from safetensors.torch import load_file

    watch = Watch()
    result = sequential(base, toy_rows(4, seed=0, size=SIZE), toy_rows(4, seed=4, size=SIZE, with_completion=False),
                        tmp_path / "seq", reward_funcs=[answer_tag], callbacks=[watch],
                        sft_args=dict(max_steps=2, per_device_train_batch_size=4, learning_rate=1e-2),
                        grpo_args=dict(GRPO_TINY, max_steps=1, beta=0.01))
    assert [(e["step"], e["phase"]) for e in _train_entries(result)] == [(1, "sft"), (2, "sft"), (3, "grpo")]
    sft_final = load_file(str(tmp_path / "seq" / "sft" / "final" / "model.safetensors"))
    start_of_sft, start_of_grpo = watch.initial
    assert all(torch.equal(start_of_grpo[k], v) for k, v in sft_final.items())  # GRPO starts where SFT ended
    assert any(not torch.equal(start_of_sft[k], v) for k, v in sft_final.items())  # and SFT did move the weights
    assert result.final_checkpoint == tmp_path / "seq" / "grpo" / "final"


def test_alternating_interleaves_as_configured_with_one_optimizer(base, tmp_path):
    recipe = load_recipe("tiny/alternating")
    assert (recipe["alternating"]["k_sft"], recipe["alternating"]["k_grpo"]) == (2, 1)
    recipe["model_path"] = str(base)
    del recipe["model"], recipe["tiny"]
    recipe["grpo"].update(max_steps=6, max_completion_length=8, save_steps=4)
    funcs = {"format_reward": answer_tag, "task_reward": answer_tag, "length_reward": brevity,
             "logic_reward": answer_tag}
    sft_rows, grpo_rows = toy_rows(6, seed=0, size=SIZE), toy_rows(4, seed=6, size=SIZE, with_completion=False)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(validate(recipe), tmp_path, sft_rows, grpo_rows, reward_funcs=funcs, callbacks=[Crash(at=5)])
    watch = Watch()
    result = run_recipe(recipe, tmp_path, sft_rows, grpo_rows, reward_funcs=funcs, callbacks=[watch])
    expected = ["sft", "sft", "grpo", "sft", "sft", "grpo"]
    assert schedule(6, 2, 1) == expected and result.phases == expected
    steps = _train_entries(result)
    assert [(e["step"], e["phase"]) for e in steps] == list(enumerate(expected, start=1))
    assert watch.starts == [4]  # the rerun resumed from checkpoint-4
    for e in steps:
        has_rewards = "rewards/length_reward/mean" in e
        assert has_rewards == (e["phase"] == "grpo") and ("sft/loss" in e) == (e["phase"] == "sft")
    assert len(set(watch.optimizers)) == len(set(watch.models)) == 1  # one optimizer, one model, both phases
    assert len({round(e["learning_rate"], 12) for e in steps}) == len(steps)  # one LR schedule, decaying throughout


def mixed_rows(n: int, seed: int = 0, with_completion: bool = True) -> list[dict]:
    """Toy rows shaped like real release rows: 2, 3 or 4 images (extra views appended with their
    own "Image k:" labels), question text and completion of a different length in each row."""
    rows = []
    for i in range(n):
        row = toy_rows(1, seed=seed + i, size=SIZE, with_completion=with_completion)[0]
        content = row["prompt"][0]["content"]
        extra = i % 3  # 0, 1 or 2 more images: 2, 3, 4 in all
        first, second = row["images"]
        for k in range(extra):
            content.insert(-1, {"type": "text", "text": f"\nImage {3 + k}: "})
            content.insert(-1, {"type": "image"})
            row["images"].append((second if k % 2 == 0 else first).rotate(180))
        content[-1] = {"type": "text", "text": "\n" + "Look closely at every view. " * (i + 1) + content[-1]["text"]}
        if with_completion:  # a think block of its own length, marked as the model's own (context, not target)
            done = row["completion"][0]["content"]
            row["completion"][0]["content"] = done.replace("</think>", "and it stays so. " * i + "\n</think>")
            row["rationale_source"] = "model"
        rows.append(row)
    return rows


def _check_image_marks(model, seen: list):
    """A pre-hook on the Qwen-VL backbone: in every forward, each row's ``mm_token_type_ids`` must
    mark exactly its image tokens (the positions Qwen-VL's M-RoPE index is built from)."""
    image_id = model.config.image_token_id

    def hook(module, args, kwargs):
        ids, marks, mask = kwargs["input_ids"], kwargs.get("mm_token_type_ids"), kwargs.get("attention_mask")
        if marks is None or mask is None or ids is None or ids.shape != mask.shape:  # cached decoding steps
            return
        for b in range(ids.shape[0]):
            keep = mask[b].bool()
            assert ((ids[b][keep] == image_id).int() == marks[b][keep]).all(), f"row {b}: image marks misaligned"
        seen.append(tuple(ids.shape))

    return model.model.register_forward_pre_hook(hook, with_kwargs=True)


def test_alternating_and_sft_train_on_rows_with_mixed_image_counts_and_lengths(base, tmp_path):
    """Regression: GRPO (alone or in the alternating schedule) crashed on real rows with
    "shape mismatch: value tensor of shape [3, N] cannot be broadcast to indexing result of shape
    [3, M]" in Qwen-VL's get_rope_index, because trl re-tokenized the prompts for the image-token
    marks with the processor's right padding while padding the prompt ids on the left."""
    import torch

    rows = mixed_rows(6)
    assert [len(r["images"]) for r in rows] == [2, 3, 4, 2, 3, 4]
    model, processor = load(base)
    assert processor.tokenizer.padding_side == "right"  # the setting that used to break GRPO batches
    batch = AnswerSpanCollator(processor)(rows)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["mm_token_type_ids"].shape
    image_id = model.config.image_token_id
    merge = model.config.vision_config.spatial_merge_size ** 2
    tokens_per_image = (batch["image_grid_thw"].prod(-1) // merge).tolist()
    counts = iter(tokens_per_image)
    for i, r in enumerate(rows):  # each row holds exactly its own images' tokens, marked as image tokens
        expected = sum(next(counts) for _ in r["images"])
        assert int((batch["input_ids"][i] == image_id).sum()) == int((batch["mm_token_type_ids"][i] == 1).sum()) == expected
    assert len(set(batch["attention_mask"].sum(-1).tolist())) == len(rows)  # all lengths differ

    seen = []
    handle = _check_image_marks(model, seen)
    try:
        result = alternating(model, rows, mixed_rows(6, seed=10, with_completion=False), tmp_path / "alt",
                             processor=processor, k_sft=1, k_grpo=1, reward_funcs=[answer_tag, brevity],
                             sft_batch_size=3, args=dict(GRPO_TINY, max_steps=4, beta=0.01))
    finally:
        handle.remove()
    assert result.phases == ["sft", "grpo", "sft", "grpo"]
    steps = _train_entries(result)
    assert [e["phase"] for e in steps] == result.phases and all(torch.isfinite(torch.tensor(e["loss"])) for e in steps)
    assert all("rewards/answer_tag/mean" in e for e in steps if e["phase"] == "grpo")
    assert len(seen) > 4  # the hook saw SFT and GRPO forward passes
    assert processor.tokenizer.padding_side == "right"  # restored after training

    result = sft(base, rows, tmp_path / "sft", args=dict(max_steps=2, per_device_train_batch_size=3, learning_rate=1e-2))
    assert [e["step"] for e in _train_entries(result)] == [1, 2]
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in _train_entries(result))


def test_shipped_recipes_validate_and_typos_fail():
    names = available()
    assert {f"{family}/{m}" for family in ("tiny", "qwen3-vl-4b-thinking")
            for m in ("sft", "grpo", "sft_grpo", "alternating")} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert ("model_path" in recipe) != ("model" in recipe)
    big = load_recipe("qwen3-vl-4b-thinking/grpo")
    assert (big["grpo"]["num_generations"], big["grpo"]["per_device_train_batch_size"], big["grpo"]["beta"]) == (4, 16, 0.01)
    assert big["precision"] == "bf16-lora" and big["lora"]["r"] == 64 and big["grpo"]["activation_checkpointing"]
    assert (big["grpo"]["max_completion_length"], big["grpo"]["mask_truncated_completions"], big["grpo"]["loss_type"]) == (
        2048, True, "dapo")
    assert big["reward_options"]["length_reward"]["target_tokens"] == 1024 and big["eval"]["max_new_tokens"] >= 2048
    tiny = load_recipe("tiny/sft")
    with pytest.raises(RecipeError, match="dtype: is replaced by precision:"):
        validate({**tiny, "dtype": "float32"})
    with pytest.raises(RecipeError, match="precision bf16-lora trains LoRA adapters and needs a lora: section"):
        validate({**tiny, "precision": "bf16-lora"})
    with pytest.raises(RecipeError, match=r"sft: sets \['bf16'\]; the precision policy \(fp32\) decides autocast"):
        validate({**tiny, "sft": {**tiny["sft"], "bf16": True}})
    with pytest.raises(RecipeError, match="reward_options: 'task_reward' takes no options"):
        validate({**big, "reward_options": {"task_reward": {"x": 1}}}, check_trainer_args=False)
    with pytest.raises(RecipeError, match=r"unknown key\(s\) \['lerning_rate'\] in .*: sft"):
        validate({**tiny, "sft": {**tiny["sft"], "lerning_rate": 1e-3}})
    with pytest.raises(RecipeError, match=r"unknown key\(s\) \['epochs'\]"):
        validate({**tiny, "epochs": 3})
    with pytest.raises(RecipeError, match="exactly one of model"):
        validate({**tiny, "model_path": "/models/x"})
    with pytest.raises(RecipeError, match="needs section"):
        validate({"method": "grpo", "model": "tiny", "grpo": {}})
    with pytest.raises(RecipeError, match="no recipe 'tiny/nope'"):
        load_recipe("tiny/nope")
