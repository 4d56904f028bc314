"""Unit tests for the pure core functions (the doctests cover the smallest ones)."""

import json

import cv2
import math

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from scipy.spatial.transform import Rotation

from data_contracts import conform, empty
from remot_pipeline.core import release as rel
from remot_pipeline.core.features import DESCRIPTOR_DIM, descriptor, encode_jpeg
from remot_pipeline.core.labels import ATTRIBUTES, label, signed_magnitudes
from remot_pipeline.core.ledger import QuarantineLog, StageResult
from remot_pipeline.core.motion import object_motion
from remot_pipeline.core.negatives import build_negatives
from remot_pipeline.core.questions import phrase, triplet_questions
from remot_pipeline.core.triplets import select_balanced


def test_dominance_margin_rejects_a_12_deg_yaw_with_a_9_deg_pitch():
    attrs = ATTRIBUTES["navigation"]
    mags = np.zeros((2, len(attrs)))
    mags[0, 0], mags[0, 1] = 12.0, 9.0  # yaw 12, pitch 9
    mags[1, 0], mags[1, 1] = 12.0, 5.0
    keep, which, ratio, filtered = label(mags, attrs, 1.5)
    assert keep.tolist() == [False, True] and filtered["not_dominant"] == 1
    assert ratio[1] == pytest.approx(12 / 5)


def test_translation_competes_with_rotation_after_normalisation():
    attrs = ATTRIBUTES["navigation"]
    mags = np.zeros((1, len(attrs)))
    mags[0, 0] = 15.0  # yaw 15 deg = 1.5 x its band minimum
    mags[0, 3] = 1.5  # forward 1.5 m = 3 x its band minimum (0.5 m)
    keep, which, _, _ = label(mags, attrs, 1.5)
    assert keep[0] and attrs[which[0]].name == "translation_forward"


def test_signed_magnitudes_read_vector_components_and_nulls():
    attrs = ATTRIBUTES["manipulation"]
    t = pa.table({
        "ee_disp_cam_m": pa.array([[0.1, 0.0, -0.2], None], pa.list_(pa.float64(), 3)),
        "ee_disp_base_m": pa.array([[0.0, 0.0, 0.3], [0.0, 0.0, -0.1]], pa.list_(pa.float64(), 3)),
        "gripper_delta_m": pa.array([0.01, None], pa.float64()),
        "ee_roll_image_cw_deg": pa.array([-15.0, None], pa.float64()),
    })
    m = signed_magnitudes(t, attrs)
    np.testing.assert_allclose(m[0], [0.1, 0.3, -0.2, 0.01, -15.0])
    assert np.isnan(m[1, 0]) and m[1, 1] == -0.1 and np.isnan(m[1, 3]) and np.isnan(m[1, 4])


def test_bands_are_configurable_and_validated():
    from remot_pipeline.core.labels import attributes
    from remot_pipeline.defs.resources import BandsConfig

    yaw = attributes("navigation", BandsConfig(rotation_deg_min=5.0).table())[0]
    assert (yaw.band_min, yaw.band_max, yaw.unit) == (5.0, 50.0, "deg")
    with pytest.raises(ValueError, match="rotation_deg"):
        attributes("navigation", {"rotation_deg": (20.0, 10.0)})


def test_object_motion_removes_camera_ego_motion():
    cams = np.stack([np.eye(4)] * 3)
    cams[1, :3, :3] = Rotation.from_euler("y", 30, degrees=True).as_matrix()  # the camera turns
    cams[1, :3, 3] = [1.0, 0.0, 0.0]
    objs = np.stack([np.eye(4)] * 3)[:, None].repeat(2, axis=1)
    objs[:, 0, :3, 3] = [[0, 0, 5], [0, 0, 5], [0.5, 0, 5]]  # object 0 static, then moves +x
    objs[:, 1, :3, 3] = [0, 0, 8]
    moved, disp, yaw = object_motion(cams, objs, np.array([0, 0]), np.array([1, 2]))
    np.testing.assert_allclose(disp[0], 0.0, atol=1e-12)  # camera moved, object did not
    np.testing.assert_allclose(yaw, 0.0, atol=1e-12)  # nor did it turn (the camera's turn is not the object's)
    assert moved[1] == 0
    np.testing.assert_allclose(disp[1], [0.5, 0, 0], atol=1e-12)


def _yaw_episode(yaw_deg):
    """A frames table for a camera that only turns (yaw left positive), one frame per angle."""
    rows = []
    for i, yaw in enumerate(yaw_deg):
        pose = np.eye(4)
        pose[:3, :3] = Rotation.from_rotvec([0.0, -np.radians(yaw), 0.0]).as_matrix()  # left = -y rotation
        rows.append(dict(episode_id="s/e", domain="navigation", split="train", frame_index=i, timestamp_s=i * 0.1,
                         cam2world=pose.ravel().tolist(), ee_pos_base_m=None, ee_rotvec_base_rad=None,
                         gripper_width_m=None, objects=None, media_path="v.mp4", media_frame_index=i))
    return conform(pa.Table.from_pylist(rows), "frames")


