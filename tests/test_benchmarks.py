"""External benchmarks as evaluation sets: the readers on fixtures in each published layout, the
benchmarks' own metrics against hand recomputation, one-line errors for every kind of damage, and
a real tiny-model evaluation through the shared scorer."""

from __future__ import annotations

import argparse
import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remot_train.benchmarks import BenchmarkError, benchmark_summary, load_benchmark, parse_spec, summary_markdown
from remot_train.benchmarks import camerabench, fixtures, mmsi, vsibench
from remot_train.benchmarks.video import frame_indices, sample_frames
from remot_train.evaluate import score_row


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("benchmarks")
    fixtures.main(["all", str(root)])
    return {k: root / k for k in fixtures.WRITERS}


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _one_line_error(fn, *names: str) -> str:
    with pytest.raises(BenchmarkError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg and msg.strip() == msg, msg
    for name in names:
        assert name in msg, (name, msg)
    return msg


# --- readers on their fixtures -----------------------------------------------------------------
def test_fixtures_are_in_the_published_layouts(folders):
    v = pq.read_table(folders["vsibench"] / "test-00000-of-00001.parquet")
    assert v.column_names == ["id", "dataset", "scene_name", "question_type", "question", "ground_truth", "options"]
    assert v.schema.field("options").type == pa.list_(pa.string()) and v.schema.field("id").type == pa.int64()
    for rec in v.to_pylist():
        assert (folders["vsibench"] / rec["dataset"] / f"{rec['scene_name']}.mp4").is_file()
    m = pq.read_table(folders["mmsi"] / "MMSI_Bench.parquet")
    assert {"id", "images", "question_type", "question", "answer", "thought"} <= set(m.column_names)
    assert m.schema.field("images").type == pa.list_(pa.binary())
    lines = [json.loads(x) for x in (folders["camerabench"] / "test.jsonl").read_text().splitlines()]
    assert [x["Index"] for x in lines] == list(range(len(lines))) and len(lines) % 4 == 0
    assert all((folders["camerabench"] / x["Video"]).is_file() and x["Question_Type"] == "yes_no" for x in lines)


def test_vsibench_reader(folders):
    rows = load_benchmark("vsibench", folders["vsibench"], frames=6, image_max_side=32)
    assert len(rows) == len(fixtures.VSI_QUESTIONS)
    by_type = {r["question_type"]: r for r in rows}
    assert by_type["object_counting"]["parse_rule"] == "number_mra" and by_type["object_counting"]["answer"] == "3"
    assert by_type["object_counting"]["options"] == []
    hard = by_type["object_rel_direction_hard"]
    assert hard["parse_rule"] == "choice_letter" and hard["answer"] == "C"
    assert hard["options"] == ["front-left", "front-right", "back-left", "back-right"]
    text = "".join(p.get("text", "") for p in hard["prompt"][0]["content"])
    assert "Options:\nA. front-left\nB. front-right" in text and "These are frames of a video." in text
    for r in rows:
        placeholders = [p for p in r["prompt"][0]["content"] if p["type"] == "image"]
        assert len(placeholders) == len(r["images"]) == 6
        assert all(max(im.size) <= 32 and im.mode == "RGB" for im in r["images"])
        assert r["benchmark"] == r["domain"] == "vsibench" and r["question_id"].startswith("vsibench:")
        assert r["triplet_id"] == r["question_id"] and r["relations"] == "[]"


def test_mmsi_reader(folders):
    rows = load_benchmark("mmsi", folders["mmsi"])
    assert [r["answer"] for r in rows] == [q[2] for q in fixtures.MMSI_QUESTIONS]
    assert rows[0]["options"] == ["It panned left", "It panned right", "It tilted up", "It did not move"]
    assert all(len(r["images"]) == 2 and r["parse_rule"] == "choice_letter" for r in rows)
    assert rows[0]["question_type"] == "Motion--Camera"


def test_camerabench_reader_takes_the_truth_from_the_group_layout(folders):
    rows = load_benchmark("camerabench", folders["camerabench"], frames=4)
    assert [r["answer"] for r in rows] == ["true", "false", "false", "true"] * 2
    assert [r["index"] for r in rows] == list(range(8)) and all(len(r["images"]) == 4 for r in rows)
    assert all(r["parse_rule"] == "true_false" for r in rows)


def test_an_explicit_answer_field_wins(folders, tmp_path):
    root = _copy(folders["camerabench"], tmp_path)
    lines = [json.loads(x) for x in (root / "test.jsonl").read_text().splitlines()]
    lines[0]["Answer"] = "No"
    (root / "test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert load_benchmark("camerabench", root, frames=2)[0]["answer"] == "false"


def test_frames_are_sampled_uniformly_from_the_decoded_video(tmp_path):
    """Frame t of the clip is flat grey 12 t: the sampled frames' brightness names their index."""
    clip = np.stack([np.full((32, 48, 3), 12 * t, np.uint8) for t in range(16)])
    path = fixtures.write_video(tmp_path / "grey.mp4", clip)
    frames = sample_frames(path, 4)
    assert frame_indices(16, 4) == [0, 5, 10, 15]
    means = [float(np.asarray(f).mean()) for f in frames]
    assert means == pytest.approx([0, 60, 120, 180], abs=4)
    mpeg4 = fixtures.write_video(tmp_path / "grey_mpeg4.mp4", clip, codec="mpeg4")
    assert [float(np.asarray(f).mean()) for f in sample_frames(mpeg4, 2)] == pytest.approx([0, 180], abs=6)


# --- metrics against hand recomputation --------------------------------------------------------
def _mra_by_hand(pred: str, truth: str) -> Fraction:
    """VSI-Bench's MRA in exact arithmetic: thresholds k/100, k = 50, 55, ..., 95; a threshold
    passes when |p - t| / |t| < 1 - k/100."""
    p, t = Fraction(pred), Fraction(truth)
    passed = sum(abs(p - t) * 100 < (100 - k) * abs(t) for k in range(50, 100, 5))
    return Fraction(passed, 10)


VSI_PREDICTIONS = {"object_counting": "4", "object_abs_distance": "2.5", "object_size_estimation": "100",
                   "room_size_estimation": "30", "object_rel_direction_easy": "A", "object_rel_direction_hard": "B",
                   "object_rel_distance": "sofa", "obj_appearance_order": "A"}


def test_vsibench_metric_matches_hand_recomputation(folders):
    rows = load_benchmark("vsibench", folders["vsibench"], frames=1)
    records = [score_row(r, f"<think>x</think><answer>{VSI_PREDICTIONS[r['question_type']]}</answer>") for r in rows]
    truths = {r["question_type"]: r["answer"] for r in rows}
    by_hand = {qt: _mra_by_hand(VSI_PREDICTIONS[qt], truths[qt]) for qt in vsibench.NA_QUESTION_TYPES}
    assert by_hand == {"object_counting": Fraction(4, 10), "object_abs_distance": 1,
                       "object_size_estimation": Fraction(8, 10), "room_size_estimation": 0}
    exact = {"object_rel_direction_easy": 1, "object_rel_direction_hard": 0,  # truth A / C
             "object_rel_distance": 1, "obj_appearance_order": 0}  # "sofa" is option B's text; truth D
    direction = Fraction(exact["object_rel_direction_easy"] + exact["object_rel_direction_hard"], 2)
    per_task = [*by_hand.values(), direction, exact["object_rel_distance"], exact["obj_appearance_order"]]
    overall = sum(per_task, Fraction(0)) / len(per_task)
    s = benchmark_summary("vsibench", records)
    assert s["value"] == pytest.approx(float(overall)) == pytest.approx(3.7 / 7)
    assert s["categories"]["object_rel_direction"] == {"value": 0.5, "n": 2}
    assert s["categories"]["object_size_estimation"]["value"] == pytest.approx(0.8)
    assert s["n"] == len(rows) and s["format_failure_rate"] == 0.0


def test_mmsi_metric_is_exact_match_on_the_letter(folders):
    rows = load_benchmark("mmsi", folders["mmsi"])
    answers = ["B", "To its left", "(a)", "D or A"]  # right (letter), right (option text), wrong, unparsable
    records = [score_row(r, f"<answer>{a}</answer>") for r, a in zip(rows, answers)]
    s = benchmark_summary("mmsi", records)
    assert [r["correct"] for r in records] == [True, True, False, False]
    assert s["value"] == 0.5 and s["format_failure_rate"] == 0.25
    assert s["categories"]["Motion--Camera"] == {"value": 1.0, "n": 1}


def test_camerabench_metrics_match_hand_recomputation(folders):
    rows = load_benchmark("camerabench", folders["camerabench"], frames=1)
    said = ["Yes", "No", "No", "Yes",  # group 0: all right
            "Yes", "Yes", "maybe", "Yes"]  # group 1: q0 says yes on both videos; one unparsable
    records = [{**score_row(r, f"<answer>{a}</answer>"), "index": r["index"]} for r, a in zip(rows, said)]
    s = benchmark_summary("camerabench", records)
    assert s["value"] == pytest.approx(6 / 8)  # Acc: 4 + (yes, -, -, yes) = 2 of group 1
    # group 0: Q 2, I 2, G 1. group 1 (1, 1, -1, 1): Q: (q0: i0 yes & i1 no? no) (q1: i1 yes & i0 no? -1 != 0) = 0;
    # I: (i0: q0 yes & q1 no? -1 != 0) (i1: q1 yes & q0 no? no) = 0; G 0.
    assert (s["Q_Acc"], s["I_Acc"], s["G_Acc"], s["groups"]) == (0.5, 0.5, 0.5, 2)
    md = summary_markdown("camerabench", [{"model": "m", **s}])
    assert "| m | 75.0 | 50.0 | 50.0 | 50.0 |" in md


# --- bad folders: one line naming the file and the fix -----------------------------------------
def test_missing_folder_and_files(folders, tmp_path):
    _one_line_error(lambda: load_benchmark("vsibench", tmp_path / "nope"), "nope", "download")
    empty = tmp_path / "empty"
    empty.mkdir()
    for kind in ("vsibench", "mmsi", "camerabench"):
        _one_line_error(lambda: load_benchmark(kind, empty), str(empty), "fixtures")
    _one_line_error(lambda: parse_spec("vsi:/x"), "KIND:PATH")
    _one_line_error(lambda: parse_spec("vsibench"), "KIND:PATH")


def test_vsibench_damage(folders, tmp_path):
    root = _copy(folders["vsibench"], tmp_path)
    questions = root / "test-00000-of-00001.parquet"
    table = pq.read_table(questions)

    pq.write_table(table.drop(["ground_truth"]), questions)
    _one_line_error(lambda: load_benchmark("vsibench", root), str(questions), "ground_truth")
    questions.write_bytes(b"not parquet at all")
    _one_line_error(lambda: load_benchmark("vsibench", root), str(questions), "Parquet")
    pq.write_table(table, questions)

    video = root / "scannet" / "scene0011_00.mp4"
    good = video.read_bytes()
    video.write_bytes(b"\x00\x00\x01 not a video " * 20)
    _one_line_error(lambda: load_benchmark("vsibench", root), str(video), "video")
    video.write_bytes(b"")
    _one_line_error(lambda: load_benchmark("vsibench", root), str(video))
    video.unlink()
    _one_line_error(lambda: load_benchmark("vsibench", root), str(video), "scannet.zip")
    video.write_bytes(good)

    for column, index, value, words in (("question_type", 0, "object_teleport", "unknown question_type"),
                                        ("ground_truth", 0, "three", "not a finite number"),
                                        ("ground_truth", 4, "E", "option letters"),
                                        ("scene_name", 0, "../../../elsewhere", "points outside")):
        rows = table.to_pylist()
        rows[index][column] = value
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), questions)
        _one_line_error(lambda: load_benchmark("vsibench", root), str(questions), words)
    rows = table.to_pylist()
    rows[4]["options"] = None
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), questions)
    _one_line_error(lambda: load_benchmark("vsibench", root), "options")


