"""Runs that die are marked dead, and the run queue moves on (issue "Release integrity").

The instance is dagster_home/dagster.yaml: a QueuedRunCoordinator (max_concurrent_runs) and the
run monitoring daemon; the code location adds the dead_run_reaper sensor (remot_pipeline/defs/
sensors.py), the worker health check that Dagster's default run launcher lacks. The end-to-end
tests use real Dagster parts on a temporary copy of that file: a real code server (`dagster api
grpc`) that launches UI runs the way `make ui` does, the webserver's GraphQL schema (in process, no
HTTP) for the Launch and Terminate buttons, real `dagster job execute` processes for `make run`-style
runs, SIGKILL, and the daemons that `dagster-daemon run` would start for this instance (created and
ticked as its controller does).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REPO_INSTANCE_YAML = ROOT / "dagster_home" / "dagster.yaml"
LOCATION = "run_monitoring_test"

JOBS = '''
import os
import time
from pathlib import Path

from dagster import Definitions, in_process_executor, job, op

PIDS = Path(__file__).with_name("pids")


@op
def hold(context):
    # in-process executor: this is the run worker's own process (the CLI process for
    # `dagster job execute`, the code server's child for a launched run)
    (PIDS / f"{context.run_id}.pid").write_text(str(os.getpid()))
    time.sleep(600)


@op
def noop():
    return 1


@job(executor_def=in_process_executor)
def sleepy():
    hold()


@job(executor_def=in_process_executor)
def quick():
    noop()


defs = Definitions(jobs=[sleepy, quick])
'''


def repo_instance_config() -> dict:
    return yaml.safe_load(REPO_INSTANCE_YAML.read_text())


def test_repo_instance_loads_with_run_monitoring(tmp_path):
    """dagster_home/dagster.yaml passes Dagster's instance validation and makes `dagster-daemon run`
    (started by `make ui`) run the MONITORING daemon next to the run queue."""
    from dagster import DagsterInstance
    from dagster._core.run_coordinator import QueuedRunCoordinator

    (tmp_path / "dagster.yaml").write_text(REPO_INSTANCE_YAML.read_text())
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs >= 1
        assert not instance.telemetry_enabled
        assert instance.run_monitoring_enabled
        assert {"MONITORING", "QUEUED_RUN_COORDINATOR"} <= set(instance.get_required_daemon_types())
        # the launcher cannot resume a run, so the instance only loads with 0 attempts
        assert not instance.run_launcher.supports_resume_run
        assert instance.run_monitoring_max_resume_run_attempts == 0
        # What dagster_home/dagster.yaml's comments say: the default launcher has no worker health
        # check, so a STARTED run is only checked against a max runtime. If a Dagster upgrade adds
        # one, the comments (and the README's guarantees) are out of date.
        assert not instance.run_launcher.supports_check_run_worker_health


def _status(instance, run_id):
    return instance.get_run_by_id(run_id).status.value


def _wait(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_dead_runs_are_marked_dead_and_the_queue_moves(tmp_path):
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster._daemon.controller import create_daemon_of_type
    from dagster_graphql.client.client_queries import CLIENT_SUBMIT_PIPELINE_RUN_MUTATION, TERMINATE_RUN_JOB_MUTATION
    from dagster_graphql.test.utils import execute_dagster_graphql

    config = repo_instance_config()
    max_runs = config["run_coordinator"]["config"]["max_concurrent_runs"]
    # The test instance is the repository's file with two numbers shrunk so the test takes seconds,
    # not minutes: the daemon's poll interval and the cancel timeout. Everything else, `enabled`
    # included, is the repository's.
    config["run_monitoring"] = {**config.get("run_monitoring", {}), "poll_interval_seconds": 1, "cancel_timeout_seconds": 2}
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    job_file = tmp_path / "jobs.py"
    job_file.write_text(JOBS)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster_cli = str(Path(sys.executable).parent / "dagster")
    cli_runs: list[subprocess.Popen] = []
    started_pids: list[int] = []

    def pid_of(run_id: str) -> int:
        _wait(lambda: (pids / f"{run_id}.pid").is_file() and (pids / f"{run_id}.pid").read_text(), 60, f"run {run_id}'s op")
        pid = int((pids / f"{run_id}.pid").read_text())
        started_pids.append(pid)
        return pid

    with DagsterInstance.from_config(str(home)) as instance, WorkspaceProcessContext(
        instance, PythonFileTarget(python_file=str(job_file), attribute="defs", working_directory=str(tmp_path), location_name=LOCATION)
    ) as workspace:
        required = instance.get_required_daemon_types()
        # `dagster-daemon run` starts these only when the instance requires them (controller.py)
        queue = create_daemon_of_type("QUEUED_RUN_COORDINATOR", instance)
        monitor = create_daemon_of_type("MONITORING", instance) if "MONITORING" in required else None

        def tick(daemon) -> None:
            if daemon is None:
                return
            errors = [e for e in daemon.run_iteration(workspace) if e is not None]
            assert not errors, errors

        def monitor_until(predicate, timeout, what) -> None:
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    pytest.fail(f"{what} after {timeout} s of run monitoring "
                                f"(MONITORING daemon {'running' if monitor else 'not started: run_monitoring is off'})")
                tick(monitor)
                time.sleep(monitor.interval_seconds if monitor else 1)

        def ui_launch(job_name: str) -> str:
            res = execute_dagster_graphql(workspace.create_request_context(), CLIENT_SUBMIT_PIPELINE_RUN_MUTATION, {
                "executionParams": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                                                 "pipelineName": job_name}, "runConfigData": {}}})
            out = res.data["launchPipelineExecution"]
            assert out["__typename"] == "LaunchRunSuccess", out
            return out["run"]["runId"]

        try:
            with queue:
                # 1. A run launched from the UI: queued, dequeued by the run queue daemon, started
                #    by the code server in a child process.
                ui_run = ui_launch("sleepy")
                assert _status(instance, ui_run) == "QUEUED"
                tick(queue)
                pid_of(ui_run)
                assert _status(instance, ui_run) == "STARTED"

                # 2. `make run`-style runs (`dagster job execute`, no queue), as many as the queue
                #    allows; the first carries a `dagster/max_runtime` tag.
                for i in range(max_runs):
                    tags = ["--tags", json.dumps({"dagster/max_runtime": "3"})] if i == 0 else []
                    cli_runs.append(subprocess.Popen([dagster_cli, "job", "execute", "-f", str(job_file), "-a", "defs", "-j", "sleepy", *tags],
                                                     cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                     start_new_session=True))
                _wait(lambda: len(list(pids.glob("*.pid"))) == 1 + max_runs, 90, "the CLI runs to start")
                cli_ids = sorted({p.stem for p in pids.glob("*.pid")} - {ui_run},
                                 key=lambda r: "dagster/max_runtime" not in instance.get_run_by_id(r).tags)
                timed_run, untimed_runs = cli_ids[0], cli_ids[1:]
                for run_id in cli_ids:
                    pid_of(run_id)
                    assert _status(instance, run_id) == "STARTED"

                # 3. A new UI run waits: the queue is full.
                waiting = ui_launch("quick")
                tick(queue)
                assert _status(instance, waiting) == "QUEUED"

                # 4. Every run worker is killed.
                for pid in started_pids:
                    os.kill(pid, signal.SIGKILL)
                for proc in cli_runs:
                    proc.wait(timeout=30)

                # 5. The launched run: its code server sees its child die and marks it FAILURE
                #    (no daemon involved). The queue is still full of the dead CLI runs.
                _wait(lambda: _status(instance, ui_run) == "FAILURE", 30, "the code server to fail the killed UI run")
                assert any("SIGKILL" in (e.message or "") for e in instance.all_logs(ui_run))
                tick(queue)
                assert _status(instance, waiting) == "QUEUED"
                assert all(_status(instance, r) == "STARTED" for r in cli_ids)

                # 6. Run monitoring fails the dead CLI run that has a max runtime ...
                monitor_until(lambda: _status(instance, timed_run) == "FAILURE", 30,
                              "the killed run tagged dagster/max_runtime=3 is not FAILURE")
                # ... and, having no worker health check for this launcher, leaves an untagged
                # dead run STARTED (these jobs lack the remot/host tag and the dead_run_reaper
                # sensor: this is Dagster's own behaviour; the next test covers the reaper).
                assert all(_status(instance, r) == "STARTED" for r in untimed_runs)

                # 7. Terminate in the UI cannot reach a dead CLI run: it is left CANCELING, and run
                #    monitoring marks it CANCELED after cancel_timeout_seconds.
                for run_id in untimed_runs:
                    res = execute_dagster_graphql(workspace.create_request_context(), TERMINATE_RUN_JOB_MUTATION, {"runId": run_id})
                    assert res.data["terminateRun"]["__typename"] == "TerminateRunFailure", res.data
                    assert _status(instance, run_id) == "CANCELING"
                monitor_until(lambda: all(_status(instance, r) == "CANCELED" for r in untimed_runs), 30,
                              "the terminated dead runs are not CANCELED")

                # 8. The queue moves: the waiting run is dequeued and finishes.
                tick(queue)
                assert _status(instance, waiting) != "QUEUED"
                _wait(lambda: _status(instance, waiting) == "SUCCESS", 60, "the dequeued run to succeed")
        finally:
            for pid in started_pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for proc in cli_runs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=30)


# The same jobs as remot_pipeline's (definitions.py): tagged with the host that runs them, in a
# code location that carries the dead_run_reaper sensor.
REAPER_JOBS = (JOBS.replace("from dagster import Definitions, in_process_executor, job, op\n",
                            "from dagster import Definitions, in_process_executor, job, op\n\n"
                            "from remot_pipeline.defs.sensors import dead_run_reaper, host_tags\n")
               .replace("@job(executor_def=in_process_executor)", "@job(executor_def=in_process_executor, run_tags=host_tags())")
               .replace("defs = Definitions(jobs=[sleepy, quick])", "defs = Definitions(jobs=[sleepy, quick], sensors=[dead_run_reaper])"))
assert REAPER_JOBS.count("run_tags=host_tags()") == 2 and "sensors=[dead_run_reaper]" in REAPER_JOBS


def test_remot_jobs_carry_the_host_tag_and_the_reaper_runs_by_default():
    """The reaper only judges runs tagged with this host, and runs without a click in `make ui`."""
    import dagster as dg

    from remot_pipeline import definitions
    from remot_pipeline.defs.sensors import HOST_TAG

    for job in ("build_release", "train_models"):
        assert definitions.defs.resolve_job_def(job).run_tags[HOST_TAG] == socket.gethostname()
    reaper = definitions.defs.resolve_sensor_def("dead_run_reaper")
    assert reaper.default_status == dg.DefaultSensorStatus.RUNNING
    assert reaper.minimum_interval_seconds == 30


def test_worker_alive_tells_the_worker_from_a_reused_pid():
    """Real processes: a worker started before its run; a process that started after the run only
    reuses the pid; a zombie or a reaped process executes nothing."""
    from remot_pipeline.defs.sensors import PID_REUSE_SLACK_S, worker_alive

    now = time.time()
    assert worker_alive(os.getpid(), now)
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert worker_alive(child.pid, time.time())
        # a run that started a minute before this process: the pid was reused
        assert not worker_alive(child.pid, now - 6 * PID_REUSE_SLACK_S)
    finally:
        child.kill()
    _wait(lambda: Path(f"/proc/{child.pid}/stat").read_text().split(")")[-1].split()[0] == "Z", 10, "a zombie")
    assert not worker_alive(child.pid, time.time())  # killed, not yet reaped
    child.wait()
    assert not worker_alive(child.pid, time.time())


@pytest.mark.slow
def test_reaper_fails_a_killed_run_of_this_host_and_the_queue_moves(tmp_path):
    """`make run`-style runs, killed with SIGKILL, stay STARTED and keep the queue full; one
    evaluation of the dead_run_reaper sensor by the sensor daemon marks the one of this host FAILURE,
    leaves a live run and a run of another host alone, and the queued UI run is then dequeued; a
    CANCELING run whose worker is gone is marked CANCELED."""
    from dagster import DagsterEventType, DagsterInstance, SkipReason, build_sensor_context
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster._daemon.controller import create_daemon_of_type
    from dagster._daemon.sensor import execute_sensor_iteration
    from dagster_graphql.client.client_queries import CLIENT_SUBMIT_PIPELINE_RUN_MUTATION
    from dagster_graphql.test.utils import execute_dagster_graphql

    from remot_pipeline.defs.sensors import HOST_TAG, dead_run_reaper, dead_runs

    config = repo_instance_config()
    # Three runs at once fill the queue: one to kill here, one live, one killed "on another host".
    config["run_coordinator"]["config"]["max_concurrent_runs"] = 3
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    job_file = tmp_path / "jobs.py"
    job_file.write_text(REAPER_JOBS)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster_cli = str(Path(sys.executable).parent / "dagster")
    procs: dict[str, subprocess.Popen] = {}

    with DagsterInstance.from_config(str(home)) as instance, WorkspaceProcessContext(
        instance, PythonFileTarget(python_file=str(job_file), attribute="defs", working_directory=str(tmp_path), location_name=LOCATION)
    ) as workspace:
        queue = create_daemon_of_type("QUEUED_RUN_COORDINATOR", instance)

        def tick_queue() -> None:
            errors = [e for e in queue.run_iteration(workspace) if e is not None]
            assert not errors, errors

        try:
            with queue:
                for name in ("killed", "live", "elsewhere"):
                    tags = ["--tags", json.dumps({HOST_TAG: "another-host"})] if name == "elsewhere" else []
                    procs[name] = subprocess.Popen([dagster_cli, "job", "execute", "-f", str(job_file), "-a", "defs", "-j", "sleepy", *tags],
                                                   cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                   start_new_session=True)
                _wait(lambda: len([p for p in pids.glob("*.pid") if p.read_text()]) == 3, 90, "the CLI runs to start")
                # in-process executor: the op runs in the `dagster job execute` process itself
                run_of_pid = {int(p.read_text()): p.stem for p in pids.glob("*.pid")}
                run = {name: run_of_pid[proc.pid] for name, proc in procs.items()}
                assert all(_status(instance, r) == "STARTED" for r in run.values())
                assert instance.get_run_by_id(run["killed"]).tags[HOST_TAG] == socket.gethostname()
                assert dead_runs(instance, instance.get_runs()) == []  # every worker is alive

                # A UI run waits: the queue is full.
                res = execute_dagster_graphql(workspace.create_request_context(), CLIENT_SUBMIT_PIPELINE_RUN_MUTATION, {
                    "executionParams": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                                                     "pipelineName": "quick"}, "runConfigData": {}}})
                assert res.data["launchPipelineExecution"]["__typename"] == "LaunchRunSuccess", res.data
                waiting = res.data["launchPipelineExecution"]["run"]["runId"]
                tick_queue()
                assert _status(instance, waiting) == "QUEUED"

                # Two workers are killed; nothing in Dagster notices: their runs stay STARTED.
                for name in ("killed", "elsewhere"):
                    os.kill(procs[name].pid, signal.SIGKILL)
                    procs[name].wait(timeout=30)
                tick_queue()
                assert _status(instance, waiting) == "QUEUED"
                assert _status(instance, run["killed"]) == "STARTED"

                # One sensor daemon iteration: the code server evaluates the reaper.
                errors = [e for e in execute_sensor_iteration(workspace, logging.getLogger("sensor_daemon"), None, None) if e is not None]
                assert not errors, errors
                assert _status(instance, run["killed"]) == "FAILURE"
                failure = instance.get_records_for_run(run["killed"], of_type=DagsterEventType.RUN_FAILURE).records
                assert f"pid {procs['killed'].pid}" in failure[-1].event_log_entry.message
                assert "worker process is gone (killed?)" in failure[-1].event_log_entry.message
                assert _status(instance, run["live"]) == "STARTED" and procs["live"].poll() is None
                assert _status(instance, run["elsewhere"]) == "STARTED"  # its pid means nothing here
                location = workspace.create_request_context().get_code_location(LOCATION)
                remote = location.get_repository("__repository__").get_sensor("dead_run_reaper")
                (tick,) = instance.get_ticks(remote.get_remote_origin_id(), remote.selector_id)
                assert tick.status == TickStatus.SKIPPED and run["killed"][:8] in tick.skip_reason, tick

                # The queue moves: the waiting run is dequeued and finishes.
                tick_queue()
                assert _status(instance, waiting) != "QUEUED"
                _wait(lambda: _status(instance, waiting) == "SUCCESS", 60, "the dequeued run to succeed")

                # A run being terminated (CANCELING, as Terminate leaves a run whose worker it cannot
                # reach) whose worker is gone is marked CANCELED, here by calling the sensor directly.
                os.kill(procs["live"].pid, signal.SIGKILL)
                procs["live"].wait(timeout=30)
                instance.report_run_canceling(instance.get_run_by_id(run["live"]))
                assert isinstance(dead_run_reaper(build_sensor_context(instance=instance)), SkipReason)
                assert _status(instance, run["live"]) == "CANCELED"
                assert _status(instance, run["elsewhere"]) == "STARTED"
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=30)