def test_negatives_of_every_kind_have_the_other_value_recomputed():
    from remot_pipeline.core.labels import label_pairs
    from remot_pipeline.core.motion import PairConfig, episode_motion_pairs

    yaw = [0, 5, 10, 15, 20, 25, 30, 25, 20, 15, 10, 5, 0]  # turns left, then back right
    frames = _yaw_episode(yaw)
    motion = episode_motion_pairs(frames, PairConfig(2, 6, 1, 10.0, 1.0)).table
    lab = label_pairs(motion, "navigation").table
    rng = np.random.default_rng(0)
    desc = {i: (v / np.linalg.norm(v)).tolist() for i, v in enumerate(rng.normal(size=(len(yaw), 8)))}
    feats = conform(pa.table({
        "episode_id": ["s/e"] * len(yaw), "domain": ["navigation"] * len(yaw), "frame_index": list(desc),
        "timestamp_s": [i * 0.1 for i in desc], "image": [{"bytes": b"x", "path": "p"}] * len(yaw),
        "descriptor": list(desc.values())}), "frame_features")
    episodes = _episodes(["s/e"], ["train"], ["room"])
    res = build_negatives(lab, motion, feats, episodes, "navigation")
    from remot_pipeline.core.negatives import RETRIEVAL_CANDIDATES, _seed_bit

    assert res.balanced()
    rows = res.table.to_pylist()
    assert {r["negative_kind"] for r in rows if r["attribute"] == "yaw"} == {"temporal_reversal", "mirror", "retrieval"}
    assert {r["attribute"] for r in rows} <= {"yaw", "camera_motion"}
    for r in rows:
        assert r["negative_value"] != r["positive_value"]
        assert np.sign(r["negative_magnitude"]) == -np.sign(r["positive_magnitude"])
        if r["attribute"] != "yaw":
            continue
        if r["negative_kind"] == "temporal_reversal":
            assert (r["negative_anchor_frame_index"], r["negative_frame_index"]) == (r["positive_frame_index"], r["anchor_frame_index"])
            np.testing.assert_allclose(r["negative_motion"]["cam_rotvec_a_rad"], -np.asarray(r["positive_motion"]["cam_rotvec_a_rad"]), atol=1e-12)
        elif r["negative_kind"] == "mirror":
            assert r["negative_transform"] == "hflip" and r["negative_pair_id"] == r["positive_pair_id"] + "|hflip"
            assert r["negative_magnitude"] == pytest.approx(-r["positive_magnitude"], abs=1e-9)
        else:
            # Recomputed independently: the k most similar other-value pairs (at the anchor first when the
            # positive's seeded bit asks for the anchor form), and among them the first whose magnitude is
            # larger and whose view changes more (or both smaller, by the seeded bit) than the positive's,
            # then one whose view change agrees, else the most similar.
            pos = np.asarray(desc[r["positive_frame_index"]])
            others = [x for x in lab.to_pylist() if x["attribute"] == "yaw" and x["value"] != r["positive_value"]]
            for x in others:
                x["sim"] = float(pos @ np.asarray(desc[x["frame_index_b"]]))
            others = [x for x in others if x["sim"] <= 0.98]
            at_anchor = [x for x in others if x["frame_index_a"] == r["anchor_frame_index"]]
            want = bool(_seed_bit(r["positive_pair_id"], "larger"))
            change = lambda a, b: 1.0 - float(np.dot(desc[a], desc[b]))  # noqa: E731
            pos_change = change(r["anchor_frame_index"], r["positive_frame_index"])
            more = lambda x: (change(x["frame_index_a"], x["frame_index_b"]) > pos_change) == want  # noqa: E731
            larger = lambda x: (abs(x["magnitude"]) > abs(r["positive_magnitude"])) == want  # noqa: E731
            bucket = lambda m: math.floor(4 * math.log2(abs(m) + 1e-12))  # noqa: E731
            buckets = lambda x: (bucket(x["magnitude"]), bucket(change(x["frame_index_a"], x["frame_index_b"])))  # noqa: E731
            mine = (bucket(r["positive_magnitude"]), bucket(pos_change))
            beyond = lambda x: all(b > m for b, m in zip(buckets(x), mine)) if want \
                else all(b < m for b, m in zip(buckets(x), mine))  # noqa: E731

            def level(pool):  # strictly larger (smaller) magnitude and view change first, else the k nearest
                strict = [x for x in pool if beyond(x)]
                if strict:
                    return max(strict, key=lambda x: x["sim"])
                top = sorted(pool, key=lambda x: -x["sim"])[:RETRIEVAL_CANDIDATES]
                return next((x for x in top if more(x) and larger(x)), next((x for x in top if more(x)), top[0])) \
                    if top else None

            pick = (level(at_anchor) if _seed_bit(r["positive_pair_id"], "anchor-form") else None) or level(others)
            assert r["negative_similarity"] == pytest.approx(pick["sim"], abs=1e-6)
            chosen = [x for x in others if x["frame_index_a"] == r["negative_anchor_frame_index"]
                      and x["frame_index_b"] == r["negative_frame_index"]]
            assert chosen and chosen[0]["pair_id"] == r["negative_pair_id"]