def test_mmsi_damage(folders, tmp_path):
    root = _copy(folders["mmsi"], tmp_path)
    path = root / "MMSI_Bench.parquet"
    table = pq.read_table(path)
    for change, words in ((dict(answer="E"), "A-D"), (dict(images=[b"\x89PNG broken"]), "does not decode"),
                          (dict(images=[]), "non-empty list")):
        rows = table.to_pylist()
        rows[1].update(change)
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
        _one_line_error(lambda: load_benchmark("mmsi", root), str(path), "(id 1)", words)
    pq.write_table(table.drop(["answer"]), path)
    _one_line_error(lambda: load_benchmark("mmsi", root), str(path), "answer")


def test_camerabench_damage(folders, tmp_path):
    root = _copy(folders["camerabench"], tmp_path)
    path = root / "test.jsonl"
    good = path.read_text()
    lines = [json.loads(x) for x in good.splitlines()]

    def write(records):
        path.write_text("".join(json.dumps(x) + "\n" for x in records))

    path.write_text(good + "{not json\n")
    _one_line_error(lambda: load_benchmark("camerabench", root), str(path), "JSON")
    for change, words in ((dict(Video="../../etc/passwd"), "not a path inside"), (dict(Answer="maybe"), "Yes or No"),
                          (dict(Index=None), "Index"), (dict(Video=None), "'Video'")):
        write([{**lines[0], **change}, *lines[1:]])
        _one_line_error(lambda: load_benchmark("camerabench", root), str(path), words)
    write(lines)
    clip = root / lines[0]["Video"]
    clip.unlink()
    _one_line_error(lambda: load_benchmark("camerabench", root), str(clip), "missing video")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.booleans(), st.integers(-3, 9), st.text(max_size=8)))
