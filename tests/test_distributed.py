"""The distributed path, for real on one machine: a local Redis broker (Debian's ``redis-server`` on
127.0.0.1), two Celery workers (one started as deploy/celery/README.md says for a bare machine, with
``dagster-celery worker start -y deploy/celery/run_config.yaml``, one with the command of
deploy/celery/Dockerfile), and ``build_release_celery`` launched with ``dagster job execute -c
deploy/celery/run_config.yaml``, on the small world of tests/conftest.py. Its release must have the
same id and byte-identical shards as the one built in one process by the ``small_release`` fixture
(the same config, ``small_config()``), and every step of the Celery run must have run in a worker's
process, not in the launcher."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import small_config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ALL_DOMAINS = json.dumps({"dagster/asset_partition_range_start": "navigation",
                          "dagster/asset_partition_range_end": "simulation"})
DEPLOY = ROOT / "deploy" / "celery"
WORKERS = ("remot-w1", "remot")  # `dagster-celery worker start -n remot-w1`; the Dockerfile's remot@%h
FIX = ("redis-server not found: run `make install` as root (it runs apt-get install -y redis-server) "
       "or `apt-get install -y redis-server`")
pytestmark = pytest.mark.slow


def container_worker_command() -> list[str]:
    """The Dockerfile's CMD (exec form), which the test's second worker runs as is (CONCURRENCY=1)."""
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), flags=re.M).group(1))
    assert cmd[:2] == ["sh", "-c"] and "exec celery -A dagster_celery.app" in cmd[2], cmd
    return cmd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``: what a start_new_session Popen started."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(p.name))
    return pids


def stop(proc: subprocess.Popen, timeout: float = 30) -> list[int]:
    """SIGTERM to the process group (a Celery worker shuts down warm), SIGKILL whatever is left after
    ``timeout``; returns the processes still alive after that (should be none)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + timeout
    while time.time() < deadline and (proc.poll() is None or session_pids(proc.pid)):
        time.sleep(0.2)
    if proc.poll() is None or session_pids(proc.pid):
        for pid in session_pids(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.5)
    return session_pids(proc.pid)


def tail(path: Path, n: int = 3000) -> str:
    return f"\n--- {path.name} ---\n" + (path.read_text(errors="replace")[-n:] if path.exists() else "(none)")


