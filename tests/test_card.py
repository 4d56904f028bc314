"""The release's Hugging Face dataset card (remot_pipeline.core.card): ``datasets.load_dataset(release)``
works with no ``data_files``, per config and split; the card is checksummed by the manifest and
deterministic (no timestamp), so the release's bytes and id do not depend on when it was built."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from remot_pipeline.core import card as card_core
from remot_pipeline.core import release as rel


def _release(small_release: Path) -> Path:
    return (small_release / "releases" / rel.read_latest(small_release / "releases")).resolve()


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_small_release_has_a_card_listed_and_checksummed_by_its_manifest(small_release):
    path = _release(small_release)
    manifest = json.loads((path / "manifest.json").read_text())
    assert (path / "README.md").is_file()
    assert manifest["card"]["path"] == "README.md"
    assert rel.verify_release(path) == []
    assert all(f["path"].endswith(".parquet") for f in manifest["files"])  # the card is not a part
    meta = _front_matter((path / "README.md").read_text())
    assert meta["license"] == "other"
    assert [c["config_name"] for c in meta["configs"]][0] == "questions" and meta["configs"][0]["default"] is True
    assert manifest["release_id"] in (path / "README.md").read_text()
    # Deterministic: the card is a function of the manifest alone (no timestamp, no local path).
    without = {k: v for k, v in manifest.items() if k != "card"}
    assert card_core.dataset_card(without, card_core.split_bytes(path, without)) == (path / "README.md").read_text()
    assert str(small_release) not in (path / "README.md").read_text()


def test_load_dataset_on_the_release_folder_default_and_every_config(small_release, tmp_path):
    import datasets
    path = _release(small_release)
    manifest = json.loads((path / "manifest.json").read_text())
    meta = _front_matter((path / "README.md").read_text())
    cache = str(tmp_path / "hf_cache")

    default = datasets.load_dataset(str(path), cache_dir=cache)
    questions_rows = {s: sum(f["rows"] for f in manifest["files"] if f["table"] == "questions" and f["split"] == s)
                      for s in ("train", "test")}
    assert {s: default[s].num_rows for s in default} == {s: n for s, n in questions_rows.items() if n}
    assert set(default["train"].column_names) >= {"question_id", "prompt", "answer", "parse_rule", "image_roles"}

    with_rows = [t for t in card_core.TABLES if manifest["rows"][t]]
    assert [c["config_name"] for c in meta["configs"]] == with_rows  # datasets cannot read an empty file
    for c in meta["configs"]:
        name = c["config_name"]
        ds = datasets.load_dataset(str(path), name, cache_dir=cache)
        assert set(ds) == {d["split"] for d in c["data_files"]}, name
        assert sum(ds[s].num_rows for s in ds) == manifest["rows"][name], name
        if name == "triplets":
            split = next(iter(ds))
            assert ds[split].features["anchor_image"] == datasets.Image()
            assert ds[split][0]["anchor_image"].size[0] > 0  # the inline JPEG decodes to PIL
        # The card's features are what `datasets` itself derives from the contract's schema.
        info = next(i for i in meta["dataset_info"] if i["config_name"] == name)
        assert {sp["name"]: sp["num_examples"] for sp in info["splits"]} == {s: ds[s].num_rows for s in ds}
        from data_contracts import contract

        assert info["features"] == datasets.Features.from_arrow_schema(contract(name).schema())._to_yaml_list()


def test_verify_flags_an_altered_or_missing_card(small_release, tmp_path):
    copy = tmp_path / "releases" / _release(small_release).name
    shutil.copytree(_release(small_release), copy)
    assert rel.verify_release(copy) == []
    (copy / "README.md").write_text((copy / "README.md").read_text() + "\nedited\n")
    assert any("README.md: sha256 mismatch" in p for p in rel.verify_release(copy))
    (copy / "README.md").unlink()
    assert any("README.md: missing" in p for p in rel.verify_release(copy))


def test_card_lists_only_present_splits_and_names_the_configured_license():
    manifest = {"release_id": "r1", "contract_version": "3.1.0", "config": {"license": "cc-by-4.0"},
                "rows": {"questions": 3, "triplets": 0, "episodes": 1, "quarantine": 0},
                "files": [{"path": "questions/navigation/train/part-00000.parquet", "table": "questions",
                           "domain": "navigation", "split": "train", "rows": 2, "sha256": "x"},
                          {"path": "questions/simulation/train/part-00000.parquet", "table": "questions",
                           "domain": "simulation", "split": "train", "rows": 1, "sha256": "y"},
                          {"path": "episodes/part-00000.parquet", "table": "episodes", "rows": 1, "sha256": "z"},
                          {"path": "quarantine/part-00000.parquet", "table": "quarantine", "rows": 0, "sha256": "w"}]}
    text = card_core.dataset_card(manifest)
    meta = _front_matter(text)
    assert meta["license"] == "cc-by-4.0"
    assert [c["config_name"] for c in meta["configs"]] == ["questions", "episodes"]  # no rows, no config
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "questions/*/train/*.parquet"}]
    assert "splits" not in meta["dataset_info"][0]  # sizes come from the files (split_bytes)
    sized = card_core.front_matter(manifest, {"questions": {"train": 10}, "episodes": {"full": 5}})
    assert sized["dataset_info"][0]["splits"] == [{"name": "train", "num_bytes": 10, "num_examples": 3}]
    assert meta["configs"][1]["data_files"] == [{"split": card_core.WHOLE_SPLIT, "path": "episodes/*.parquet"}]
    assert text == card_core.dataset_card(json.loads(json.dumps(manifest)))


def test_an_unknown_arrow_type_is_a_one_line_error():
    with pytest.raises(card_core.CardError, match="no dataset-card feature"):
        card_core.features(pa.schema([("t", pa.timestamp("ns"))]))
