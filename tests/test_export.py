"""Exports of a release for other trainers (remot_pipeline.export), read back with ``datasets``' own
loaders: verl / EasyR1 parquet, LLaVA json and LLaMA-Factory ShareGPT json (with its
dataset_info.json); and the verl / EasyR1 reward functions (remot_train.rewards.verl) that wrap
remot's scoring."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from remot_pipeline import export as ex
from remot_pipeline.core import release as rel
from remot_train import scoring
from remot_train.data import ReleaseNotFound, sft_completion
from remot_train.rewards.verl import compute_score, compute_score_easyr1, ground_truth_spec


@pytest.fixture(scope="module")
def release(small_release) -> Path:
    return (small_release / "releases" / rel.read_latest(small_release / "releases")).resolve()


@pytest.fixture(scope="module")
def truth(release) -> dict[str, dict[str, dict]]:
    """The release's questions, ``{split: {question_id: row}}``, read from its Parquet parts."""
    manifest = json.loads((release / "manifest.json").read_text())
    out: dict[str, dict[str, dict]] = {"train": {}, "test": {}}
    for f in manifest["files"]:
        if f["table"] == "questions":
            for r in pq.read_table(release / f["path"]).to_pylist():
                out[r["split"]][r["question_id"]] = r
    assert out["train"] and out["test"]
    return out


@pytest.fixture(scope="module")
def exports(release, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("exports")
    for fmt in ex.FORMATS:
        ex.export(release, base / fmt, fmt)
    return {fmt: base / fmt for fmt in ex.FORMATS}


def _wrong(row: dict) -> str:
    """A valid answer that is wrong for ``row``, under its parse rule."""
    rule, answer, options = row["parse_rule"], row["answer"], list(row["options"] or [])
    if rule == "choice_letter":
        return next(chr(ord("A") + i) for i in range(len(options)) if chr(ord("A") + i) != answer.strip().upper())
    if rule == "true_false":
        return "false" if scoring.parse_true_false(answer) == "true" else "true"
    if rule == "categorical":
        return next(o for o in options if o.strip().lower() != answer.strip().lower())
    value = float(re.match(r"\s*(-?[\d.]+)", answer).group(1))
    unit = answer[re.match(r"\s*(-?[\d.]+)", answer).end():].strip()
    return f"{(abs(value) + 1) * 10:g} {unit}".strip()


def _completion(answer: str) -> str:
    return sft_completion(answer)[0]["content"]


def _one_per_rule(rows) -> dict[str, dict]:
    out = {}
    for r in rows:
        out.setdefault(r["extra_info"]["parse_rule"], r)
    return out


def test_verl_parquet_reads_back_with_datasets_and_matches_the_release(exports, truth, release, tmp_path):
    rid = json.loads((release / "manifest.json").read_text())["release_id"]
    for split in ("train", "test"):
        path = exports["verl"] / f"{split}.parquet"
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))
        assert ds.num_rows == len(truth[split])
        assert {"data_source", "prompt", "images", "ability", "reward_model", "extra_info"} <= set(ds.column_names)
        assert ds.features["images"] in (datasets.Sequence(datasets.Image()), datasets.List(datasets.Image()))
        rows = ds.select_columns(["prompt", "reward_model", "extra_info", "answer", "problem", "data_source"])
        for i, row in enumerate(rows):
            q = truth[split][row["extra_info"]["question_id"]]
            assert row["data_source"] == ex.DATA_SOURCE
            assert row["prompt"] == [{"role": "user", "content": q["prompt"]}]
            assert row["reward_model"] == {"style": "rule", "ground_truth": q["answer"]}  # the release's answer
            info = row["extra_info"]
            assert (info["index"], info["split"], info["release_id"]) == (i, split, rid)
            assert info["parse_rule"] == q["parse_rule"] and info["tolerance"] == q["tolerance"]
            assert info["options"] == (None if q["options"] is None else list(q["options"]))
            assert info["triplet_id"] == q["triplet_id"]
            assert row["problem"] == q["prompt"]
            assert json.loads(row["answer"])["answer"] == q["answer"]
        # Images: one per <image> placeholder, in order, and they decode (checked on a sample).
        lengths = [len(x) for x in pq.read_table(path, columns=["images"]).column("images").to_pylist()]
        prompts = [p[0]["content"] for p in rows["prompt"]]
        assert lengths == [p.count("<image>") for p in prompts] and min(lengths) >= 2
        first = ds[0]["images"]
        assert len(first) == lengths[0] and all(im.size[0] > 0 for im in first)
    listed = json.loads((exports["verl"] / ex.EXPORT_MANIFEST).read_text())
    assert listed["release_id"] == rid and listed["rows"] == {s: len(truth[s]) for s in ("train", "test")}


