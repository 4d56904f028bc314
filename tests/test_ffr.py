"""FFR (teacher-guided, chosen-rollout GRPO) on the tiny model, on CPU: real generation, real
teacher (metadata), trl's own loss inputs.

Two students: the untrained tiny model, whose repairs are never right, and a *patch-reading*
student, the tiny model fine-tuned (SFT, seconds) to answer "false" to the toy question and
"true" when the teacher's evidence is appended to it; on rows whose answer is "true" its rollouts
fail and its repairs succeed, so a correct repair exists to be swapped in."""

from __future__ import annotations

import json

import pytest
import torch

from remot_train.data import sft_completion
from remot_train.model import build_tiny_model
from remot_train.recipes import RecipeError, load_recipe, resolve_rewards, run_recipe, validate
from remot_train.rewards import format_reward, task_reward
from remot_train.rir import make_rir_reward
from remot_train.teacher import EvidencePatch, MetadataTeacher
from remot_train.trainers import sft
from remot_train.trainers.ffr import (
    REQUIRED_METHODS,
    TRLVersionError,
    check_trl,
    choose,
    ffr,
    make_teacher,
    recipe_rewards,
    rir_in_place_of_task,
    row_sample,
    release_sample_lookup,
    swap_in,
    with_observation,
    worst,
)
from remot_train.trainers.toy import toy_rows

SIZE = 32
ARGS = dict(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, learning_rate=1e-3,
            max_steps=1, seed=0)
#: The student's answer "</think>\n\n<answer>true</answer>" is 9 tokens in the small vocabulary.
ARGS_STUDENT = {**ARGS, "max_completion_length": 16}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", seed=0, image_size=SIZE)


@pytest.fixture(scope="module")
def rows():
    return toy_rows(4, seed=0, size=SIZE, with_completion=False)


def _sft_row(prompt: list[dict], images: list, answer: str) -> dict:
    """An SFT row for a prompt whose content may embed images (the patch's crops), as placeholders."""
    content, imgs = [], list(images)
    for part in prompt[0]["content"]:
        if part.get("type") == "image" and "image" in part:
            imgs.append(part["image"])
            content.append({"type": "image"})
        else:
            content.append(part)
    return {"prompt": [{**prompt[0], "content": content}], "images": imgs, "completion": sft_completion(answer)}


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """The patch-reading student (module doc): the tiny model (small vocabulary, for speed) after
    40 SFT steps on 8 toy prompts, each as it is ("false") and with the metadata teacher's
    evidence appended as FFR appends it ("true")."""
    root = tmp_path_factory.mktemp("student")
    base = build_tiny_model(root / "base", seed=0, image_size=SIZE, tokenizer="small")
    teacher = make_teacher("metadata", crop_size=SIZE)
    data = []
    for r in toy_rows(8, seed=0, size=SIZE, with_completion=False):
        patch = teacher.review(row_sample(r), ["x"]).patch
        data.append(_sft_row(r["prompt"], r["images"], "false"))
        data.append(_sft_row(with_observation(r["prompt"], patch.as_observation()), r["images"], "true"))
    result = sft(base, data, root / "sft", args=dict(per_device_train_batch_size=4, max_steps=40, learning_rate=1e-2,
                                                      lr_scheduler_type="constant", seed=0, save_strategy="no"))
    return result.final_checkpoint


@pytest.fixture(scope="module")
def true_rows():
    """Toy rows whose answer is "true": the student's rollouts are wrong, its repairs right."""
    return [{**r, "answer": "true"} for r in toy_rows(4, seed=0, size=SIZE, with_completion=False)]


def capturing():
    """An FFRTrainer that keeps each batch trl built for the loss, and FFR's group reports."""
    from remot_train.trainers.ffr import FFRTrainer

    class Capture(FFRTrainer):
        batches: list = []
        reports: list = []

        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            Capture.batches.append(out)
            Capture.reports.append(list(self.ffr_last))
            return out

    Capture.batches, Capture.reports = [], []
    return Capture


class Spy:
    """A reward that records the columns it is called with and returns ``value(assisted)``."""

    def __init__(self, name, value):
        self.__name__ = name
        self.value = value
        self.calls: list[dict] = []

    def __call__(self, prompts, completions, completion_ids=None, **columns):
        self.calls.append({"completions": completions, "completion_ids": completion_ids, **columns})
        return [self.value(a) for a in columns["assisted"]]


