"""The whole graph, materialized in process into a tmp data root, and what it produces."""

import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pyarrow.parquet as pq
import pytest

from remot_pipeline import definitions
from remot_pipeline.core.catalog import EXAMPLE_QUERIES
from remot_pipeline.core.catalog import connect as catalog_connect
from remot_pipeline.core.release import latest_release, verify_release
from remot_pipeline.defs.resources import RemotConfig, RemotPaths, SyntheticWorldConfig
from remot_pipeline.defs.store import StageIOManager, StageStore
from tests.conftest import SMALL, small_config

pytestmark = pytest.mark.slow
DOMAINS = ["navigation", "manipulation", "simulation"]


def materialize(data_root: Path, sources_file: str | None = None, synthetic: bool = True, instance=None, **cfg):
    config = small_config(synthetic, **cfg)
    resources = {"config": config, "paths": RemotPaths(data_root=str(data_root), sources_file=sources_file),
                 "io_manager": StageIOManager(root=str(data_root / "stages"))}
    instance = instance or dg.DagsterInstance.ephemeral()
    return dg.materialize(definitions.DATA_ASSETS, resources=resources, instance=instance,
                          tags=definitions.ALL_DOMAINS_TAGS, raise_on_error=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    result = materialize(root)
    return root, result


def test_definitions_load():
    dg.Definitions.validate_loadable(definitions.defs)
    job = definitions.defs.resolve_job_def("build_release")
    # the multiprocess executor by default; `execution: {config: {in_process: {}}}` selects one process
    assert job.executor_def.name == "multi_or_in_process_executor"
    celery = definitions.defs.resolve_job_def("build_release_celery")
    assert celery.executor_def.name == "celery" and set(celery.asset_layer.executable_asset_keys) == \
        set(job.asset_layer.executable_asset_keys)


def test_run_succeeds_and_every_blocking_check_passes(run):
    _, result = run
    assert result.success
    evals = result.get_asset_check_evaluations()
    names = {e.check_name for e in evals}
    for asset in ("episode_frames", "motion_pairs", "positive_pairs", "frame_features", "negatives", "triplets", "questions"):
        assert {f"{asset}__contract", f"{asset}__rows_balance", f"{asset}__partition_non_empty"} <= names
    assert {"release__split_disjoint", "release__manifest_verified", "release__partitions_non_empty",
            "release__bench_disjoint"} <= names
    failed = [e.check_name for e in evals if not e.passed]
    assert not failed


def test_release_layout_manifest_and_latest(run):
    root, result = run
    rel = latest_release(root / "releases")
    assert rel is not None and verify_release(rel) == []
    # The stored `release` value names the folder relative to the root (it stays right after a move).
    (mat,) = [m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey("release")]
    key = mat.materialization.metadata["stage_keys"].value["_"]
    assert StageStore(root / "stages").read("release", None, key) == {
        "release_id": rel.name, "path": f"releases/{rel.name}", "published": True}
    manifest = json.loads((rel / "manifest.json").read_text())
    assert manifest["release_id"] == rel.name
    for d in DOMAINS:
        for s in ("train", "test"):
            assert (rel / "triplets" / d / s / "part-00000.parquet").is_file()
            assert (rel / "questions" / d / s / "part-00000.parquet").is_file()
    assert (rel / "quarantine" / "part-00000.parquet").is_file()
    # manifest was written last: no data file is newer than it
    newest = max(p.stat().st_mtime_ns for p in rel.rglob("*.parquet"))
    assert (rel / "manifest.json").stat().st_mtime_ns >= newest
    img = pq.read_table(rel / "triplets" / "navigation" / "train" / "part-00000.parquet").column("anchor_image")[0].as_py()
    assert set(img) == {"bytes", "path"} and img["bytes"][:2] == b"\xff\xd8"


def test_duckdb_catalog_example_queries(run):
    root, _ = run
    con = catalog_connect(root)
    results = {name: con.execute(sql).fetchall() for name, sql in EXAMPLE_QUERIES.items()}
    assert {r[0] for r in results["triplets by domain and attribute"]} == set(DOMAINS)
    assert results["questions joined to their triplets"]
    n_tri = con.execute("SELECT count(*) FROM triplets").fetchone()[0]
    n_q = con.execute("SELECT count(*) FROM questions").fetchone()[0]
    assert n_q == 3 * n_tri > 0
    both = con.execute("SELECT episode_id FROM triplets GROUP BY 1 HAVING count(DISTINCT split) > 1").fetchall()
    assert both == []


def test_every_answer_is_traceable_to_the_metadata(run):
    """Join each question to the motion pair it asserts and recompute its answer from the label.

    A mirrored pair (``<pair_id>|hflip``) is traced to its source pair's motion, mirrored and
    relabelled by the labeller."""
    from remot_pipeline.core.labels import label_pairs
    from remot_pipeline.core.negatives import mirror_motion
    from remot_pipeline.core.questions import _BLANK, numeric_answer, phrase

    root, _ = run
    store = StageStore(root / "stages")
    rel = latest_release(root / "releases")

    def read(asset, d):  # the stage outputs LATEST was built from
        return store.of_release(rel, asset, d)

    for d in DOMAINS:
        lab = pl.from_arrow(read("positive_pairs", d).table).select("pair_id", "attribute", "value")
        motion = read("motion_pairs", d).table
        q = pl.from_arrow(read("questions", d).table)
        t = pl.from_arrow(read("triplets", d).table.drop(
            ["anchor_image", "positive_image", "negative_anchor_image", "negative_image", "positive_motion", "negative_motion"]))
        mirrored_ids = [i for i in q["asserted_pair_id"].unique().to_list() if i.endswith("|hflip")]
        if mirrored_ids:
            base = motion.filter(pa.compute.is_in(motion.column("pair_id"), pa.array([i[:-6] for i in mirrored_ids])))
            relabelled = pl.from_arrow(label_pairs(mirror_motion(base), d).table).select(
                (pl.col("pair_id") + "|hflip").alias("pair_id"), "attribute", "value")
            lab = pl.concat([lab, relabelled])
        joined = q.join(lab, left_on=["asserted_pair_id", "attribute"], right_on=["pair_id", "attribute"], how="left")
        assert joined.height == q.height
        assert joined["value"].null_count() == 0, "every asserted pair is a labelled (or mirrored and relabelled) pair"
        tf = joined.filter(pl.col("question_type") == "true_false").join(t.select("triplet_id", "object_color"), on="triplet_id")
        for row in tf.iter_rows(named=True):
            said_true = phrase(row["attribute"], row["value"], row["object_color"]) in row["prompt"]
            assert said_true == (row["answer"] == "true")
        # A blank's word is the asserted pair's label; a number is its magnitude; a comparison
        # names the pair whose magnitude is larger (or smaller).
        mags = t.select("triplet_id", "positive_pair_id", "negative_pair_id", "positive_magnitude", "negative_magnitude")
        both = joined.join(mags, on="triplet_id")
        for row in both.filter(pl.col("question_type") == "fill_blank").iter_rows(named=True):
            if row["parse_rule"] == "categorical":
                assert _BLANK[row["attribute"]][1][row["value"]] == row["answer"]
            else:
                side = "positive" if row["asserted_pair_id"] == row["positive_pair_id"] else "negative"
                assert row["answer"] == numeric_answer(row["attribute"], row[f"{side}_magnitude"])
                assert row["parse_rule"] == "number_mra" and row["tolerance"] is None
        for row in both.filter(pl.col("question_type") == "comparative").iter_rows(named=True):
            pos_is_a = row["image_roles"][1] == "positive"
            pos_larger = abs(row["positive_magnitude"]) > abs(row["negative_magnitude"])
            pos_answers = pos_larger == ("larger" in row["prompt"])
            assert row["answer"] == ("A" if pos_answers == pos_is_a else "B")
        assert set(q["question_type"].unique()) == {"multiple_choice", "true_false", "fill_blank", "comparative"}
        # Negatives never share the positive's value, and each kind has its shape.
        assert (t["negative_value"] != t["positive_value"]).all()
        rev = t.filter(pl.col("negative_kind") == "temporal_reversal")
        assert (rev["negative_anchor_frame_index"] == rev["positive_frame_index"]).all()
        assert (rev["negative_frame_index"] == rev["anchor_frame_index"]).all()
        mir = t.filter(pl.col("negative_kind") == "mirror")
        assert (mir["negative_transform"] == "hflip").all() and (mir["negative_frame_index"] == mir["positive_frame_index"]).all()
        directional = t.filter((pl.col("attribute") != "phase") & ~pl.col("positive_value").is_in(["holding"])
                               & ~pl.col("negative_value").is_in(["holding"]))
        assert (np.sign(directional["positive_magnitude"].to_numpy()) == -np.sign(directional["negative_magnitude"].to_numpy())).all()
        assert set(t["negative_kind"].unique()) == {"temporal_reversal", "mirror", "retrieval"}


def test_reversed_and_mirrored_negatives_are_exactly_the_negated_motion(run):
    root, _ = run
    con = catalog_connect(root)
    rows = con.execute("""
        SELECT negative_kind, positive_motion.cam_rotvec_a_rad, negative_motion.cam_rotvec_a_rad,
               positive_motion.yaw_left_deg, negative_motion.yaw_left_deg
        FROM triplets WHERE domain = 'navigation' AND negative_kind IN ('temporal_reversal', 'mirror')""").fetchall()
    kinds = {r[0] for r in rows}
    assert kinds == {"temporal_reversal", "mirror"}
    for kind, pos_rv, neg_rv, pos_yaw, neg_yaw in rows:
        expected = -np.asarray(pos_rv) if kind == "temporal_reversal" else np.asarray(pos_rv) * [1, -1, -1]
        np.testing.assert_allclose(neg_rv, expected, atol=1e-12)
        assert neg_yaw == pytest.approx(-pos_yaw, abs=1e-9)


def test_answers_are_balanced(run):
    root, _ = run
    con = catalog_connect(root)
    (share_true,) = con.execute("SELECT avg((answer = 'true')::INT) FROM questions WHERE question_type = 'true_false'").fetchone()
    (share_a,) = con.execute("SELECT avg((answer = 'A')::INT) FROM questions WHERE parse_rule = 'choice_letter'").fetchone()
    assert 0.4 < share_true < 0.6 and 0.4 < share_a < 0.6


def test_second_run_gives_the_same_release_and_writes_nothing(run):
    root, first = run
    rel = latest_release(root / "releases")
    before = {p: p.stat().st_mtime_ns for p in rel.rglob("*")}
    second = materialize(root)
    mats = [m for m in second.get_asset_materialization_events() if m.asset_key == dg.AssetKey("release")]
    md = mats[0].materialization.metadata
    assert md["release_id"].value == rel.name and md["written"].value is False
    assert {p: p.stat().st_mtime_ns for p in rel.rglob("*")} == before
    assert sorted(p.name for p in (root / "releases").iterdir() if not p.name.startswith(".")) == sorted([rel.name, "LATEST"])


def test_fresh_world_gives_the_same_release_id(run, tmp_path):
    root, _ = run
    materialize(tmp_path)
    assert latest_release(tmp_path / "releases").name == latest_release(root / "releases").name


def test_corrupt_files_in_a_declared_source_are_quarantined_and_the_run_succeeds(small_world, tmp_path):
    from tests.test_sources import corrupt_tum

    import shutil

    nav = corrupt_tum(small_world, tmp_path)
    # nan_and_dupes is a (partly broken) copy of healthy_1: keeping both would put the same frames
    # in train and test, which release__bench_disjoint rightly refuses.
    shutil.rmtree(nav / "healthy_1")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: user_nav, domain: navigation, format: tum, path: {nav}}}\n"
        f"  - {{name: user_arm, domain: manipulation, format: lerobot_v3, path: {small_world / 'manipulation'}}}\n"
        f"  - {{name: user_sim, domain: simulation, format: remot_sim_jsonl, path: {small_world / 'simulation'}}}\n"
    )
    result = materialize(tmp_path / "data", sources_file=str(sources), synthetic=False)
    assert result.success
    con = catalog_connect(tmp_path / "data")
    reasons = dict(con.execute("SELECT reason_code, count(*) FROM quarantine GROUP BY 1").fetchall())
    assert {"nan_pose", "video_unreadable", "path_escapes_root"} <= set(reasons)
    eps = {r[0] for r in con.execute("SELECT DISTINCT episode_id FROM triplets WHERE domain = 'navigation'").fetchall()}
    assert eps and all(e.startswith(("user_nav/healthy_", "user_nav/nan_and_dupes")) for e in eps)


