"""Strict sources files: every typo, wrong type or impossible domain is one line naming the file,
the entry and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import remot_pipeline.sources as sources
from remot_pipeline.sources import COMMON_OPTIONS, READERS, SourceError, load_sources_yaml

SOURCES_DIR = Path(sources.__file__).parent
#: Reads of an options mapping in the readers' code: ``options["k"]``, ``o.get("k")``, ``spec.options.get("k")``.
_OPTION_READ = re.compile(r"""\b(?:options|o)(?:\.get\(\s*|\[\s*)["']([A-Za-z_0-9]+)["']"""
                          r"""|option_float\(\s*\w+,\s*["']([A-Za-z_0-9]+)["']""")
MODULES = {"tum": "tum", "kitti": "kitti", "euroc": "euroc", "realestate10k": "realestate10k", "nerf": "nerf",
           "scannet": "scannet", "sevenscenes": "sevenscenes", "pose_table": "pose_table", "lerobot_v3": "lerobot",
           "remot_sim_jsonl": "simlog", "lerobot_v21": "lerobot_v21", "umi_v1": "umi_v1",
           "robot_table": "robot_table", "sim_pose_table": "sim_conventions"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sources.yaml"
    p.write_text(text)
    return p


def test_every_option_a_reader_reads_is_declared():
    """The allow-lists in sources/__init__.py stay in step with what the readers read."""
    assert set(MODULES) == set(READERS)
    for fmt, module in MODULES.items():
        code = (SOURCES_DIR / f"{module}.py").read_text()
        read = {a or b for a, b in _OPTION_READ.findall(code)}
        allowed = READERS[fmt].options | COMMON_OPTIONS
        # keys of info.json / log records that share the variable names above are not options
        json_keys = {"lerobot_v3": {"codebase_version", "data_path", "features", "fps", "remot", "video_path"},
                     "lerobot_v21": {"codebase_version", "features", "fps", "remot", "video_path", "chunks_size"},
                     "remot_sim_jsonl": {"color_name", "obj2world", "object_id"}}.get(fmt, set())
        assert read - json_keys <= allowed, (fmt, sorted(read - json_keys - allowed))


@pytest.mark.parametrize("entry, message", [
    ("{name: a, domain: navigation, format: tum, path: x, options: {max_time_dif_s: 0.1}}",
     r"source a: unknown option 'max_time_dif_s' for format 'tum' \(did you mean `max_time_diff_s`\?\)"),
    ("{name: a, domain: navigation, format: kitti, path: x, options: {fsp: 10}}",
     r"source a: unknown option 'fsp' for format 'kitti' \(did you mean `fps`\?\)"),
    ("{name: a, domain: navigation, format: tum, path: x, optoins: {}}",
     r"source a: unknown key 'optoins' \(did you mean `options`\?\)"),
    ("{name: a, domain: manipulation, format: tum, path: x}",
     r"source a: format 'tum' feeds navigation, not 'manipulation'; fix `domain` or `format`"),
    ("{name: a, domain: navigation, format: tum, path: x, options: [1, 2]}",
     r"source a: `options` is a list; expected a mapping"),
    ("{name: 7, domain: navigation, format: tum, path: x}", r"source #0: `name` is 7; expected a non-empty string"),
    ("{name: a, domain: navigaton, format: tum, path: x}", r"domain 'navigaton' is not one of .*did you mean `navigation`"),
    ("{name: a, domain: navigation, format: tum}", r"source a: lacks \['path'\]"),
    ("just a string", r"source #0: is a str; expected a mapping"),
    ("{name: a, domain: simulation, format: pose_table, path: x, options: {scene_id: s, metric_scale: false}}", None),
])
def test_a_bad_entry_is_one_line_naming_the_file_and_the_fix(tmp_path, entry, message):
    path = write(tmp_path, f"sources:\n  - {entry}\n")
    if message is None:
        (spec,) = load_sources_yaml(path)
        assert spec.domain == "simulation"
        return
    with pytest.raises(SourceError) as info:
        load_sources_yaml(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)), text
    assert re.search(message, text), text


@pytest.mark.parametrize("text, message", [
    ("- {name: a}\n", r"the top level is a list; expected a mapping `sources: \[...\]`"),
    ("sources: {name: a}\n", r"`sources` is a dict; expected a list"),
    ("sourcse: []\n", r"unknown top-level key 'sourcse' \(did you mean `sources`\?\)"),
    ("sources: [\n", r"invalid YAML"),
])
def test_a_bad_file_is_one_line(tmp_path, text, message):
    with pytest.raises(SourceError, match=message):
        load_sources_yaml(write(tmp_path, text))


def test_a_byte_order_mark_is_read_as_text(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_bytes("\ufeffsources:\n  - {name: a, domain: navigation, format: tum, path: x}\n".encode())
    assert [s.name for s in load_sources_yaml(path)] == ["a"]


@settings(max_examples=40, deadline=None)
@given(fmt=st.sampled_from(sorted(READERS)),
       key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=20))
def test_any_undeclared_option_is_refused_and_any_declared_one_is_accepted(tmp_path_factory, fmt, key):
    r = READERS[fmt]
    domain = (r.domains or (r.domain,))[0]
    path = write(tmp_path_factory.mktemp("s"),
                 f"sources:\n  - {{name: a, domain: {domain}, format: {fmt}, path: x, options: {{'{key}': 1}}}}\n")
    if key in r.options | COMMON_OPTIONS:
        assert load_sources_yaml(path)[0].options == {key: 1}
    else:
        with pytest.raises(SourceError, match=rf"unknown option '{key}' for format '{fmt}'"):
            load_sources_yaml(path)


@pytest.mark.slow
def test_one_broken_source_is_named_in_one_line_and_the_healthy_ones_ingest(small_world, tmp_path):
    """`dagster job execute` with a sources file holding a broken manipulation source beside the
    healthy ones: the run succeeds, the healthy sources are released, the broken one is named."""
    import os
    import subprocess
    import sys

    from remot_pipeline.core.catalog import connect

    repo = Path(__file__).resolve().parents[1]
    broken = tmp_path / "not_a_dataset"
    (broken / "meta").mkdir(parents=True)  # a LeRobot folder without meta/info.json
    sources = write(tmp_path, "sources:\n"
                    f"  - {{name: nav, domain: navigation, format: tum, path: {small_world / 'navigation'}}}\n"
                    f"  - {{name: arm, domain: manipulation, format: lerobot_v3, path: {small_world / 'manipulation'}}}\n"
                    f"  - {{name: broken_arm, domain: manipulation, format: lerobot_v3, path: {broken}}}\n"
                    f"  - {{name: sim, domain: simulation, format: remot_sim_jsonl, path: {small_world / 'simulation'}}}\n")
    run_config = tmp_path / "run.yaml"
    run_config.write_text("execution:\n  config:\n    in_process: {}\n"
                          "resources:\n  config:\n    config:\n      synthetic: {enabled: false}\n"
                          "      coverage: {min_train_triplets_per_value: 0, min_bench_triplets_per_value: 0}\n"
                          "      audit: {enabled: false}\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "REMOT_DATA_ROOT": str(tmp_path / "data"),
           "REMOT_SOURCES": str(sources), "DAGSTER_DISABLE_TELEMETRY": "1"}
    tags = '{"dagster/asset_partition_range_start": "navigation", "dagster/asset_partition_range_end": "simulation"}'
    out = subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "remot_pipeline.definitions",
                          "-j", "build_release", "-c", str(run_config), "--tags", tags],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    named = [ln for ln in log.splitlines() if "source 'broken_arm' failed and was left out" in ln]
    assert named and f"{broken}: source 'broken_arm' holds no episode a 'lerobot_v3' reader recognises" in named[0], \
        log[-3000:]
    assert "Asset check 'episode_frames__sources_read' on 'episode_frames' did not pass" in log
    con = connect(tmp_path / "data")
    eps = {r[0] for r in con.sql("SELECT DISTINCT episode_id FROM episodes WHERE domain = 'manipulation'").fetchall()}
    assert eps and all(e.startswith("arm/") for e in eps)