def spawn(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def finish(proc: subprocess.Popen, log: Path, timeout: float, what: str) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        pytest.fail(f"{what} did not finish in {timeout:.0f} s" + tail(log))
    assert rc == 0, f"{what} exited {rc}" + tail(log)
    assert "RUN_SUCCESS" in log.read_text(), what + tail(log)


def instance_home(path: Path) -> Path:
    path.mkdir()
    (path / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    # Create its SQLite storage once, before several processes open it: two workers creating it at
    # the same moment can both stamp alembic_version ("more than one head present").
    import dagster as dg

    with dg.DagsterInstance.from_config(str(path)):
        pass
    return path


def release_files(root: Path) -> tuple[str, dict[str, bytes], dict[str, str]]:
    """The release LATEST names: its id, the bytes of every file its manifest lists, their sha256s."""
    from remot_pipeline.core.release import read_latest

    rid = read_latest(root / "releases")
    assert rid, f"no release under {root / 'releases'}"
    path = root / "releases" / rid
    listed = json.loads((path / "manifest.json").read_text())["files"]
    assert listed and all(f["path"].endswith(".parquet") for f in listed)
    data = {f["path"]: (path / f["path"]).read_bytes() for f in listed}
    for f in listed:
        assert hashlib.sha256(data[f["path"]]).hexdigest() == f["sha256"], path / f["path"]
    return rid, data, {f["path"]: f["sha256"] for f in listed}


def test_celery_release_is_byte_identical_to_in_process(tmp_path, small_release):
    t0 = time.time()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.fail(FIX, pytrace=False)
    port = free_port()
    # the small world's config (tests/conftest.py) as run config: the small_release fixture's own
    small = {"resources": {"config": {"config": small_config().model_dump(exclude_defaults=True)}}}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(small))
    run_config = DEPLOY / "run_config.yaml"  # the broker from REMOT_CELERY_BROKER/BACKEND

    base = {k: v for k, v in os.environ.items() if k not in ("REMOT_SOURCES", "DAGSTER_CELERY_BROKER_HOST",
                                                             "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    # dagster-celery's `worker start` runs `celery` from PATH
    base.update(PATH=f"{BIN}{os.pathsep}{base.get('PATH', '')}", DAGSTER_DISABLE_TELEMETRY="1", PYTHONUNBUFFERED="1")
    # the launcher and the workers share one instance, one data root and the broker
    env_c = {**base, "DAGSTER_HOME": str(instance_home(tmp_path / "celery_home")),
             "REMOT_DATA_ROOT": str(tmp_path / "celery_root"), "CONCURRENCY": "1",
             "REMOT_CELERY_BROKER": f"redis://127.0.0.1:{port}/0", "REMOT_CELERY_BACKEND": f"redis://127.0.0.1:{port}/1"}
    execute = [str(BIN / "dagster"), "job", "execute", "-m", "remot_pipeline.definitions", "--tags", ALL_DOMAINS]
    starts = {"remot-w1": [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                           "-y", str(run_config), "-n", "remot-w1", "--", "--concurrency", "1"],
              "remot": container_worker_command()}

    procs: dict[str, subprocess.Popen] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("redis", *WORKERS, "celery_run")}
    leftovers: dict[str, list[int]] = {}
    try:
        procs["redis"] = spawn([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], base, logs["redis"])
        for name in WORKERS:
            procs[name] = spawn(starts[name], env_c, logs[name])
        deadline = time.time() + 120
        waiting = {"redis": "Ready to accept connections", **{n: rf"\b{n}@\S+ ready\." for n in WORKERS}}
        while waiting:
            for name, pattern in list(waiting.items()):
                assert procs[name].poll() is None, f"{name} exited {procs[name].returncode}" + tail(logs[name])
                if re.search(pattern, logs[name].read_text(errors="replace")):
                    del waiting[name]
            assert time.time() < deadline, f"not ready after 120 s: {sorted(waiting)}" + "".join(
                tail(logs[n]) for n in waiting)
            time.sleep(0.3)

        t_ready = time.time() - t0
        procs["celery_run"] = spawn([*execute, "-j", "build_release_celery", "-c", str(run_config),
                                     "-c", str(tmp_path / "small.yaml")], env_c, logs["celery_run"])
        finish(procs["celery_run"], logs["celery_run"], 400, "build_release_celery")
        print(f"broker and workers ready at {t_ready:.1f} s, celery run done at {time.time() - t0:.1f} s")

        # every step ran in a worker's process (checked while the workers are alive), none in the launcher
        import dagster as dg

        with dg.DagsterInstance.from_config(env_c["DAGSTER_HOME"]) as instance:
            (run,) = instance.get_runs()
            assert run.job_name == "build_release_celery" and run.status == dg.DagsterRunStatus.SUCCESS
            started, ran_on = {}, {}
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                if event.event_type_value == "STEP_START":
                    started[entry.step_key] = event.pid
                elif event.event_type_value == "ENGINE_EVENT" and "in celery worker" in (event.message or ""):
                    ran_on[entry.step_key] = event.event_specific_data.metadata["Celery worker"].value
        worker_sids = {procs[n].pid: n for n in WORKERS}
        assert len(started) >= 10 and set(started) == set(ran_on), (sorted(started), sorted(ran_on))
        for step, pid in started.items():
            assert pid != procs["celery_run"].pid, f"{step} ran in the launcher"
            stat = Path(f"/proc/{pid}/stat").read_text()
            sid = int(stat[stat.rindex(")") + 2:].split()[3])
            assert sid in worker_sids, f"{step} ran in pid {pid}, not in a worker"
            assert ran_on[step].split("@")[0] == worker_sids[sid], (step, ran_on[step], worker_sids[sid])
        print(f"steps per worker: { {n: sum(v.split('@')[0] == n for v in ran_on.values()) for n in WORKERS} }")

        rid_c, files_c, sha_c = release_files(tmp_path / "celery_root")
        rid_i, files_i, sha_i = release_files(small_release)
        assert rid_c == rid_i, f"release {rid_c} on Celery, {rid_i} in one process"
        differ = sorted(p for p in sha_c.keys() | sha_i.keys() if sha_c.get(p) != sha_i.get(p))
        assert not differ, f"{len(differ)} of {len(sha_c)} shards differ: {differ[:5]}"
        assert all(files_c[p] == files_i[p] for p in files_i)  # byte-identical shards
    finally:
        for name, proc in reversed(procs.items()):  # the launcher, the workers, then the broker
            leftovers[name] = stop(proc)
        print(f"wall time {time.time() - t0:.1f} s")
    assert not any(leftovers.values()), f"processes left running: {leftovers}"