def _steps(result):
    return [e for e in result.log_history if "loss" in e]


# --- pure parts --------------------------------------------------------------------------------------
def test_choice_takes_the_best_correct_candidate_then_unassisted_and_replaces_the_worst():
    T, F = True, False
    assert choose([0.0, 1.0, 1.0], [F, T, F], [T, T, T]) == 2  # tie: the unassisted one
    assert choose([0.0, 1.0, 1.0], [F, F, T], [T, T, T]) == 1
    assert choose([0.0, 0.0, 0.5, 0.3], [F, F, T, T], [F, F, T, T]) == 2  # a strictly better correct repair wins
    assert choose([0.2, 0.2 - 1e-9], [F, T], [T, T]) == 0
    # a wrong repair is never chosen, whatever its reward (format, length): no swap at all
    assert choose([0.0, 0.0, 9.0, 8.0], [F, F, T, T], [F, F, F, F]) is None
    assert choose([0.0, 0.0, 9.0, 0.5], [F, F, T, T], [F, F, F, T]) == 3
    assert choose([0.4, 0.0, 9.0], [F, F, T], [None, F, None]) is None  # unjudgeable is not correct
    assert choose([0.9, 0.2], [F, T], [T, T]) == 0  # a correct rollout of the group beats a correct repair
    assert worst([0.4, -1.0, 0.0]) == 1
    assert worst([0.4, -1.0, 0.0], [F, T, F]) == 2  # the worst *wrong* rollout is replaced
    with pytest.raises(ValueError):
        choose([1.0], [False, True], [True])


def test_swap_puts_the_repair_in_and_drops_its_patched_prompt_sampling_logprobs():
    ids, texts, flags = [[1, 2, 3], [4, 5]], ["a", "b"], [False, False]
    logprobs = [[-0.1, -0.2, -0.3], [-0.4, -0.5]]
    swap_in(0, ids, texts, logprobs, flags, [9, 9], "repair")
    assert ids == [[9, 9], [4, 5]] and texts == ["repair", "b"] and flags == [True, False]
    assert len(logprobs[0]) == 2 and all(torch.isnan(torch.tensor(logprobs[0]))) and logprobs[1] == [-0.4, -0.5]
    swap_in(1, ids, texts, None, flags, [7], "r2")  # no sampling logprobs (transformers generation)
    assert ids[1] == [7] and flags == [True, True]


def test_rir_takes_the_task_rewards_place_and_weight():
    rir = make_rir_reward()
    funcs, weights = rir_in_place_of_task([format_reward, task_reward], [3.5, 3.5], rir)
    assert funcs == [format_reward, rir] and weights == [3.5, 3.5]
    funcs, weights = rir_in_place_of_task([format_reward], [2.0], rir)  # no task reward: appended at 1
    assert funcs == [format_reward, rir] and weights == [2.0, 1.0]
    assert rir_in_place_of_task([rir, format_reward], [3.5, 1.0], make_rir_reward())[0][0] is rir
    with pytest.raises(ValueError, match="counted twice"):
        rir_in_place_of_task([task_reward, rir], [1.0, 1.0], make_rir_reward())


@pytest.mark.parametrize("name", ["tiny/ffr", "cpu-demo/ffr", "qwen3-vl-4b-thinking/ffr"])
def test_the_ffr_recipes_train_the_rir_in_place_of_the_task_reward(name):
    recipe = load_recipe(name)
    funcs, weights = resolve_rewards(recipe)
    accuracy = weights[[f.__name__ for f in funcs].index("task_reward")]
    funcs, weights = recipe_rewards(recipe, funcs, weights)
    names = [f.__name__ for f in funcs]
    assert "task_reward" not in names and names.count("rir") == 1
    expected = {("rir" if k == "task_reward" else k): float(v) for k, v in recipe["rewards"].items()}
    assert dict(zip(names, weights)) == expected and expected["rir"] == accuracy == 3.5
    # kappa is on the outcome's scale: an assisted right answer earns 1 - kappa of the accuracy weight
    rir = funcs[names.index("rir")]
    out = rir(completions=["</think><answer>true</answer>"] * 2, answer=["true"] * 2, parse_rule=["true_false"] * 2,
              assisted=[True, False])
    assert out == [pytest.approx(1 - recipe["ffr"]["kappa"]), 1.0]
    assert recipe["ffr"].get("alignment_weight", 0.0) == 0.0  # alignment off in the shipped recipes