def _episodes(ids, splits, scenes):
    n = len(ids)
    return conform(pa.table({
        "episode_id": ids, "domain": ["navigation"] * n, "split": splits, "source_name": ["s"] * n,
        "source_format": ["tum"] * n, "source_root": ["/r"] * n, "episode_path": ids, "scene_id": scenes,
        "n_frames": [10] * n, "fps": [10.0] * n, "width_px": [64] * n, "height_px": [48] * n,
        "fx_px": [None] * n, "fy_px": [None] * n, "cx_px": [None] * n, "cy_px": [None] * n,
        "input_sha256": ["x"] * n, "signals": [["camera_pose"]] * n, "metric_scale": [True] * n,
        "note": [None] * n}), "episodes")


def test_retrieval_falls_back_to_the_scene_then_the_domain_and_never_crosses_splits():
    from remot_pipeline.core.labels import label_pairs
    from remot_pipeline.core.motion import PairConfig, episode_motion_pairs
    from remot_pipeline.core.negatives import _retrieved

    def frames_of(eid, split, yaw):
        t = _yaw_episode(yaw)
        return t.set_column(0, "episode_id", pa.array([eid] * t.num_rows)).set_column(2, "split", pa.array([split] * t.num_rows))

    left_only = [0, 15, 30, 45]
    specs = [("s/a", "train", "room1", left_only), ("s/b", "train", "room1", left_only[::-1]),
             ("s/c", "test", "room1", left_only[::-1]), ("s/d", "train", "room2", left_only[::-1])]
    labs, feats, rng = [], [], np.random.default_rng(1)
    for eid, split, _, yaw in specs:
        fr = frames_of(eid, split, yaw)
        labs.append(label_pairs(episode_motion_pairs(fr, PairConfig(1, 2, 1, 10.0, 1.0)).table, "navigation").table)
        v = rng.normal(size=(len(yaw), 8))
        feats.append(pa.table({"episode_id": [eid] * len(yaw), "frame_index": list(range(len(yaw))),
                               "descriptor": [list(x / np.linalg.norm(x)) for x in v]}))
    lab = pl.from_arrow(pa.concat_tables(labs))
    positives = lab.filter((pl.col("frame_index_b") > pl.col("frame_index_a")) & (pl.col("episode_id") == "s/a")
                           & (pl.col("attribute") == "yaw")).select(
        "episode_id", "split", "attribute", pl.col("frame_index_a").alias("anchor_frame_index"),
        pl.col("frame_index_b").alias("positive_frame_index"), pl.col("value").alias("positive_value"))
    # s/a offers no other-value pair of its own (as if it only ever turned left): the search must leave it
    other = lab.filter(pl.col("episode_id") != "s/a").select(
        "episode_id", "attribute", pl.col("frame_index_a").alias("negative_anchor_frame_index"),
                       pl.col("frame_index_b").alias("negative_frame_index"), pl.col("value").alias("negative_value"),
                       pl.col("magnitude").alias("negative_magnitude"), pl.col("pair_id").alias("negative_pair_id"))
    features = pa.concat_tables(feats)
    episodes = _episodes([s[0] for s in specs], [s[1] for s in specs], [s[2] for s in specs])
    found, levels = _retrieved(positives, other, features, episodes, 0.999)
    assert found.height == positives.height > 0
    assert levels["episode"] == 0 and levels["scene"] == positives.height
    assert set(found["negative_episode_id"]) == {"s/b"}  # same scene and split; never s/c (test) or s/d (other scene)
    assert (found["negative_value"] != found["positive_value"]).all()