def test_compute_score_is_1_on_the_right_answer_and_0_on_a_wrong_one_for_each_parse_rule(exports, truth):
    table = pq.read_table(exports["verl"] / "train.parquet", columns=["data_source", "reward_model", "extra_info",
                                                                       "answer"]).to_pylist()
    by_rule = _one_per_rule(table)
    present = {r["parse_rule"] for r in truth["train"].values()}
    assert set(by_rule) == present and {"choice_letter", "true_false"} <= present
    for rule, row in by_rule.items():
        q = truth["train"][row["extra_info"]["question_id"]]
        gt, info = row["reward_model"]["ground_truth"], row["extra_info"]
        assert compute_score(row["data_source"], _completion(q["answer"]), gt, info) == 1.0, rule
        assert compute_score(row["data_source"], _completion(_wrong(q)), gt, info) == 0.0, (rule, _wrong(q))
        assert compute_score(row["data_source"], "no answer tags", gt, info) == 0.0
        # EasyR1: the `answer` column (a JSON spec) is the whole ground truth; no extra_info.
        right = {"response": _completion(q["answer"]), "response_length": 9, "ground_truth": row["answer"]}
        wrong = {**right, "response": _completion(_wrong(q))}
        assert compute_score_easyr1([right, wrong]) == [{"overall": 1.0, "format": 1.0, "accuracy": 1.0},
                                                        {"overall": 0.0, "format": 1.0, "accuracy": 0.0}], rule
        assert compute_score_easyr1(right, format_weight=0.5)["overall"] == 1.0  # sequential
        assert compute_score("remot", _completion(q["answer"]), row["answer"]) == 1.0  # verl without extra_info


def test_reward_without_a_parse_rule_is_a_one_line_error():
    with pytest.raises(ValueError, match="without a parse_rule") as err:
        compute_score("remot", "<answer>A</answer>", "A", None)
    assert "\n" not in str(err.value)
    assert ground_truth_spec("24 deg", "number_mra") == \
        '{"answer": "24 deg", "options": null, "parse_rule": "number_mra", "tolerance": null}'


def _check_chat(records, truth_split, out: Path, fmt: str, rationale: bool = False):
    assert len(records) == len(truth_split)
    for r in records:
        meta = r["meta"]
        q = truth_split[meta["question_id"]]
        assert meta["answer"] == q["answer"] and meta["parse_rule"] == q["parse_rule"]
        if fmt == "llava":
            assert r["id"] == q["question_id"]
            images, (human, gpt) = r["image"], r["conversations"]
            assert (human["from"], gpt["from"]) == ("human", "gpt")
            prompt, completion = human["value"], gpt["value"]
        else:
            images, (user, assistant) = r["images"], r["messages"]
            assert (user["role"], assistant["role"]) == ("user", "assistant")
            prompt, completion = user["content"], assistant["content"]
        assert prompt == q["prompt"] and prompt.count("<image>") == len(images) >= 2
        assert completion == _completion(q["answer"]) if not rationale else \
            completion == sft_completion(q["answer"], q["rationale"])[0]["content"]
        assert scoring.score(completion, q["answer"], q["parse_rule"], q["options"], q["tolerance"]).correct
        assert all((out / p).is_file() and not Path(p).is_absolute() for p in images)