def test_observation_is_appended_and_the_question_kept(rows):
    prompt = rows[0]["prompt"]
    patch = EvidencePatch("spatial", [1, 2], "Compare the horizontal position.", regions=[(1, 0.1, 0.1, 0.5, 0.5)],
                          crops=["CROP"])
    out = with_observation(prompt, patch.as_observation())
    assert out[0]["content"][: len(prompt[0]["content"])] == prompt[0]["content"]
    added = out[0]["content"][len(prompt[0]["content"]):]
    assert added[0]["text"].startswith("\nTeacher evidence.") and added[-1] == {"type": "image", "image": "CROP"}
    assert len(prompt[0]["content"]) == 5  # the input is untouched


def test_default_sample_gives_the_teacher_the_images(rows):
    s = row_sample(rows[0])
    assert s["image_roles"] == ["anchor", "positive"] and s["positive_image"] is rows[0]["images"][1]
    assert MetadataTeacher().patch(s, ["\n\n"]) is not None


@pytest.mark.slow
def test_release_lookup_merges_question_and_triplet(small_release):
    from remot_train.data import question_table

    q = question_table(small_release, split="test", limit=1).to_pylist()[0]
    sample = release_sample_lookup(small_release)({"question_id": q["question_id"], "answer": q["answer"],
                                                    "images": ["small"]})
    assert sample["negative_value"] == q["negative_value"] and sample["image_roles"] == q["image_roles"]
    assert sample["triplet_id"] == q["triplet_id"] and "images" not in sample
    assert sample["anchor_image"]["bytes"][:2] == b"\xff\xd8"  # the triplet's JPEG, merged in
    with pytest.raises(KeyError):
        release_sample_lookup(small_release)({"question_id": "nope"})


# --- the trl pin ------------------------------------------------------------------------------------
def test_trl_version_and_signature_guard(monkeypatch, base):
    import trl

    check_trl()  # the installed trl passes
    assert trl.__version__.startswith("1.16")
    with pytest.raises(TRLVersionError, match=r"trl 1\.16\.x; found trl 1\.17\.0"):
        check_trl("1.17.0")
    with pytest.raises(TRLVersionError, match="found trl 1.1"):
        check_trl("1.1")

    class Renamed(trl.GRPOTrainer):
        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, n, has_tool_images=False):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, n, has_tool_images)

    with pytest.raises(TRLVersionError, match=r"_generate_single_turn.*expected parameters"):
        check_trl(trainer_cls=Renamed)

    class Gone:
        pass

    for name in REQUIRED_METHODS:
        setattr(Gone, name, getattr(trl.GRPOTrainer, name))
    delattr(Gone, "_tokenize_prompts")
    with pytest.raises(TRLVersionError, match="_tokenize_prompts is missing"):
        check_trl(trainer_cls=Gone)
    # the trainer checks at construction, before any model work
    monkeypatch.setattr(trl, "__version__", "1.17.2")
    with pytest.raises(TRLVersionError, match="1.17.2"):
        ffr(base, toy_rows(2, size=SIZE, with_completion=False), base.parent / "never", reward_funcs=[],
            args=ARGS)