def test_mirror_motion_flips_exactly_what_a_mirror_flips():
    from remot_pipeline.core.negatives import mirror_motion

    t = pa.table({
        "cam_translation_a_m": pa.array([[0.1, 0.2, 0.3]], pa.list_(pa.float64(), 3)),
        "cam_rotvec_a_rad": pa.array([[0.4, 0.5, 0.6]], pa.list_(pa.float64(), 3)),
        "yaw_left_deg": [-28.6], "pitch_up_deg": [22.9], "roll_cw_deg": [34.4],
        "ee_disp_cam_m": pa.nulls(1, pa.list_(pa.float64(), 3)), "ee_roll_image_cw_deg": pa.nulls(1, pa.float64()),
        "object_disp_a_m": pa.array([[1.0, 0.0, -1.0]], pa.list_(pa.float64(), 3)), "object_yaw_ccw_deg": [12.0],
    })
    m = mirror_motion(t).to_pylist()[0]
    assert m["object_yaw_ccw_deg"] == -12.0  # a spin seen in a mirror turns the other way
    assert m["cam_translation_a_m"] == [-0.1, 0.2, 0.3] and m["cam_rotvec_a_rad"] == [0.4, -0.5, -0.6]
    assert (m["yaw_left_deg"], m["pitch_up_deg"], m["roll_cw_deg"]) == (28.6, 22.9, -34.4)
    assert m["object_disp_a_m"] == [-1.0, 0.0, -1.0] and m["ee_disp_cam_m"] is None
    # the mirrored rotation is M R M with M = diag(-1, 1, 1)
    r = Rotation.from_rotvec([0.4, 0.5, 0.6]).as_matrix()
    mirror = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(Rotation.from_matrix(mirror @ r @ mirror).as_rotvec(), m["cam_rotvec_a_rad"], atol=1e-12)


def test_select_balanced_round_robins_strata():
    import polars as pl

    # 90 left and 10 right; a retrieved negative's motion is the larger in every other one
    rows = [dict(positive_pair_id=f"p{i}", negative_frame_index=i, negative_kind="retrieval", episode_id="e",
                 anchor_frame_index=i, attribute="yaw", positive_value="left" if i < 90 else "right",
                 positive_magnitude=20.0, negative_magnitude=-30.0 if i % 2 else -12.0) for i in range(100)]
    chosen = select_balanced(pl.DataFrame(rows), 20, seed=0)
    counts = chosen.group_by("positive_value").len().sort("positive_value")["len"].to_list()
    assert counts == [10, 10]
    larger = (chosen["negative_magnitude"].abs() > chosen["positive_magnitude"].abs()).sum()
    assert larger == 10  # "the negative moved more" and "less" are strata of their own, taken equally
    skewed = pl.DataFrame([dict(r, negative_magnitude=-30.0 if r["anchor_frame_index"] % 5 == 0 else -12.0) for r in rows])
    left = select_balanced(skewed.filter(pl.col("positive_value") == "left"), 20, seed=0)
    assert (left["negative_magnitude"].abs() > left["positive_magnitude"].abs()).sum() == 10  # 18 of 90 available
    assert select_balanced(pl.DataFrame(rows), 20, seed=0).equals(chosen)


def _triplet(**kw):
    t = dict(triplet_id="t1", episode_id="e", domain="simulation", split="train", attribute="object_lateral",
             object_color="red", positive_value="left", negative_value="right", positive_magnitude=-0.8,
             negative_magnitude=0.8, positive_pair_id="e:1-5", negative_pair_id="e:1-9", anchor_frame_index=1,
             negative_anchor_frame_index=1, negative_transform="none")
    return {**t, **kw}


def test_questions_are_correct_balanced_and_traceable():
    from remot_pipeline.core.questions import plan

    t = _triplet()
    qs = triplet_questions(t, seed=0)
    mc = qs[0]
    assert mc["question_type"] == "multiple_choice"
    pos_slot = mc["image_roles"].index("positive")
    assert mc["answer"] == "AB"[pos_slot - 1]
    assert "the red object moved toward the left of the image" in mc["prompt"] and mc["prompt"].count("<image>") == 3
    # over many triplets: every plan occurs, letters and truth values balance out, and every
    # true/false and blank answer is the asked pair's own label
    kinds, letters, truths = set(), [], []
    for i in range(600):
        ti = dict(t, triplet_id=f"t{i}")
        qs = triplet_questions(ti, seed=0)
        assert len(qs) == 3 and plan(ti, 0) in ("true_false", "fill")  # equal magnitudes: never compared
        for q in qs[1:]:
            kinds.add((q["question_type"], q["parse_rule"]))
            role = q["image_roles"][1]
            assert q["image_roles"][0] == ("anchor" if role == "positive" else "negative_anchor")
            assert q["asserted_pair_id"] == ti[f"{role}_pair_id"]
            if q["question_type"] == "true_false":
                truths.append(q["answer"])
                assert (phrase("object_lateral", ti[f"{role}_value"], "red") in q["prompt"]) == (q["answer"] == "true")
            elif q["parse_rule"] == "categorical":
                assert q["answer"] == ti[f"{role}_value"] and q["options"] == ["left", "right"]
            else:
                assert q["answer"] == "0.80 m" and q["tolerance"] is None  # scored by mean relative accuracy
        letters.append(qs[0]["answer"])
    assert kinds == {("true_false", "true_false"), ("fill_blank", "categorical"), ("fill_blank", "number_mra")}
    assert 0.44 < letters.count("A") / 600 < 0.56
    assert 0.45 < truths.count("true") / len(truths) < 0.55