def test_llava_json_reads_back_with_datasets_and_its_images_exist(exports, truth, tmp_path):
    from PIL import Image

    out = exports["llava"]
    for split in ("train", "test"):
        ds = datasets.load_dataset("json", data_files=str(out / f"{split}.json"), split="train",
                                   cache_dir=str(tmp_path / "c"))
        assert ds.num_rows == len(truth[split])
        _check_chat(ds.to_list(), truth[split], out, "llava")
    first = json.loads((out / "train.json").read_text())[0]
    assert Image.open(out / first["image"][0]).size[0] > 0
    named = {p for split in ("train", "test") for r in json.loads((out / f"{split}.json").read_text()) for p in r["image"]}
    on_disk = {p.relative_to(out).as_posix() for p in (out / "images").rglob("*") if p.is_file()}
    assert named == on_disk  # one file per distinct image, each named by a record
    assert len(named) < sum(len(t) for t in truth.values()) * 2  # shared images are written once


def test_sharegpt_json_and_dataset_info_read_back(exports, truth, tmp_path):
    out = exports["sharegpt"]
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"remot_train", "remot_test"}
    for split in ("train", "test"):
        entry = info[f"remot_{split}"]
        assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages", "images": "images"}
        assert entry["tags"]["user_tag"] == "user" and entry["tags"]["assistant_tag"] == "assistant"
        ds = datasets.load_dataset("json", data_files=str(out / entry["file_name"]), split="train",
                                   cache_dir=str(tmp_path / "c"))
        _check_chat(ds.to_list(), truth[split], out, "sharegpt")


def test_split_jsonl_and_rationale_options(release, truth, tmp_path):
    out = tmp_path / "sg"
    summary = ex.export(release, out, "sharegpt", splits=["test"], jsonl=True, rationale=True)
    assert summary["rows"] == {"test": len(truth["test"])}
    assert sorted(p.name for p in out.iterdir()) == ["dataset_info.json", "export.json", "images", "test.jsonl"]
    records = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    _check_chat(records, truth["test"], out, "sharegpt", rationale=True)
    assert json.loads((out / "dataset_info.json").read_text())["remot_test"]["file_name"] == "test.jsonl"


def test_errors_are_one_line_and_out_is_replaced_only_with_overwrite(release, small_release, tmp_path, capsys):
    out = tmp_path / "v"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ex.ExportError, match="already exists; pass --overwrite"):
        ex.export(release, out, "verl", splits=["test"])
    assert (out / "keep.txt").read_text() == "mine"  # untouched
    ex.export(release, out, "verl", splits=["test"], overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "test.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left

    with pytest.raises(ex.ExportError, match="unknown export format 'csv'"):
        ex.export(release, tmp_path / "x", "csv")
    with pytest.raises(ex.ExportError, match="apply to llava and sharegpt only"):
        ex.export(release, tmp_path / "x", "verl", jsonl=True)
    with pytest.raises(ex.ExportError, match="unknown split 'val'"):
        ex.export(release, tmp_path / "x", "verl", splits=["val"])
    with pytest.raises(ReleaseNotFound):
        ex.export(tmp_path / "nowhere", tmp_path / "x", "verl")
    with pytest.raises(ex.ExportError, match="inside release"):
        ex.export(small_release, release / "exports", "verl")
    assert rel.verify_release(release) == []  # nothing was written into the release
    assert not (tmp_path / "x").exists()

    for argv, want in ((["--to", "csv", str(release), str(tmp_path / "x")], "unknown export format"),
                       (["--to", "verl", str(tmp_path / "nowhere"), str(tmp_path / "x")], "no release"),
                       (["--to", "verl", str(release), str(out)], "already exists")):
        assert ex.main(argv) == 1
        err = capsys.readouterr().err
        assert want in err and err.count("\n") == 1, err

    assert ex.main(["--to", "llava", str(small_release), str(tmp_path / "l"), "--split", "test"]) == 0
    assert "exported release" in capsys.readouterr().out
    assert (tmp_path / "l" / "test.json").is_file() and not (tmp_path / "l" / "train.json").exists()