def test_fuzzed_camerabench_answers_load_or_fail_in_one_line(folders, tmp_path_factory, value):
    root = tmp_path_factory.mktemp("cb")
    (root / "videos").mkdir()
    first = json.loads((folders["camerabench"] / "test.jsonl").read_text().splitlines()[0])
    shutil.copy(folders["camerabench"] / first["Video"], root / first["Video"])
    (root / "test.jsonl").write_text(json.dumps({**first, "Answer": value}) + "\n")
    try:
        rows = load_benchmark("camerabench", root, frames=1)
    except BenchmarkError as e:
        assert "\n" not in str(e) and str(root / "test.jsonl") in str(e)
    else:
        expected = {"yes": "true", "true": "true", "no": "false", "false": "false"}
        text = "" if value is None else str(value).strip().lower().rstrip(".")
        assert rows[0]["answer"] == expected.get(text, "true")  # no Answer text: Index 0's truth, yes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(truth=st.one_of(st.text(max_size=6), st.floats(allow_nan=True, allow_infinity=True).map(str)),
       answer=st.text(max_size=3))
def test_fuzzed_ground_truths_load_or_fail_in_one_line(folders, tmp_path_factory, truth, answer):
    """VSI-Bench numeric ground truths and MMSI answers: a row loads with a valid truth, or the
    folder fails in one line naming the file."""
    root = tmp_path_factory.mktemp("vsi")
    (root / "arkitscenes").mkdir()
    shutil.copy(folders["vsibench"] / "arkitscenes" / "41069025.mp4", root / "arkitscenes" / "41069025.mp4")
    table = pq.read_table(folders["vsibench"] / "test-00000-of-00001.parquet")
    rows = [dict(table.to_pylist()[0], ground_truth=truth)]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / "test.parquet")
    try:
        (row,) = load_benchmark("vsibench", root, frames=1)
    except BenchmarkError as e:
        assert "\n" not in str(e) and str(root / "test.parquet") in str(e)
    else:
        float(row["answer"])
    mroot = tmp_path_factory.mktemp("mmsi")
    m = pq.read_table(folders["mmsi"] / "MMSI_Bench.parquet")
    pq.write_table(pa.Table.from_pylist([dict(m.to_pylist()[0], answer=answer)], schema=m.schema), mroot / "x.parquet")
    try:
        (row,) = load_benchmark("mmsi", mroot)
    except BenchmarkError as e:
        assert "\n" not in str(e) and str(mroot / "x.parquet") in str(e)
    else:
        assert row["answer"] in mmsi.LETTERS and answer.strip().upper() == row["answer"]