def test_comparative_questions_form_a_consistency_group_that_the_magnitudes_answer():
    from remot_train.relations import consistent
    from remot_train.scoring import asserted_relations

    for i in range(40):
        t = _triplet(triplet_id=f"c{i}", positive_magnitude=-1.6, negative_magnitude=0.6)  # positive moved more
        larger, smaller = triplet_questions(t, seed=0)[1:]
        assert larger["question_type"] == smaller["question_type"] == "comparative"
        assert larger["consistency_group_id"] == smaller["consistency_group_id"] is not None
        pos_letter = "A" if larger["image_roles"][1] == "positive" else "B"
        assert larger["answer"] == pos_letter and smaller["answer"] != pos_letter
        assert "larger" in larger["prompt"] and "smaller" in smaller["prompt"]
        truth = asserted_relations(larger["answer"], larger["relations"]) + asserted_relations(smaller["answer"], smaller["relations"])
        assert consistent(truth)
        same = asserted_relations("A", larger["relations"]) + asserted_relations("A", smaller["relations"])
        assert not consistent(same)  # "A is larger" and "A is smaller": a cycle


def test_fill_blank_wording_is_natural_per_domain():
    gripper = _triplet(domain="manipulation", attribute="gripper", object_color=None, positive_value="opening",
                       negative_value="closing", positive_magnitude=0.03, negative_magnitude=-0.03)
    prompts = {q["prompt"] for i in range(60) for q in triplet_questions(dict(gripper, triplet_id=f"g{i}"), seed=0)
               if q["question_type"] == "fill_blank"}
    assert any("the robot's gripper was ___" in p for p in prompts)
    assert any("centimetres" in p and "robot's gripper opening" in p for p in prompts)
    obj = [q for i in range(60) for q in triplet_questions(_triplet(triplet_id=f"o{i}"), seed=0) if q["question_type"] == "fill_blank"]
    assert all("the red object" in q["prompt"] for q in obj)


def test_descriptor_is_unit_norm_and_brightness_invariant():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 200, size=(96, 128, 3), dtype=np.uint8)
    d = descriptor(img)
    assert d.shape == (DESCRIPTOR_DIM,) and np.linalg.norm(d) == pytest.approx(1.0, abs=1e-5)
    assert float(d @ descriptor(img + 40)) > 0.999
    other = rng.integers(0, 200, size=(96, 128, 3), dtype=np.uint8)
    assert float(d @ descriptor(other)) < 0.5