# --- the trainer path ------------------------------------------------------------------------------
def test_a_correct_repair_is_swapped_in_and_trained_on_its_own_tokens(student, true_rows, tmp_path):
    # The patch-reading student answers "false" (wrong) without the patch and "true" (right) with it:
    # every group fails, is patched, and a correct repair replaces the group's worst rollout.
    cls = capturing()
    kappa = 0.3
    result = ffr(student, true_rows, tmp_path / "ffr", reward_funcs=[format_reward, task_reward],
                 reward_weights=[1.0, 3.5], kappa=kappa, repairs=2, args=ARGS_STUDENT, trainer_cls=cls)
    batch, reports = cls.batches[0], cls.reports[0]
    assert [r.status for r in reports] == ["patch", "patch"]  # 4 prompts x 2 rollouts / 4 per batch = 2 groups
    swapped = [r for r in reports if r.swapped_slot is not None]
    assert swapped, "the patch-reading student produced no correct repair"
    for r in reports:
        patch = EvidencePatch.from_json(r.patch)  # a real, guarded metadata patch
        assert patch.frames == [1, 2] and len(r.rewards) == len(r.correct) == 2 + 2
        assert r.correct[:2] == [False, False]  # the group failed: that is why it was patched
        # swapped exactly when a repair is right, and then the chosen one is right and assisted
        assert (r.swapped_slot is not None) == any(r.correct[2:]) and r.repairs_correct == sum(r.correct[2:])
    for r in swapped:
        assert r.chosen >= 2 and r.correct[r.chosen] is True and r.swapped_slot in r.slots
        s = r.swapped_slot
        # RIR in place of the task reward, at its weight: right + assisted = 3.5 x (1 - kappa), + format
        assert r.rewards[r.chosen] == pytest.approx(3.5 * (1 - kappa) + 1.0)
        assert r.reward_gap == pytest.approx(r.rewards[r.chosen] - r.rewards[r.slots.index(s)]) and r.reward_gap > 0
        ids, mask = batch["completion_ids"][s], batch["completion_mask"][s]
        trained = ids[mask.bool()].tolist()
        # the loss mask holds exactly the chosen repair's tokens at the swapped slot ...
        assert trained == r.chosen_ids and trained != r.replaced_ids
        # ... under the original prompt: the same prompt tokens as its group-mate, not the patched prompt
        other = next(i for i in r.slots if i != s)
        prompt = batch["prompt_ids"][s][batch["prompt_mask"][s].bool()].tolist()
        assert prompt == batch["prompt_ids"][other][batch["prompt_mask"][other].bool()].tolist()
        assert prompt != r.patched_prompt_ids and len(r.patched_prompt_ids) > len(prompt)
        # advantages were computed by trl after the swap: the swapped slot is its group's best
        adv = batch["advantages"].tolist()
        assert adv[s] > 0 > adv[other]
    # logged per step, through trl's metrics: swaps, repair success and the reward gap
    step = _steps(result)[0]
    assert step["ffr/intervention_rate"] == 1.0 and step["ffr/trigger_rate"] == 1.0
    assert step["ffr/swaps"] == len(swapped) and step["ffr/repairs"] == 4 and step["ffr/leak_drops"] == 0
    assert step["ffr/repair_success"] == pytest.approx(sum(r.repairs_correct for r in reports) / 4)
    assert step["ffr/reward_gap"] == pytest.approx(sum(r.reward_gap for r in swapped) / len(swapped))
    assert "rewards/task_reward/mean" not in step  # the RIR replaced it
    assert step["rewards/rir/mean"] == pytest.approx(len(swapped) * (1 - kappa) / 4, abs=1e-6)
    stats = json.loads((tmp_path / "ffr" / "ffr_stats.json").read_text())
    assert stats["totals"]["swaps"] == len(swapped) and stats["reward_weights"] == {"format_reward": 1.0, "rir": 3.5}