# --- wiring: the CLI's evaluation sets, the asset's arguments, a real model ---------------------
def test_cli_reads_benchmark_sets_and_fails_in_one_line(folders, tmp_path):
    from remot_train.cli import CLIError, evaluation_sets

    args = argparse.Namespace(benchmark=[f"vsibench:{folders['vsibench']}", f"vsibench:{folders['vsibench']}"],
                              benchmark_frames=2, image_max_side=32, benchmark_limit=3)
    sets = evaluation_sets(args)
    assert [(n, k, len(r)) for n, k, r in sets] == [("vsibench", "vsibench", 3), ("vsibench-2", "vsibench", 3)]
    args.benchmark = [f"camerabench:{tmp_path}"]
    with pytest.raises(CLIError) as info:
        evaluation_sets(args)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_evaluation_asset_passes_configured_benchmarks(tmp_path):
    import dagster as dg

    from remot_pipeline.defs.resources import RemotPaths
    from remot_pipeline.defs.training import TrainingConfig, benchmark_args

    paths = RemotPaths(data_root=str(tmp_path))
    args = benchmark_args(TrainingConfig(benchmarks=["vsibench:benchmarks/vsibench", "mmsi:/abs/mmsi"],
                                         benchmark_frames=4, benchmark_questions=5), paths)
    assert args == ["--benchmark", f"vsibench:{(tmp_path / 'benchmarks' / 'vsibench').resolve()}",
                    "--benchmark", "mmsi:/abs/mmsi", "--benchmark-frames", "4", "--benchmark-limit", "5"]
    assert benchmark_args(TrainingConfig(), paths) == []
    with pytest.raises(dg.Failure, match="KIND:PATH"):
        benchmark_args(TrainingConfig(benchmarks=["videobench:x"]), paths)


