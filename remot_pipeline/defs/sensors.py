"""Sensors: one picks up datasets dropped into ``<data_root>/raw/<domain>/<name>/``; the other,
``dead_run_reaper``, marks runs whose worker process was killed as dead so that the run queue moves."""

import json
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import dagster as dg

from remot_pipeline.defs.resources import RemotPaths
from remot_pipeline.sources import DOMAINS
from remot_pipeline.sources.dropfolder import fingerprint


def make_drop_folder_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests a build for a domain when files under data/raw/<domain>/ change.")
    def raw_drop_folders(context: dg.SensorEvaluationContext, paths: RemotPaths):
        seen = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for domain in DOMAINS:
            fp = fingerprint(paths.root / "raw", domain)
            if fp is not None and seen.get(domain) != fp:
                requests.append(dg.RunRequest(run_key=f"{domain}:{fp}", partition_key=domain,
                                              tags={"remot/trigger": "drop_folder"}))
                seen[domain] = fp
        context.update_cursor(json.dumps(seen, sort_keys=True))
        return requests or dg.SkipReason("no change under data/raw/<domain>/")

    return raw_drop_folders


# --- Dead run reaper --------------------------------------------------------------------------------
# Dagster's DefaultRunLauncher has no run worker health check (supports_check_run_worker_health is
# False), so the run monitoring daemon cannot tell that the process executing a STARTED run is gone.
# A `dagster job execute` run (`make run`) killed with SIGKILL, by the OOM killer or by a closed
# terminal, or a UI run whose code server died with it, would stay STARTED for ever and hold one of
# the run queue's slots (dagster_home/dagster.yaml). This sensor is that health check for runs that
# were executed on this host.

#: Run tag naming the host whose process executes the run. Our jobs set it (``run_tags`` in
#: definitions.py), in the process that loads the code: the CLI for `dagster job execute`, the code
#: server, which starts the run worker on its own host, for a run launched from the UI.
HOST_TAG = "remot/host"

#: Seconds a process may appear to have started after its run did and still count as the run's
#: worker. The process start time read from /proc is rebuilt from the boot time, which moves when the
#: wall clock is stepped; the slack keeps a clock step from failing a live run. Erring this way only
#: delays reaping: a pid reused within 10 s of the run's start is treated as alive until it exits.
PID_REUSE_SLACK_S = 10.0

WATCHED_STATUSES = (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING)


def host_tags() -> dict[str, str]:
    """The run tags that let :func:`dead_run_reaper` check a run's worker: ``{HOST_TAG: hostname}``."""
    return {HOST_TAG: socket.gethostname()}


class DeadRun(NamedTuple):
    run: dg.DagsterRun
    pid: int
    why: str


def _process_started_at(pid: int) -> float | None:
    """Linux: when process ``pid`` started, in seconds since the epoch; None when there is no such
    process or it is a zombie (exited, not yet reaped: it executes nothing).

    /proc/<pid>/stat field 22 is the start time in clock ticks after boot; /proc/stat's ``btime`` is
    the boot time in epoch seconds (truncated, so the result is at most 1 s early).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name, in parentheses, may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
    return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def worker_alive(pid: int, run_started_at: float) -> bool:
    """Whether process ``pid`` can still be the worker of a run that started at ``run_started_at``
    (epoch seconds, the timestamp of the run's RUN_START event, written by that worker).

    Linux: the process exists, is not a zombie, and started no later than the run (plus
    ``PID_REUSE_SLACK_S``); a process that started after the run is a later one that reuses the pid.
    Other POSIX systems: the process exists (no pid-reuse check). Elsewhere (Windows, where
    ``os.kill(pid, 0)`` would terminate the process): always True, i.e. the run is left alone.
    """
    if Path("/proc/self/stat").exists():
        started_at = _process_started_at(pid)
        return started_at is not None and started_at <= run_started_at + PID_REUSE_SLACK_S
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def run_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[int, float] | None:
    """``(pid, started_at)`` of the process executing ``run``: the pid that wrote its RUN_START event
    (``DagsterEvent.pid``, set to ``os.getpid()`` by the process that executes the run: the
    `dagster job execute` process, the code server's child for a launched run, the multiprocess
    executor's parent) and that event's timestamp, in epoch seconds. None when the run has not
    started (no RUN_START: a run canceled while STARTING) or the event carries no pid.
    """
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return None
    entry = records[0].event_log_entry
    pid = entry.dagster_event.pid
    return (pid, entry.timestamp) if pid else None


def dead_runs(instance: dg.DagsterInstance, runs: Iterable[dg.DagsterRun]) -> list[DeadRun]:
    """The runs among ``runs`` (STARTED or CANCELING) whose worker process is gone.

    Only runs tagged with this host's name (``HOST_TAG``) are judged: a pid means nothing on
    another host, and a run without the tag (another code location, the asset graph's Materialize
    button, whose implicit job carries no run tags) cannot be placed. Reads the event log and
    /proc; changes nothing. Not timed: the pid and the start times decide, not a clock.
    """
    host = socket.gethostname()
    dead = []
    for run in runs:
        if run.status not in WATCHED_STATUSES or run.tags.get(HOST_TAG) != host:
            continue
        worker = run_worker(instance, run)
        if worker is None:
            continue
        pid, started_at = worker
        if not worker_alive(pid, started_at):
            dead.append(DeadRun(run, pid, f"pid {pid} on {host} has exited or now belongs to a later process"))
    return dead


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks runs of this host whose worker process is gone (killed) FAILURE, or "
                       "CANCELED when they were being terminated, so that the run queue moves.")
def dead_run_reaper(context: dg.SensorEvaluationContext):
    """Every 30 s (the daemon that `make ui` starts), the worker health check Dagster's default
    launcher lacks: a STARTED or CANCELING run of this host whose worker process is gone is marked
    FAILURE (CANCELING: CANCELED), which hands its run queue slot back. Never requests a run; the
    tick always ends with a SkipReason saying what it did. Runs whose status changed meanwhile (a
    worker that wrote RUN_SUCCESS and exited between the query and the check) are left alone.
    """
    instance = context.instance
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=list(WATCHED_STATUSES), tags=host_tags()))
    reaped, errors = [], []
    for candidate in runs:
        try:  # one bad run must not fail the tick for the others
            for dead in dead_runs(instance, [candidate]):
                run = instance.get_run_by_id(dead.run.run_id)  # after the pid check: a finished run says so now
                if run is None or run.status not in WATCHED_STATUSES:
                    continue
                canceling = run.status == dg.DagsterRunStatus.CANCELING
                message = (f"Run worker process is gone (killed?): {dead.why}. Marked "
                           f"{'CANCELED' if canceling else 'FAILURE'} by the dead_run_reaper sensor.")
                if canceling:
                    instance.report_run_canceled(run, message)
                else:
                    instance.report_run_failed(run, message)
                context.log.warning(f"run {run.run_id} ({run.job_name}): {message}")
                reaped.append(f"{run.run_id[:8]} (pid {dead.pid})")
        except Exception as exc:
            context.log.exception(f"could not check or mark run {candidate.run_id}")
            errors.append(f"{candidate.run_id[:8]}: {exc!r}")
    summary = f"{len(runs)} STARTED/CANCELING run(s) on {socket.gethostname()}; "
    summary += f"marked dead: {', '.join(reaped)}" if reaped else "no dead worker"
    return dg.SkipReason(summary + (f"; errors: {'; '.join(errors)}" if errors else ""))
