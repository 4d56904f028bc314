"""FFR (teacher-guided, chosen-rollout GRPO) on the tiny model, on CPU: real generation, real
teacher (metadata), trl's own loss inputs."""

from __future__ import annotations

import json

import pytest
import torch

from remot_train.model import build_tiny_model
from remot_train.recipes import RecipeError, load_recipe, run_recipe, validate
from remot_train.rir import make_rir_reward
from remot_train.teacher import EvidencePatch, MetadataTeacher
from remot_train.trainers.ffr import (
    REQUIRED_METHODS,
    TRLVersionError,
    check_trl,
    choose,
    ffr,
    row_sample,
    release_sample_lookup,
    with_observation,
    worst,
)
from remot_train.trainers.toy import toy_rows

SIZE = 32
ARGS = dict(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, learning_rate=1e-3,
            max_steps=1, seed=0)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", seed=0, image_size=SIZE)


@pytest.fixture(scope="module")
def rows():
    return toy_rows(4, seed=0, size=SIZE, with_completion=False)


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
def test_choice_prefers_the_best_then_unassisted_and_replaces_the_worst():
    assert choose([0.0, 1.0, 1.0], [False, True, False]) == 2  # tie: the unassisted one
    assert choose([0.0, 1.0, 1.0], [False, False, True]) == 1
    assert choose([0.0, 0.0, 0.5, 0.3], [False, False, True, True]) == 2  # a strictly better repair wins
    assert choose([0.2, 0.2 - 1e-9], [False, True]) == 0
    assert worst([0.4, -1.0, 0.0]) == 1
    with pytest.raises(ValueError):
        choose([1.0], [False, True])


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
def test_failed_group_is_patched_repaired_and_the_repair_trained_on_its_own_tokens(base, rows, tmp_path):
    # The untrained model never answers correctly, so every group fails and is patched. ``prefer``
    # pays 1 for a rollout generated with the patch (assisted), so a repair beats the group and
    # replaces its worst rollout (all of which are worth 0).
    prefer = Spy("prefer", lambda a: 1.0 if a else 0.0)
    cls = capturing()
    kappa = 0.3
    result = ffr(base, rows, tmp_path / "ffr", reward_funcs=[prefer], kappa=kappa, repairs=2, args=ARGS,
                 trainer_cls=cls)
    batch, reports = cls.batches[0], cls.reports[0]
    assert [r.status for r in reports] == ["patch", "patch"]  # 4 prompts x 2 rollouts / 4 per batch = 2 groups
    for r in reports:
        patch = EvidencePatch.from_json(r.patch)  # a real, guarded metadata patch
        assert patch.frames == [1, 2] and r.chosen >= 2 and r.swapped_slot in r.slots
        assert len(r.rewards) == 2 + 2 and r.rewards[r.chosen] == pytest.approx(1.0 - kappa)
        s = r.swapped_slot
        ids, mask = batch["completion_ids"][s], batch["completion_mask"][s]
        trained = ids[mask.bool()].tolist()
        # the loss mask holds exactly the chosen repair's tokens at the swapped slot ...
        assert trained == r.chosen_ids and trained != r.replaced_ids
        # ... under the original prompt: the same prompt tokens as its group-mate, not the patched prompt
        other = next(i for i in r.slots if i != s)
        prompt = batch["prompt_ids"][s][batch["prompt_mask"][s].bool()].tolist()
        assert prompt == batch["prompt_ids"][other][batch["prompt_mask"][other].bool()].tolist()
        assert prompt != r.patched_prompt_ids and len(r.patched_prompt_ids) > len(prompt)
        # the failed rollout's tokens left the batch
        assert all(batch["completion_ids"][i][batch["completion_mask"][i].bool()].tolist() != r.replaced_ids
                   for i in range(len(batch["completion_ids"])))
    # advantages were computed by trl after the swap: the swapped slot is its group's best
    adv = batch["advantages"].tolist()
    for r in reports:
        other = next(i for i in r.slots if i != r.swapped_slot)
        assert adv[r.swapped_slot] > 0 > adv[other]
    # the reward functions trl called saw assisted + the group's patch for every completion
    final = prefer.calls[-1]
    swapped = {r.swapped_slot for r in reports}
    assert [bool(a) for a in final["assisted"]] == [i in swapped for i in range(4)]
    assert all(final["patch"][i] == reports[i // 2].patch for i in range(4))
    assert [final["completion_ids"][r.swapped_slot] for r in reports] == [r.chosen_ids for r in reports]
    # kappa: RIR of an assisted rollout is kappa below the same completion unassisted
    rir = make_rir_reward(kappa)
    cols = {k: final[k] for k in ("answer", "parse_rule", "options", "tolerance", "patch")}
    as_is = rir(completions=final["completions"], assisted=final["assisted"], **cols)
    unassisted = rir(completions=final["completions"], assisted=[False] * 4, **cols)
    for i in range(4):
        assert as_is[i] == pytest.approx(unassisted[i] - (kappa if i in swapped else 0.0))
    # logged per step, through trl's metrics
    step = _steps(result)[0]
    assert step["ffr/intervention_rate"] == 1.0 and step["ffr/trigger_rate"] == 1.0
    assert step["ffr/swaps"] == 2 and step["ffr/repairs"] == 4 and step["ffr/leak_drops"] == 0
    assert step["ffr/repair_success"] == 0.0  # no repair of the untrained model is correct
    assert step["rewards/rir/mean"] == pytest.approx(-kappa * 2 / 4, abs=1e-6)
    stats = json.loads((tmp_path / "ffr" / "ffr_stats.json").read_text())
    assert stats["teacher"]["patches"] == 2 and stats["totals"]["swaps"] == 2


def test_ties_keep_the_unassisted_rollouts(base, rows, tmp_path):
    # Every candidate scores the same (0, and kappa 0): the choice is an unassisted rollout, so the
    # groups are patched and repaired but nothing is swapped. Numeric threshold: best reward < 0.5.
    flat = Spy("flat", lambda a: 0.0)
    cls = capturing()
    result = ffr(base, rows, tmp_path / "tie", reward_funcs=[flat], kappa=0.0, threshold=0.5, args=ARGS,
                 trainer_cls=cls)
    reports = cls.reports[0]
    assert [r.status for r in reports] == ["patch", "patch"]
    assert all(r.chosen < 2 and r.swapped_slot is None for r in reports)
    assert all(r.rewards == [0.0] * 4 for r in reports)
    assert not any(flat.calls[-1]["assisted"])
    step = _steps(result)[0]
    assert step["ffr/intervention_rate"] == 1.0 and step["ffr/swaps"] == 0 and step["ffr/repairs"] == 4


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
    recipe = {**tiny, "model_path": str(base), "grpo": {**tiny["grpo"], "max_steps": 1, "max_completion_length": 8,
                                                        "beta": 0.0}}
    del recipe["model"], recipe["tiny"]
    result = run_recipe(validate(recipe), tmp_path, grpo_rows=rows)
    step = _steps(result)[0]
    assert step["phase"] == "ffr" and step["ffr/trigger_rate"] == 1.0 and step["ffr/intervention_rate"] == 1.0
    for name in ("format_reward", "task_reward", "length_reward", "logic_reward", "rir"):
        assert f"rewards/{name}/mean" in step
    assert (result.final_checkpoint / "model.safetensors").is_file()
    assert torch.isfinite(torch.tensor(step["loss"]))
