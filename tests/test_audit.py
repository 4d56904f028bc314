"""The shortcut audit: fair releases pass; planted shortcuts fail and name the family that found them.

The synthetic releases here are built from real JPEGs (``cv2.imencode`` of random textures): each
triplet's pairs are crops of a texture shifted sideways (the "motion"), one question per triplet,
the four question types in equal numbers, answers drawn at random. A planted shortcut ties one
cue to the answer's side: the answer pair's second image re-encoded at a lower JPEG quality
(bytes), blurred (pixels), moved more (changes more), or a word in the prompt (text).
"""

from __future__ import annotations

import functools
import json

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remot_pipeline.core.audit import (
    FAMILIES,
    AuditResult,
    _laplacian_var,
    _pair_stats,
    audit_rows,
    bonferroni_upper_bound,
    jpeg_size,
    pair_slots,
    prompt_text,
    shortcut_audit,
)
from remot_pipeline.core.questions import SCAFFOLD

H, W, MAX_SHIFT = 96, 128, 12
TYPES = ("multiple_choice", "true_false", "fill_blank", "comparative")
BLANKS = {"yaw": ["left", "right"], "pitch": ["down", "up"], "phase": ["approach", "grasp", "lift", "place"]}


def _strip(rng: np.random.Generator, width: int) -> np.ndarray:
    """A colour texture ``(H, width, 3)``: smooth blobs plus fine grain."""
    coarse = cv2.resize(rng.random((H // 8, width // 8, 3)).astype(np.float32), (width, H),
                        interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 0.08, (H, width, 3)).astype(np.float32)
    return np.clip((coarse * 0.8 + fine + 0.1) * 255, 0, 255).astype(np.uint8)


def _texture(strip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random window ``(H, W + 2 MAX_SHIFT, 3)`` of the strip, maybe flipped."""
    w = W + 2 * MAX_SHIFT
    x = int(rng.integers(0, strip.shape[1] - w))
    tex = strip[:, x: x + w]
    return tex[:, ::-1] if rng.random() < 0.5 else tex


def _crop(tex: np.ndarray, shift: int) -> np.ndarray:
    return np.ascontiguousarray(tex[:, MAX_SHIFT + shift: MAX_SHIFT + shift + W])


def _jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _prompt(n_images: int, text: str) -> str:
    return "".join(f"Image {i}: <image>\n" for i in range(1, n_images + 1)) + text + "\n" + SCAFFOLD


@functools.lru_cache(maxsize=None)
def release(seed: int, plant: str | None = None, n: int = 1000) -> tuple[pa.Table, pa.Table]:
    """``(triplets, questions)``: one question per triplet, 60% train; ``plant`` in
    None | bytes | pixel | changes_more | text."""
    rng = np.random.default_rng(seed)
    strip = _strip(rng, 8192)
    trows, qrows = [], []
    for i in range(n):
        qt = TYPES[i % 4]
        split = "train" if rng.random() < 0.6 else "test"
        domain = ("navigation", "manipulation")[int(rng.integers(2))]
        tex_pos, tex_neg = _texture(strip, rng), _texture(strip, rng)
        dx_pos, dx_neg = (int(s) for s in rng.integers(2, MAX_SHIFT, 2))
        three = qt == "multiple_choice" and rng.random() < 0.35
        # The answer, and whether it points at the positive pair (the "answer side").
        if qt in ("multiple_choice", "comparative"):
            answer = "AB"[int(rng.integers(2))]
            positive_side = True  # the answer pair is the positive pair
            attribute = ("yaw", "pitch")[int(rng.integers(2))]
            options = ["Image 2", "Image 3"] if three else ["Pair A", "Pair B"]
            rule = "choice_letter"
        elif qt == "true_false":
            answer = ("true", "false")[int(rng.integers(2))]
            positive_side = answer == "true"
            attribute = ("yaw", "pitch")[int(rng.integers(2))]
            options, rule = ["true", "false"], "true_false"
        else:
            attribute = ("yaw", "pitch", "phase")[int(rng.integers(3))]
            options = BLANKS[attribute]
            answer = options[int(rng.integers(len(options)))]
            positive_side = answer == options[0]
            rule = "categorical"
        if plant == "changes_more" and qt in ("multiple_choice", "comparative"):
            dx_pos, dx_neg = MAX_SHIFT - 1, 1
        anchor, positive = _crop(tex_pos, 0), _crop(tex_pos, dx_pos)
        if three:
            neg_anchor, negative = anchor, _crop(tex_pos, -dx_neg)
        else:
            neg_anchor, negative = _crop(tex_neg, 0), _crop(tex_neg, dx_neg)
        quality = {"anchor": 90, "positive": 90, "negative_anchor": 90, "negative": 90}
        if plant == "bytes" and positive_side:
            quality["positive"] = 55
        if plant == "pixel" and positive_side:
            positive = cv2.GaussianBlur(positive, (0, 0), 2.5)
        images = {"anchor": anchor, "positive": positive, "negative_anchor": neg_anchor, "negative": negative}
        tid = f"t{seed}-{i:05d}"
        trows.append({"triplet_id": tid, "domain": domain, "split": split, "attribute": attribute,
                      "negative_kind": "retrieval", **{
                          f"{r}_image": {"bytes": _jpeg(images[r], quality[r]), "path": f"{tid}/{r}.jpg"}
                          for r in images}})
        letter_a = answer == "A"
        if qt == "multiple_choice" and three:
            roles = ["anchor", "positive", "negative"] if letter_a else ["anchor", "negative", "positive"]
            text = "Take image 1 as the starting view. In which of the other two images did the camera turn?"
        elif qt in ("multiple_choice", "comparative"):
            pos, neg = ["anchor", "positive"], ["negative_anchor", "negative"]
            roles = pos + neg if letter_a else neg + pos
            text = ("Pair A goes from image 1 to image 2; pair B goes from image 3 to image 4. " + (
                "In which pair is it true that the camera turned?" if qt == "multiple_choice" else
                f"In which pair was the angle {('larger', 'smaller')[int(rng.integers(2))]}?"))
        else:
            roles = ["anchor", "positive"]
            text = ("True or false: between image 1 and image 2, the camera turned." if qt == "true_false" else
                    f"Fill in the blank with one of ({', '.join(options)}): the camera moved ___.")
        text += "".join(f"\n{k}) {o}" for k, o in zip("AB", options)) if rule == "choice_letter" else ""
        if plant == "text" and (positive_side if qt != "multiple_choice" and qt != "comparative" else letter_a):
            text = text.replace("the camera", "the camera clearly", 1) if rng.random() < 0.9 else text
        elif plant == "text" and rng.random() < 0.1:
            text = text.replace("the camera", "the camera clearly", 1)
        qrows.append({"question_id": f"q{seed}-{i:05d}", "triplet_id": tid, "domain": domain, "split": split,
                      "attribute": attribute, "question_type": qt, "prompt": _prompt(len(roles), text),
                      "image_roles": roles, "answer": answer, "options": options, "parse_rule": rule})
        if i % 10 == 0:  # a numeric blank: left to the MRA baseline, never audited here
            qrows.append({**qrows[-1], "question_id": f"q{seed}-{i:05d}-n", "question_type": "fill_blank",
                          "image_roles": ["anchor", "positive"], "answer": f"{dx_pos} deg", "options": [],
                          "parse_rule": "number_mra"})
    return pa.Table.from_pylist(trows), pa.Table.from_pylist(qrows)


def _failed_families(result: AuditResult) -> set[str]:
    return {r["family"] for r in result.table.to_pylist() if not r["passed"]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_fair_release_passes(seed):
    result = shortcut_audit(*release(seed))
    rows = result.table.to_pylist()
    assert result.passed, result.summary()
    assert result.failures == [] and "passed" in result.summary()
    # Every family ran on every type it applies to, every cell was judged, and chance is ~0.5.
    cells = {(r["family"], r["question_type"]) for r in rows}
    assert cells == {(f, t) for f in FAMILIES for t in TYPES if f != "changes_more"} | {
        ("changes_more", "multiple_choice"), ("changes_more", "comparative")}
    assert all(r["judged"] and r["n_test"] >= 70 and r["n_train"] >= 120 for r in rows)
    assert all(0.3 <= r["majority_accuracy"] <= 0.7 for r in rows if r["question_type"] != "fill_blank")
    # Numeric blanks are not audited: fill_blank counts only the categorical rows.
    fill = [r for r in rows if r["question_type"] == "fill_blank"][0]
    mc = [r for r in rows if r["question_type"] == "multiple_choice"][0]
    assert fill["n_train"] + fill["n_test"] == mc["n_train"] + mc["n_test"]


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("plant, family", [("bytes", "image_bytes"), ("text", "text"), ("pixel", "pixel_stats"),
                                           ("changes_more", "changes_more")])
def test_a_planted_shortcut_fails_and_names_its_family(plant, family, seed):
    result = shortcut_audit(*release(seed, plant))
    assert not result.passed
    assert family in _failed_families(result), result.summary()
    assert any(f.startswith(f"{family} on ") for f in result.failures)
    assert "FAILED" in result.summary() and family in result.summary()
    if plant == "text":  # the word is in the prompt only: no image family may find it
        assert _failed_families(result) == {"text"}, result.summary()
    if plant == "changes_more":  # the rule found it on the types it applies to, in the planted direction
        row = [r for r in result.table.to_pylist() if r["family"] == "changes_more"
               and r["question_type"] == "multiple_choice"][0]
        assert row["accuracy"] > 0.95 and row["detail"].startswith("changes more")


def test_the_audit_is_deterministic_and_per_domain_adds_cells():
    triplets, questions = release(0)
    a, b = shortcut_audit(triplets, questions), shortcut_audit(triplets, questions, workers=1)
    assert a.table.equals(b.table) and a.failures == b.failures
    shuffled = shortcut_audit(triplets.take(np.random.default_rng(0).permutation(triplets.num_rows)), questions)
    assert shuffled.table.equals(a.table)
    split = shortcut_audit(triplets, questions, per_domain=True)
    domains = set(split.table.column("domain").to_pylist())
    assert domains == {"all", "navigation", "manipulation"}
    assert split.table.num_rows == 3 * a.table.num_rows
    assert split.table.filter(pa.compute.equal(split.table["domain"], "all")).drop_columns(
        ["upper_bound", "passed"]).equals(a.table.drop_columns(["upper_bound", "passed"]))
    # More judged cells: a stricter (higher) bound for the same cell.
    ua = a.table.column("upper_bound").to_pylist()[0]
    us = split.table.column("upper_bound").to_pylist()[0]
    assert us > ua


def test_the_bonferroni_bound_grows_with_cells_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p0, n, alpha = rng.uniform(0.05, 0.95), int(rng.integers(20, 5000)), rng.uniform(0.001, 0.2)
        cells = np.arange(1, 60)
        ub = bonferroni_upper_bound(p0, n, 1, alpha)
        bounds = np.array([bonferroni_upper_bound(p0, n, c, alpha) for c in cells])
        assert (np.diff(bounds) > 0).all() and bounds[0] == ub > p0
        assert bonferroni_upper_bound(p0, 2 * n, 5, alpha) < bonferroni_upper_bound(p0, n, 5, alpha)
        assert bonferroni_upper_bound(p0, n, 5, alpha / 2) > bonferroni_upper_bound(p0, n, 5, alpha)
    # A degenerate majority still has a band.
    assert bonferroni_upper_bound(1.0, 100, 14) > 1.0 and bonferroni_upper_bound(0.0, 100, 14) > 0.0


def test_small_cells_are_reported_but_not_judged():
    triplets, questions = release(5, "bytes", n=120)  # about 12 test questions per type
    result = shortcut_audit(triplets, questions)
    rows = result.table.to_pylist()
    assert rows and all(not r["judged"] and r["n_test"] < 20 for r in rows)
    assert result.passed and "no cell" in result.summary()


def test_helpers():
    assert pair_slots(2) == [(0, 1)] and pair_slots(3) == [(0, 1), (0, 2)] and pair_slots(4) == [(0, 1), (2, 3)]
    prompt = _prompt(2, "True or false: the camera turned.")
    assert prompt_text(prompt) == "True or false: the camera turned."
    rng = np.random.default_rng(1)
    for _ in range(5):
        h, w = (int(v) for v in rng.integers(8, 300, 2))
        assert jpeg_size(np.frombuffer(_jpeg(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)), np.uint8)) == (w, h)


def test_pair_statistics_match_their_numpy_definitions():
    rng = np.random.default_rng(2)
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(4, 60, 2))
        a, b = (rng.integers(0, 256, (h, w), dtype=np.uint8) for _ in range(2))
        d = b.astype(np.int64) - a
        want = (np.abs(d).mean(), d.std(), (np.abs(d) > 10).mean(), d.mean())
        assert np.allclose(_pair_stats(a, b), want, atol=1e-6)
        assert np.isclose(_laplacian_var(a), cv2.Laplacian(a, cv2.CV_32F).var(), rtol=1e-4)
    assert all(np.isnan(_pair_stats(None, a)))


def test_the_plot_renders():
    from remot_pipeline.defs.plots import shortcut_audit_plot

    md = shortcut_audit_plot(shortcut_audit(*release(3, "bytes"), per_domain=True).table)
    assert md.value.startswith("![shortcut audit](data:image/png;base64,")


def _read_release(root) -> tuple[pa.Table, pa.Table]:
    from remot_train.data import resolve_release

    path = resolve_release(root)
    files = json.loads((path / "manifest.json").read_text())["files"]
    return tuple(pa.concat_tables([pq.read_table(path / f["path"]) for f in files if f["table"] == name],
                                  promote_options="default") for name in ("triplets", "questions"))


def test_the_audit_runs_on_a_pipeline_release(small_release):
    triplets, questions = _read_release(small_release)
    result = shortcut_audit(triplets, questions, per_domain=True)
    rows = result.table.to_pylist()
    assert {r["question_type"] for r in rows} <= set(TYPES) and rows
    for r in rows:
        assert r["n_train"] >= 0 and r["n_test"] >= 0
        assert r["judged"] == (r["n_test"] >= 20 and r["n_train"] > 0)
        assert r["passed"] or r["judged"]
        if r["n_test"] and r["n_train"]:
            assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["majority_accuracy"] <= 1.0
    assert result.passed == all(r["passed"] for r in rows) and len(result.failures) == sum(
        not r["passed"] for r in rows)
    print(result.summary())


def test_a_shortcut_planted_in_a_pipeline_release_fails_the_audit_and_names_it(small_release):
    """The old mirror bug, planted back: the answer pair of every multiple-choice question carries
    one more JPEG generation at a lower quality (fewer bytes). The audit must catch it by bytes."""
    triplets, questions = _read_release(small_release)
    mc = [q for q in questions.to_pylist() if q["question_type"] == "multiple_choice"]
    answer_roles = {}
    for q in mc:
        roles = q["image_roles"]
        pair = (roles[0], roles[1]) if len(roles) == 4 and q["answer"] == "A" else \
            (roles[2], roles[3]) if len(roles) == 4 else ((roles[1],) if q["answer"] == "A" else (roles[2],))
        answer_roles[q["triplet_id"]] = pair

    def degrade(image: dict) -> dict:
        bgr = cv2.imdecode(np.frombuffer(image["bytes"], np.uint8), cv2.IMREAD_COLOR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 40])
        return {"bytes": buf.tobytes(), "path": image["path"]}

    rows = triplets.to_pylist()
    for t in rows:
        for role in answer_roles.get(t["triplet_id"], ()):
            t[f"{role}_image"] = degrade(t[f"{role}_image"])
    planted = pa.Table.from_pylist(rows, schema=triplets.schema)
    result = shortcut_audit(planted, questions)
    assert not result.passed
    assert any(f.startswith(("image_bytes on multiple_choice", "pixel_stats on multiple_choice"))
               for f in result.failures), result.failures


def _old_keep(questions: pa.Table) -> list[int]:
    """The audit's rows before the cap, written out independently: audited type, categorical, a split."""
    q = questions.to_pylist()
    return [i for i, r in enumerate(q) if r["question_type"] in TYPES and r["parse_rule"] not in ("number", "number_mra")
            and r["split"] in ("train", "test")]


@given(st.integers(0, 300), st.integers(0, 10_000), st.integers(1, 40))
@settings(max_examples=40, deadline=None)
def test_the_train_sample_is_capped_per_cell_order_free_and_keeps_every_test_question(n, seed, cap):
    rng = np.random.default_rng(seed)
    questions = pa.table({
        "question_id": [f"{rng.integers(1 << 62):016x}-{i}" for i in range(n)],
        "domain": rng.choice(["navigation", "manipulation", "simulation"], n).tolist(),
        "split": rng.choice(["train", "test", "train", "other"], n).tolist(),
        "question_type": rng.choice([*TYPES, "counting"], n).tolist(),
        "parse_rule": rng.choice(["choice_letter", "true_false", "number_mra", "categorical"], n).tolist(),
    }, schema=pa.schema([(c, pa.string()) for c in ("question_id", "domain", "split", "question_type", "parse_rule")]))
    eligible = _old_keep(questions)
    assert audit_rows(questions, None).tolist() == eligible
    assert audit_rows(questions, n + 1).tolist() == eligible  # a cap no cell reaches changes nothing
    rows = audit_rows(questions, cap)
    q = questions.to_pylist()
    assert set(rows.tolist()) <= set(eligible) and rows.tolist() == sorted(rows.tolist())
    assert {i for i in eligible if q[i]["split"] == "test"} <= set(rows.tolist())
    cells: dict = {}
    for i in eligible:
        if q[i]["split"] == "train":
            cells.setdefault((q[i]["question_type"], q[i]["domain"]), []).append(i)
    for members in cells.values():  # the cap smallest question ids of each train cell, exactly
        want = sorted(members, key=lambda i: q[i]["question_id"])[:cap]
        assert sorted(set(rows.tolist()) & set(members)) == sorted(want)
    perm = rng.permutation(n)
    again = audit_rows(questions.take(perm), cap)
    assert sorted(perm[again].tolist()) == rows.tolist()  # the same questions whatever their order


def test_a_capped_audit_fits_on_the_sample_and_scores_the_whole_bench():
    triplets, questions = release(0)
    full = shortcut_audit(triplets, questions, max_train_per_cell=None)
    assert shortcut_audit(triplets, questions).table.equals(full.table)  # 1000 questions: under the default cap
    capped = shortcut_audit(triplets, questions, max_train_per_cell=40)
    assert capped.table.column("n_train").to_pylist() == [min(n, 2 * 40) for n in full.table.column("n_train").to_pylist()]
    assert capped.table.column("n_test").equals(full.table.column("n_test"))
    assert capped.table.column("upper_bound").equals(full.table.column("upper_bound"))
    assert capped.passed
    # a planted shortcut is still found on a sample of 40 train questions per (type, domain)
    planted = shortcut_audit(*release(1, "bytes"), max_train_per_cell=40)
    assert not planted.passed and "image_bytes" in _failed_families(planted)
    with pytest.raises(ValueError, match="max_train_per_cell"):
        audit_rows(questions, -1)