def test_tiny_model_scores_benchmarks_beside_remot_bench(folders, tmp_path):
    """Real generation on the tiny model for two benchmarks; the summary is the records' own
    recomputation, and the side-by-side table names every evaluation set."""
    from remot_train.cli import sets_markdown
    from remot_train.evaluate import evaluate, summary_row
    from remot_train.model import build_tiny_model, load
    from remot_train.scoring import summarize

    model, processor = load(build_tiny_model(tmp_path / "tiny"))
    tables = {}
    for kind in ("vsibench", "camerabench"):
        rows = load_benchmark(kind, folders[kind], frames=3, image_max_side=32)
        res = evaluate(model, processor, rows, batch_size=8, max_new_tokens=4, by=("question_type",))
        records = [{**r, "index": row.get("index")} for r, row in zip(res.records, rows)]
        assert len(records) == len(rows) and all(isinstance(r["completion"], str) for r in records)
        s = benchmark_summary(kind, records)
        scores = {}
        for r in records:
            scores.setdefault(r["question_type"], []).append(r["score"])
        if kind == "camerabench":
            assert s["value"] == pytest.approx(np.mean([r["score"] for r in records]))
        else:
            cats = {k: np.mean(v) for k, v in scores.items()}
            direction = [cats.pop(k) for k in vsibench.MCA_QUESTION_TYPES[:3] if k in cats]
            assert s["value"] == pytest.approx(np.mean([*cats.values(), np.mean(direction)]))
        tables[kind] = [{"model": "tiny", **s}]
    remot = summary_row("tiny", summarize([dict(triplet_id="t", correct=True, score=1.0, format_ok=True, domain="d",
                                                attribute="a", question_type="q")]))
    md = sets_markdown([remot], tables)
    assert "| model | remot-bench Partial | remot-bench Overall | vsibench overall | camerabench Acc |" in md
    assert "| tiny | 100.0 | 100.0 |" in md and "### vsibench" in md and "### camerabench" in md