def test_hugging_face_datasets_reads_the_release_as_pil_images(run):
    import datasets
    root, _ = run
    rel = latest_release(root / "releases")
    files = sorted(str(p) for p in (rel / "triplets").rglob("*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    row = ds[0]
    from PIL import Image

    assert isinstance(row["anchor_image"], Image.Image) and row["anchor_image"].size[0] > 0
    assert row["positive_value"] != row["negative_value"]


def test_drop_folder_is_detected_by_the_sensor_and_ingested(small_world, tmp_path):
    import shutil

    from remot_pipeline.defs.sensors import make_drop_folder_sensor

    root = tmp_path / "data"
    instance = dg.DagsterInstance.ephemeral()  # one instance: the second run reads the first's other domains
    materialize(root, instance=instance)
    sensor = make_drop_folder_sensor(definitions.build_release)
    paths = RemotPaths(data_root=str(root))
    ctx = dg.build_sensor_context(resources={"paths": paths}, instance=dg.DagsterInstance.ephemeral())
    assert isinstance(sensor(ctx), dg.SkipReason)
    shutil.copytree(small_world / "navigation", root / "raw" / "navigation" / "my_walks")  # format detected: tum
    ctx = dg.build_sensor_context(resources={"paths": paths}, cursor=ctx.cursor, instance=dg.DagsterInstance.ephemeral())
    (request,) = sensor(ctx)
    assert request.partition_key == "navigation"
    assert isinstance(sensor(dg.build_sensor_context(resources={"paths": paths}, cursor=ctx.cursor)), dg.SkipReason)
    config = small_config()
    result = dg.materialize(definitions.DATA_ASSETS, partition_key=request.partition_key, instance=instance,
                            resources={"config": config, "paths": paths, "io_manager": StageIOManager(root=str(root / "stages"))})
    assert result.success
    con = catalog_connect(root)
    eps = {r[0] for r in con.execute("SELECT episode_id FROM episodes WHERE domain = 'navigation'").fetchall()}
    assert any(e.startswith("raw_my_walks/") for e in eps) and any(e.startswith("synthetic_navigation/") for e in eps)
    assert con.execute("SELECT count(DISTINCT domain) FROM triplets").fetchone()[0] == 3


def test_undetectable_drop_folder_fails_with_one_line(tmp_path):
    from remot_pipeline.sources import READERS, SourceError
    from remot_pipeline.sources.dropfolder import drop_folder_sources

    (tmp_path / "navigation" / "mystery").mkdir(parents=True)
    (tmp_path / "navigation" / "mystery" / "poses.bin").write_bytes(b"\0")
    with pytest.raises(SourceError, match=r"mystery: cannot tell the dataset's format; add remot_source.yaml"):
        drop_folder_sources(tmp_path, "navigation", set(READERS))


def test_labels_agree_with_optical_flow_on_the_synthetic_world(run):
    """Every checked label's direction, against flow accumulated over the frames between the pair."""
    from remot_pipeline.core.flowcheck import domain_agreement

    root, result = run
    store = StageStore(root / "stages")
    rel = latest_release(root / "releases")

    def read(asset, d):  # the stage outputs LATEST was built from
        return store.of_release(rel, asset, d)

    per = {}
    for d in DOMAINS:
        rows = domain_agreement(read("triplets", d).table, read("episode_frames", d).table,
                                read("episodes", d), max_episodes=99, data_root=root)
        for r in rows:
            c = per.setdefault((d, r["attribute"]), [0, 0])
            c[0] += r["checked"]
            c[1] += r["agreed"]
    rates = {k: ok / n for k, (n, ok) in per.items()}
    assert {("navigation", "yaw"), ("simulation", "camera_yaw"), ("simulation", "object_lateral"),
            ("manipulation", "ee_lateral")} <= set(rates)
    assert min(rates.values()) >= 0.95, rates
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "triplets__label_flow_agreement"]
    assert check.passed


def test_triplet_motion_structs_carry_the_labelled_magnitudes(run):
    root, _ = run
    con = catalog_connect(root)
    rows = con.execute("""
        SELECT positive_magnitude, positive_motion.yaw_left_deg, negative_magnitude, negative_motion.yaw_left_deg
        FROM triplets WHERE attribute = 'yaw'""").fetchall()
    assert rows
    for pm, py, nm, ny in rows:
        assert pm == pytest.approx(py) and nm == pytest.approx(ny)
    (n_null,) = con.execute("SELECT count(*) FROM triplets WHERE positive_motion IS NULL OR negative_motion IS NULL").fetchone()
    assert n_null == 0


def test_retrieved_negatives_are_more_similar_than_random_frames(run):
    from remot_pipeline.core.negatives import retrieval_vs_random

    root, _ = run
    store = StageStore(root / "stages")
    rel = latest_release(root / "releases")

    def read(asset, d):  # the stage outputs LATEST was built from
        return store.of_release(rel, asset, d)

    for d in DOMAINS:
        retrieved, random_ = retrieval_vs_random(read("negatives", d).table, read("frame_features", d).table)
        assert len(retrieved) > 10 and retrieved.mean() > random_.mean(), (d, retrieved.mean(), random_.mean())


def _chance(rule: str, options: list, answer: str, tolerance: float | None, attribute: str) -> float:
    """Expected score of a uniform random answer: 1/k for a choice, and for a number (uniform over
    the attribute's magnitude band, in the answer's unit) its expected mean relative accuracy:
    the mean over thresholds theta of the band's share within (1 - theta) of the truth."""
    from remot_pipeline.core.labels import DEFAULT_BANDS
    from remot_pipeline.core.questions import _FAMILY, _NUMBER
    from remot_train.scoring import MRA_THRESHOLDS

    if rule != "number_mra":
        return 1 / len(options)
    lo, hi = DEFAULT_BANDS[_FAMILY[attribute]]
    scale = _NUMBER[_FAMILY[attribute]][2]
    truth = float(answer.split()[0])
    lo, hi = lo * scale, hi * scale
    return float(np.mean([max(0.0, min(hi, truth * (2 - th)) - max(lo, truth * th)) / (hi - lo) for th in MRA_THRESHOLDS]))


def _guess(rng, rule, options, answer, attribute):
    from remot_pipeline.core.labels import DEFAULT_BANDS
    from remot_pipeline.core.questions import _FAMILY, _NUMBER

    if rule == "choice_letter":
        return str(rng.choice(["A", "B"]))
    if rule == "number_mra":
        lo, hi = DEFAULT_BANDS[_FAMILY[attribute]]
        return f"{rng.uniform(lo, hi) * _NUMBER[_FAMILY[attribute]][2]:.3f} {answer.split()[1]}"
    return str(rng.choice(options))


def test_an_oracle_reading_the_metadata_scores_every_question_and_chance_does_not(run):
    """Answer every question from the labels alone (through the shared scoring module): 100%
    Overall, Partial and logical consistency. Answering at random scores the analytic chance
    (1/k per choice; the tolerance's share of the band for a number; the product over a
    triplet's questions for Overall), within the 95% intervals."""
    from remot_train.scoring import score, summarize

    root, _ = run
    con = catalog_connect(root)
    rows = con.execute("""SELECT triplet_id, domain, attribute, question_type, answer, parse_rule, options, tolerance,
                                 consistency_group_id, relations FROM questions""").fetchall()
    keys = ("triplet_id", "domain", "attribute", "question_type")
    rng = np.random.default_rng(0)
    oracle, chance, expected = [], [], {}
    for tid, dom, attr, qtype, answer, rule, opts, tol, group, rels in rows:
        base = {**dict(zip(keys, (tid, dom, attr, qtype))), "consistency_group_id": group, "relations": rels}
        s = score(f"<think>from the metadata</think><answer>{answer}</answer>", answer, rule, opts, tol)
        oracle.append({**base, "correct": s.correct, "score": s.score, "format_ok": s.format_ok, "parsed": s.parsed})
        s = score(f"<answer>{_guess(rng, rule, opts, answer, attr)}</answer>", answer, rule, opts, tol)
        chance.append({**base, "correct": s.correct, "score": s.score, "format_ok": s.format_ok, "parsed": s.parsed})
        expected.setdefault(tid, []).append(_chance(rule, opts, answer, tol, attr))
    m = summarize(oracle)
    assert m["overall"]["value"] == 1.0 and m["partial"]["value"] == 1.0 and m["format_failure_rate"]["value"] == 0.0
    assert m["logical_consistency"]["value"] == 1.0 and m["logical_consistency"]["n"] > 0
    assert all(b["overall"]["value"] == 1.0 for b in m["by"]["domain"].values())
    assert set(m["by"]["question_type"]) == {"multiple_choice", "true_false", "fill_blank", "comparative"}
    c = summarize(chance)
    assert c["format_failure_rate"]["value"] == 0.0
    lo, hi = c["partial"]["ci95"]
    assert lo <= np.mean([p for ps in expected.values() for p in ps]) <= hi
    lo, hi = c["overall"]["ci95"]
    assert lo <= np.mean([np.prod(ps) for ps in expected.values()]) <= hi
    lo, hi = c["logical_consistency"]["ci95"]
    assert lo <= 0.5 <= hi  # two independent A/B guesses contradict each other half of the time


def test_bench_is_disjoint_from_train_and_a_planted_near_duplicate_is_caught(run):
    from remot_pipeline.core.bench import disjointness

    root, _ = run
    con = catalog_connect(root)
    triplets, episodes = con.sql("SELECT * FROM triplets").to_arrow_table(), con.sql("SELECT * FROM episodes").to_arrow_table()
    report = disjointness(triplets, episodes)
    assert report["passed"] and report["min_hamming_test_to_train"] > report["near_duplicate_max_bits"]
    # A test triplet whose anchor is a train frame, re-encoded (as a copy in another dataset would be).
    train = triplets.filter(pa.compute.equal(triplets.column("split"), "train")).slice(0, 1).to_pylist()[0]
    test = triplets.filter(pa.compute.equal(triplets.column("split"), "test")).slice(0, 1).to_pylist()[0]
    import cv2

    img = cv2.imdecode(np.frombuffer(train["anchor_image"]["bytes"], np.uint8), cv2.IMREAD_COLOR)
    planted = dict(test, anchor_image={"bytes": cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes(),
                                       "path": "copy.jpg"}, anchor_frame_index=10**6)
    bad = disjointness(pa.concat_tables([triplets, pa.Table.from_pylist([planted], schema=triplets.schema)]), episodes)
    assert not bad["passed"] and len(bad["near_duplicate_frames"]) == 1


def test_remot_train_does_not_import_dagster():
    import subprocess
    import sys

    code = "import sys, remot_train, remot_train.scoring; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_readme_configuration_example_is_valid_run_config():
    import re

    import yaml

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### Configuration"):]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1)
    config = yaml.safe_load(block)
    job = definitions.defs.resolve_job_def("build_release")
    dg.validate_run_config(job, config)
    from remot_pipeline.defs.resources import RemotConfig

    assert RemotConfig(**config["resources"]["config"]["config"]).content_config() == RemotConfig().content_config()


def test_binary_contrast_views_hold_the_positive_pairs_and_their_questions(run):
    root, _ = run
    con = catalog_connect(root)
    (n_tri,) = con.execute("SELECT count(*) FROM triplets").fetchone()
    (n_pairs,) = con.execute("SELECT count(*) FROM binary_pairs").fetchone()
    (n_q,) = con.execute("SELECT count(*) FROM binary_questions").fetchone()
    assert n_pairs == n_tri and n_tri / 2 < n_q <= n_tri  # comparisons need both pairs
    (bad,) = con.execute("""SELECT count(*) FROM binary_questions q JOIN binary_pairs p USING (triplet_id)
                            WHERE q.asserted_pair_id <> p.pair_id
                               OR q.question_type NOT IN ('true_false', 'fill_blank')""").fetchone()
    assert bad == 0


def test_question_text_is_clean_balanced_and_does_not_leak_the_answer(run):
    """Template artefacts on 200-question samples, answer balance, and leakage: a prompt's text
    (images aside) must not predict its answer."""
    import re

    from scipy.stats import chisquare

    from remot_pipeline.core.questions import SCAFFOLD

    root, _ = run
    con = catalog_connect(root)
    rows = con.execute("SELECT prompt, image_roles, answer, question_type FROM questions ORDER BY question_id").fetchall()
    rng = np.random.default_rng(0)
    for _ in range(3):
        sample = [rows[i] for i in rng.choice(len(rows), 200, replace=False)]
        clean = 0
        for prompt, roles, _answer, _qtype in sample:
            text = prompt.removesuffix(SCAFFOLD)
            ok = (prompt.endswith(SCAFFOLD) and prompt.count("<image>") == len(roles)
                  and not re.search(r"  |\{|\}| [.,?]|\.\.|\?\?|\b(a|an) (a|an|the)\b|\bthe the\b", text)
                  and all(line[:1].isupper() for line in text.strip().splitlines()))
            clean += ok
        assert clean / 200 >= 0.95
    mc = [a for _, _, a, t in rows if t == "multiple_choice"]
    assert chisquare([mc.count("A"), mc.count("B")]).pvalue > 0.01
    tf = [a for _, _, a, t in rows if t == "true_false"]
    assert abs(tf.count("true") / len(tf) - 0.5) <= 0.03
    by_prompt = {}
    for prompt, _, answer, _ in rows:
        by_prompt.setdefault(prompt, []).append(answer)
    frequent = {p: a for p, a in by_prompt.items() if len(a) >= 20}
    assert len(frequent) >= 5
    for prompt, answers in frequent.items():  # the same words are asked with either answer
        share = max(answers.count(a) for a in set(answers)) / len(answers)
        assert share <= 0.8, (prompt, len(answers), share)