def test_encode_jpeg_resizes_and_decodes():
    img = np.full((480, 640, 3), 127, np.uint8)
    out = cv2.imdecode(np.frombuffer(encode_jpeg(img, 320, 90), np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == (240, 320, 3)


def test_quarantine_log_refuses_unknown_reasons_and_ledger_balances():
    q = QuarantineLog("s", "navigation")
    with pytest.raises(ValueError, match="unknown quarantine reason"):
        q.add("bogus", "x")
    q.add("nan_pose", "x", file="f", line=3)
    r = StageResult(empty("quarantine"), q.table(), rows_in=3, rows_filtered={"rule": 2})
    assert r.balanced() and r.ledger() == {"rows_in": 3, "rows_out": 0, "rows_quarantined": 1, "rows_filtered": {"rule": 2}}


def _tables():
    q = QuarantineLog("s", "navigation")
    q.add("nan_pose", "x", file="f", line=1)
    return {"triplets": empty("triplets"), "questions": empty("questions"), "episodes": empty("episodes"),
            "quarantine": q.table()}


def test_release_is_content_addressed_atomic_and_never_rewritten(tmp_path):
    rid = rel.compute_release_id("code@1", {"k": 1}, {"e1": "abc"})
    assert rid == rel.compute_release_id("code@1", {"k": 1}, {"e1": "abc"})
    assert rid != rel.compute_release_id("code@1", {"k": 2}, {"e1": "abc"})
    staged = rel.stage_release(tmp_path, rid, _tables(), {"note": "x"})
    assert rel.latest_release(tmp_path) is None and rel.verify_release(staged) == []  # nothing served yet
    path, written = rel.publish(tmp_path, staged, rid)
    assert written and rel.latest_release(tmp_path) == path and rel.verify_release(path) == []
    assert (tmp_path / "LATEST").is_symlink() and rel.read_latest(tmp_path) == rid
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["rows"]["quarantine"] == 1 and all("sha256" in f for f in manifest["files"])
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*")}
    _, again = rel.publish(tmp_path, rel.stage_release(tmp_path, rid, _tables(), {"note": "x"}), rid)
    assert again is False and {p: p.stat().st_mtime_ns for p in path.rglob("*")} == before
    # the second copy is gone (dot files: the writers' lock)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(["LATEST", rid])
    (path / "quarantine" / "part-00000.parquet").write_bytes(b"tampered")
    assert any("sha256 mismatch" in p for p in rel.verify_release(path))
    with pytest.raises(rel.ReleaseInvalid, match=r"quarantine/part-00000.parquet: sha256 mismatch: release "):
        rel.verified_release(path)
    # A tampered release is never reused: publishing the same id again replaces it.
    _, rewritten = rel.publish(tmp_path, rel.stage_release(tmp_path, rid, _tables(), {"note": "x"}), rid)
    assert rewritten and rel.verify_release(path) == [] and rel.verified_release(path) == path


def test_a_release_without_manifest_does_not_exist(tmp_path):
    (tmp_path / "abc").mkdir()
    (tmp_path / "LATEST").write_text("abc\n")  # a LATEST file from an older data root is still read
    assert rel.read_latest(tmp_path) == "abc" and rel.latest_release(tmp_path) is None
    assert not rel.is_release(tmp_path / "abc")


def test_manipulation_motion_columns_from_end_effector_signals():
    from remot_pipeline.core.motion import PairConfig, episode_motion_pairs

    n = 5
    cam2base = np.eye(4)
    cam2base[:3, :3] = Rotation.from_euler("x", 180, degrees=True).as_matrix()  # looking down at the table
    rows = [dict(episode_id="e", domain="manipulation", split="train", frame_index=i, timestamp_s=i * 0.1,
                 cam2world=cam2base.ravel().tolist(), ee_pos_base_m=[0.1 * i, 0.0, 0.2],
                 ee_rotvec_base_rad=[0.0, 0.0, np.radians(10.0 * i)], gripper_width_m=0.08 - 0.01 * i, objects=None,
                 media_path="v.mp4", media_frame_index=i) for i in range(n)]
    frames = conform(pa.Table.from_pylist(rows), "frames")
    res = episode_motion_pairs(frames, PairConfig(2, 2, 1, 10.0, 1.0))
    t = {r["pair_id"]: r for r in res.table.to_pylist()}
    fwd = t["e:0-2"]
    np.testing.assert_allclose(fwd["ee_disp_base_m"], [0.2, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(fwd["ee_disp_cam_m"], [0.2, 0.0, 0.0], atol=1e-12)  # R_x(180) keeps x
    # A turn about base +z (counterclockwise from above) seen by a camera looking straight down
    # (optical axis = base -z) is counterclockwise in the image too: negative.
    assert fwd["ee_roll_image_cw_deg"] == pytest.approx(-20.0) and t["e:2-0"]["ee_roll_image_cw_deg"] == pytest.approx(20.0)
    assert fwd["gripper_delta_m"] == pytest.approx(-0.02)
    assert res.balanced()


def test_pair_questions_when_the_negative_pair_does_not_start_at_the_anchor():
    t = _triplet(triplet_id="t2", domain="navigation", attribute="yaw", object_color=None, positive_magnitude=20.0,
                 negative_magnitude=-20.0, negative_pair_id="e:5-1", negative_anchor_frame_index=5)
    mc = triplet_questions(t, seed=0)[0]
    assert mc["prompt"].count("<image>") == 4 and "the camera turned to its left" in mc["prompt"] and "B) Pair B" in mc["prompt"]
    first_pair = mc["image_roles"][:2]
    assert mc["answer"] == ("A" if first_pair == ["anchor", "positive"] else "B")
    assert sorted(mc["image_roles"]) == sorted(["anchor", "positive", "negative_anchor", "negative"])


def test_camera_motion_stationary_and_moving_labels():
    from remot_pipeline.core.labels import label_pairs
    from remot_pipeline.core.motion import PairConfig, episode_motion_pairs

    frames = _yaw_episode([0, 0.2, 0.4, 0.6, 0.8, 12, 24, 36])  # still, then turning
    motion = episode_motion_pairs(frames, PairConfig(1, 3, 1, 10.0, 1.0)).table
    res = label_pairs(motion, "navigation")
    assert res.balanced()
    cm = {(r["frame_index_a"], r["frame_index_b"]): r["value"] for r in res.table.to_pylist() if r["attribute"] == "camera_motion"}
    assert cm[(0, 2)] == "stationary" and cm[(5, 6)] == "moving" and cm[(6, 5)] == "moving"
    assert (3, 5) not in cm or cm[(3, 5)] == "moving"
    assert "camera_motion_neither_still_nor_in_band" in res.rows_filtered


def test_negatives_accept_motion_pairs_read_back_in_several_chunks():
    """A large motion_pairs file reads back chunked; its all-null fixed-size lists (no end
    effector in navigation) once made polars fail in the negatives stage."""
    from remot_pipeline.core.arrow import to_polars

    t = pa.table({"ee_disp_base_m": pa.array([None] * 4, pa.list_(pa.float64(), 3)), "k": pa.array(range(4))})
    chunked = pa.concat_tables([t.slice(0, 1), t.slice(1, 3)])
    assert chunked.column("ee_disp_base_m").num_chunks == 2
    assert to_polars(chunked).height == 4


@pytest.mark.parametrize("seed", range(6))
def test_negatives_per_shard_then_across_episodes_equal_one_domain_wide_build(seed):
    """Negatives split by source shard (within-episode levels per shard, then the deferred
    positives searched across episodes) are the rows a single domain-wide build makes, and the
    two ledgers sum to its ledger: random episodes (some turn only one way, so their positives
    need another episode), random scenes, splits and shard boundaries."""
    from remot_pipeline.core.labels import label_pairs
    from remot_pipeline.core.motion import PairConfig, episode_motion_pairs
    from remot_pipeline.core.negatives import (EPISODE_LEVELS, LABEL_COLUMNS, ORDER, cross_episode_negatives,
                                               deferred_positives, finish_cross_episode)

    rng = np.random.default_rng(seed)
    n_eps = int(rng.integers(3, 8))
    ids = [f"s/e{i}" for i in range(n_eps)]
    splits = [str(rng.choice(["train", "test"], p=[0.7, 0.3])) for _ in ids]
    scenes = [f"room{int(rng.integers(0, 3))}" for _ in ids]
    motions, labs, feats = [], [], []
    for eid, split in zip(ids, splits):
        kind = rng.integers(0, 3)  # 0: only left, 1: only right, 2: both ways
        steps = rng.uniform(6, 14, size=int(rng.integers(4, 9)))
        yaw = np.concatenate([[0.0], np.cumsum(steps if kind == 0 else -steps if kind == 1 else
                                               steps * rng.choice([-1, 1], size=steps.size))])
        fr = _yaw_episode(yaw.tolist())
        fr = fr.set_column(0, "episode_id", pa.array([eid] * fr.num_rows)).set_column(
            2, "split", pa.array([split] * fr.num_rows))
        m = episode_motion_pairs(fr, PairConfig(1, 3, 1, 10.0, 1.0)).table
        motions.append(m)
        labs.append(label_pairs(m, "navigation").table)
        v = rng.normal(size=(fr.num_rows, 8))
        feats.append(conform(pa.table({
            "episode_id": [eid] * fr.num_rows, "domain": ["navigation"] * fr.num_rows,
            "frame_index": list(range(fr.num_rows)), "timestamp_s": [i * 0.1 for i in range(fr.num_rows)],
            "image": [{"bytes": b"x", "path": "p"}] * fr.num_rows,
            "descriptor": [list(x / np.linalg.norm(x)) for x in v]}), "frame_features"))
    episodes = _episodes(ids, splits, scenes)
    full = build_negatives(pa.concat_tables(labs), pa.concat_tables(motions), pa.concat_tables(feats), episodes,
                           "navigation")
    cuts = sorted(set(rng.choice(np.arange(1, n_eps), size=int(rng.integers(0, n_eps)), replace=True).tolist()))
    bounds = list(zip([0, *cuts], [*cuts, n_eps]))
    parts, pending, ledgers = [], [], []
    for a, b in bounds:
        r = build_negatives(pa.concat_tables(labs[a:b]), pa.concat_tables(motions[a:b]), pa.concat_tables(feats[a:b]),
                            episodes, "navigation", levels=EPISODE_LEVELS)
        parts.append(r.table)
        ledgers.append(r)
        pending.append(deferred_positives(pa.concat_tables(labs[a:b]), r.table))
        assert r.notes["retrieval_deferred"] == pending[-1].num_rows
    pending = pa.concat_tables(pending)
    matches, resolved = cross_episode_negatives(pending, pa.concat_tables(labs).select(LABEL_COLUMNS),
                                                pa.concat_tables(feats), episodes)
    cross = finish_cross_episode(matches, pending.num_rows, pa.concat_tables(motions), resolved)
    ledgers.append(cross)
    sharded = pl.from_arrow(pa.concat_tables([*parts, cross.table])).sort(ORDER, nulls_last=True)
    assert sharded.equals(pl.from_arrow(full.table))
    assert sum(r.rows_in for r in ledgers) == full.rows_in
    summed = {}
    for r in ledgers:
        for k, v in r.rows_filtered.items():
            summed[k] = summed.get(k, 0) + v
    assert {k: v for k, v in summed.items() if v} == {k: v for k, v in full.rows_filtered.items() if v}
    for r in ledgers:
        assert r.rows_in == r.rows_out + r.rows_quarantined + sum(r.rows_filtered.values())
    levels = full.notes["retrieval_resolved_by_level"]
    assert resolved.get("scene", 0) == levels["scene"] and resolved.get("domain", 0) == levels["domain"]
    # one attribute at a time (what the negatives step does, holding one attribute's labels): the same matches
    labels = pa.concat_tables(labs).select(LABEL_COLUMNS)
    parts = []
    for attribute in sorted(set(pending.column("attribute").to_pylist())):
        part, _ = cross_episode_negatives(pending.filter(pa.compute.equal(pending.column("attribute"), attribute)),
                                          labels.filter(pa.compute.equal(labels.column("attribute"), attribute)),
                                          pa.concat_tables(feats), episodes)
        parts += [part] if part.height else []
    if parts:
        key = ["positive_pair_id", "attribute", "negative_pair_id"]
        assert pl.concat(parts, how="diagonal_relaxed").select(matches.columns).sort(key).equals(matches.sort(key))
    else:
        assert matches.height == 0


@pytest.mark.parametrize("seed", range(4))
def test_the_triplet_choice_shard_by_shard_equals_the_choice_over_the_whole_domain(seed):
    """Dedup per shard then one balanced choice (what the triplets stage does) picks exactly the
    rows one choice over the concatenated domain picks, for random candidates and shard cuts."""
    from remot_pipeline.core.triplets import (CHOICE_COLUMNS, choose_candidates, choose_negatives, chosen_rows,
                                              shard_candidates)

    rng = np.random.default_rng(seed)
    n_eps, rows = int(rng.integers(2, 7)), []
    eps = [f"s/e{i}" for i in range(n_eps)]
    split_of = {e: str(rng.choice(["train", "test"])) for e in eps}
    for e in eps:
        for _ in range(int(rng.integers(5, 60))):
            a, p = int(rng.integers(0, 10)), int(rng.integers(10, 20))
            kind = str(rng.choice(["temporal_reversal", "mirror", "retrieval"]))
            ne = str(rng.choice(eps)) if kind == "retrieval" else e
            na, n = (p, a) if kind == "temporal_reversal" else (int(rng.integers(0, 20)), int(rng.integers(0, 20)))
            value = str(rng.choice(["left", "right"]))
            rows.append(dict(episode_id=e, split=split_of[e], attribute=str(rng.choice(["yaw", "pitch"])),
                             object_color=None, positive_pair_id=f"{e}:{a}-{p}", anchor_frame_index=a,
                             positive_frame_index=p, positive_value=value,
                             positive_magnitude=float(rng.uniform(5, 40)), negative_episode_id=ne,
                             negative_anchor_frame_index=na, negative_frame_index=n,
                             negative_magnitude=-float(rng.uniform(5, 40)), negative_kind=kind,
                             negative_pair_id=f"{ne}:{na}-{n}|{rng.integers(0, 3)}"))
    table = pa.Table.from_pylist(rows).select(CHOICE_COLUMNS)
    v = rng.normal(size=(n_eps * 20, 8))
    features = pa.table({"episode_id": [e for e in eps for _ in range(20)], "frame_index": list(range(20)) * n_eps,
                         "descriptor": [list(x / np.linalg.norm(x)) for x in v]})
    cap, bench = int(rng.integers(3, 40)), int(rng.integers(1, 10))
    whole = choose_negatives(table, features, cap, seed, bench)
    # shards: contiguous runs of episodes (rows are grouped by episode, as a shard's are)
    cuts = sorted(set(rng.integers(1, n_eps, size=int(rng.integers(0, n_eps))).tolist())) if n_eps > 1 else []
    groups = [eps[a:b] for a, b in zip([0, *cuts], [*cuts, n_eps])]
    shards = [table.filter(pa.compute.is_in(table.column("episode_id"), pa.array(g))) for g in groups]
    split = choose_candidates([shard_candidates(t, features, seed) for t in shards], cap, seed, bench)

    def picked(chosen, tables):  # the chosen rows themselves, in pick order
        return pl.concat([chosen_rows(t, chosen, i) for i, t in enumerate(tables)]).sort("_pick")

    assert whole.height > 0 and split.height == whole.height
    assert picked(split, shards).equals(picked(whole, [table]))
    assert split["_pick"].to_list() == list(range(split.height))
