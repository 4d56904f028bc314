"""The exact command `make run` uses, as a subprocess, and the report it prints."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def make_run_commands() -> list[list[str]]:
    """The `run` recipe of the Makefile, with its variables expanded."""
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+)\s*:?=\s*(.*)$", text, flags=re.M))
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", text, flags=re.M).group(1)
    bin_dir = str(Path(sys.executable).parent)
    out = []
    for line in recipe.splitlines():
        line = line.strip().lstrip("@").replace("$(BIN)", bin_dir)
        line = re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], line)
        out.append(shlex.split(line))
    return out


def test_make_run_command_end_to_end(tmp_path):
    preflight, job_cmd, report_cmd = make_run_commands()
    assert preflight[1:] == ["-m", "remot_pipeline.preflight"]
    assert job_cmd[1:5] == ["job", "execute", "-m", "remot_pipeline.definitions"]
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "REMOT_DATA_ROOT": str(tmp_path / "data"), "DAGSTER_DISABLE_TELEMETRY": "1"}
    unwritable = subprocess.run(preflight, cwd=ROOT, env={**env, "REMOT_DATA_ROOT": "/sys/remot-data"},
                                capture_output=True, text=True, timeout=60)
    assert unwritable.returncode == 1 and unwritable.stdout == ""
    assert unwritable.stderr.count("\n") == 1 and "/sys/remot-data: cannot write (" in unwritable.stderr
    assert subprocess.run(preflight, cwd=ROOT, env=env, timeout=60).returncode == 0
    job = subprocess.run(job_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "RUN_SUCCESS" in job.stdout + job.stderr
    for check in ("release__coverage", "release__shortcut_audit"):  # the default world covers and passes
        assert f"Asset check '{check}' on 'release' passed" in job.stdout + job.stderr, check
    report = subprocess.run(report_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert f"release: {tmp_path / 'data' / 'releases'}" in report.stdout
    assert "navigation" in report.stdout and "simulation" in report.stdout and "manipulation" in report.stdout