def test_no_swap_when_every_repair_is_wrong(base, rows, tmp_path):
    # The untrained model never answers correctly. ``prefer`` pays 1 for a rollout generated with the
    # patch, so every repair out-scores its group (1 - kappa > 0): a wrong repair with the better
    # reward is still not swapped in. Numeric threshold: a group fails when its best reward is < 0.5.
    prefer = Spy("prefer", lambda a: 1.0 if a else 0.0)
    cls = capturing()
    result = ffr(base, rows, tmp_path / "wrong", reward_funcs=[prefer], kappa=0.3, repairs=2, threshold=0.5,
                 args=ARGS, trainer_cls=cls)
    reports = cls.reports[0]
    assert [r.status for r in reports] == ["patch", "patch"]
    for r in reports:
        assert r.correct == [False] * 4 and r.repairs_correct == 0
        assert max(r.rewards[2:]) > max(r.rewards[:2])  # the repairs had the higher reward ...
        assert r.chosen is None and r.swapped_slot is None and r.reward_gap is None  # ... and were not chosen
    final = prefer.calls[-1]
    assert not any(final["assisted"])  # nothing assisted reached trl's rewards
    assert all(final["patch"][i] == reports[i // 2].patch for i in range(4))  # the groups' patches did
    step = _steps(result)[0]
    assert step["ffr/intervention_rate"] == 1.0 and step["ffr/swaps"] == 0 and step["ffr/repairs"] == 4
    assert step["ffr/repair_success"] == 0.0 and step["ffr/reward_gap"] is None
    stats = json.loads((tmp_path / "wrong" / "ffr_stats.json").read_text())
    assert stats["teacher"]["patches"] == 2 and stats["totals"]["swaps"] == 0


class LeakyTeacher:
    """A planted teacher whose patch states the answer."""

    def __init__(self):
        self.calls = 0

    def patch(self, sample, failed_rollouts):
        self.calls += 1
        return EvidencePatch("spatial", [1, 2], f"Look at image 2: the answer is {sample['answer']}.")


def test_a_leaking_patch_is_dropped_inside_the_trainer(base, rows, tmp_path):
    prefer = Spy("prefer", lambda a: 1.0 if a else 0.0)
    cls = capturing()
    leaky = LeakyTeacher()
    result = ffr(base, rows, tmp_path / "leak", reward_funcs=[prefer], teacher=leaky, args=ARGS, trainer_cls=cls)
    reports = cls.reports[0]
    assert leaky.calls == 2 and [r.status for r in reports] == ["leak", "leak"]
    assert all("verdict phrase" in r.reason and r.patch is None and r.swapped_slot is None for r in reports)
    final = prefer.calls[-1]
    assert not any(final["assisted"]) and final["patch"] == [None] * 4  # no patch reached the student
    step = _steps(result)[0]
    assert step["ffr/leak_drops"] == 2 and step["ffr/intervention_rate"] == 0.0 and step["ffr/trigger_rate"] == 1.0
    assert step["ffr/swaps"] == 0 and step["ffr/repairs"] == 0 and step["ffr/repair_success"] is None
    stats = json.loads((tmp_path / "leak" / "ffr_stats.json").read_text())
    assert stats["teacher"] == {"calls": 2, "patches": 0, "fallbacks": 0, "leak_drops": 2}


def test_groups_that_pass_are_left_alone(base, rows, tmp_path):
    cls = capturing()
    result = ffr(base, rows, tmp_path / "pass", reward_funcs=[Spy("flat", lambda a: 0.0)], threshold=-1.0,
                 args=ARGS, trainer_cls=cls)
    assert [r.status for r in cls.reports[0]] == ["ok", "ok"]
    step = _steps(result)[0]
    assert step["ffr/trigger_rate"] == 0.0 and step["ffr/leak_drops"] == 0


# --- recipes -----------------------------------------------------------------------------------------
def test_ffr_recipes_validate_and_run(base, rows, tmp_path):
    for name in ("tiny/ffr", "cpu-demo/ffr", "qwen3-vl-4b-thinking/ffr"):
        recipe = load_recipe(name)
        assert recipe["method"] == "ffr" and recipe["ffr"]["kappa"] == 0.3 and recipe["ffr"]["repairs"] == 2
    assert load_recipe("cpu-demo/ffr")["grpo"]["max_steps"] == 20
    tiny = load_recipe("tiny/ffr")
    with pytest.raises(RecipeError, match=r"unknown key\(s\) \['kapa'\] in .*ffr"):
        validate({**tiny, "ffr": {"kapa": 0.3}})
    with pytest.raises(RecipeError, match="teacher must be"):
        validate({**tiny, "ffr": {"teacher": "oracle"}})
    with pytest.raises(RecipeError, match="needs section"):
        validate({k: v for k, v in tiny.items() if k != "ffr"})
    with pytest.raises(RecipeError, match="rir_weight is gone"):
        validate({**tiny, "ffr": {"rir_weight": 1.0}})
    with pytest.raises(RecipeError, match="needs task_reward"):
        validate({**tiny, "rewards": {"format_reward": 3.5}})
    recipe = {**tiny, "model_path": str(base), "grpo": {**tiny["grpo"], "max_steps": 1, "max_completion_length": 8,
                                                        "beta": 0.0}}
    del recipe["model"], recipe["tiny"]
    result = run_recipe(validate(recipe), tmp_path, grpo_rows=rows)
    step = _steps(result)[0]
    assert step["phase"] == "ffr" and step["ffr/trigger_rate"] == 1.0 and step["ffr/intervention_rate"] == 1.0
    for name in ("format_reward", "length_reward", "logic_reward", "rir"):
        assert f"rewards/{name}/mean" in step
    assert "rewards/task_reward/mean" not in step  # the RIR took its place ...
    stats = json.loads((tmp_path / "ffr" / "ffr_stats.json").read_text())
    assert stats["reward_weights"] == {"format_reward": 3.5, "rir": 3.5, "length_reward": 1.3, "logic_reward": 1.7}
    assert (result.final_checkpoint / "model.safetensors").is_file()
    assert torch.isfinite(torch.tensor(step["loss"]))
