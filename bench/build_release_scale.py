"""Build a release at scale (ReMoT-16K by default) and measure it: wall time, peak memory, counts.

    python bench/build_release_scale.py --config configs/remot-16k.yaml [--data-root DIR] [--cores 2]
                                        [--name NAME] [--timeout SECONDS]

Runs ``build_release`` exactly as ``make run`` does, as a subprocess,

    dagster job execute -m remot_pipeline.definitions -j build_release -c <config> --tags <all domains>

(the in-process executor: the whole run is one Python process), then reads the release that
``<data root>/releases/LATEST`` names and writes ``bench/results/release_scale_<name>.json``
and prints one Markdown line for the README. The run's log goes to
``<data root>/build_release_scale.<name>.log``.

Measured:

* ``wall_s``: wall-clock seconds of the subprocess (start to exit).
* ``peak_rss_mib``: ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the child exits:
  the peak resident set of the **largest single process** among the waited-for descendants
  (Linux reports the maximum, not a sum). Here that is the one Python process that executes
  the job in process.
* ``peak_rss_tree_sampled_mib``: the largest sum of RSS over the child's process tree, sampled
  from ``/proc`` every ``--sample-s`` seconds (a lower bound on the true tree peak; short spikes
  between samples are missed).
* ``cpu_user_s`` / ``cpu_sys_s``: CPU time of the waited-for descendants.
* ``peak_rss_largest_process_sampled_mib`` / ``cpu_sampled_s``: the largest VmHWM (a process's own
  peak RSS) and the summed CPU time of every process of the tree the sampler saw. The processes a
  multiprocess executor forks from a **forkserver** are the forkserver's children, which
  ``RUSAGE_CHILDREN`` never counts; these two see them (lower bounds: a process's last moments
  between two samples are missed).
* ``cores``: the CPUs the child was allowed to use (``os.sched_getaffinity``). With
  ``--cores N`` the child is pinned to the first N CPUs of this process's affinity set
  (``os.sched_setaffinity`` between fork and exec, as ``taskset`` would), and BLAS / OpenMP
  thread counts are left to the libraries (they see the pinned set).
* From the release: ``release_id``, whether this run wrote it or found it already present,
  rows of ``triplets`` / ``questions`` per domain and split (from the manifest, cross-checked
  against each Parquet footer), questions by type, the size on disk.
* From the stage store (``<data root>/stages``): per domain and split, the deduplicated
  candidates the ``triplets`` stage chose from and the cap, i.e. the headroom of the
  configured synthetic world (``candidates / cap``; below 1 means the domain misses its cap).
* Per-step seconds, parsed from Dagster's ``STEP_SUCCESS`` lines.

``--data-root`` overrides both ``paths.data_root`` and the stage IO manager's root (an extra
run-config file, listed first, so it takes precedence); ``REMOT_DATA_ROOT`` is set to it too.
Exit status: the job's (0 when it succeeded); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ALL_DOMAINS_TAGS = {"dagster/asset_partition_range_start": "navigation",
                    "dagster/asset_partition_range_end": "simulation"}
STEP_RE = re.compile(r'Finished execution of step "([^"]+)" in ([0-9hms.]+)\.')
FAIL_RE = re.compile(r'Execution of step "([^"]+)" failed')
RELEASE_RE = re.compile(r"release ([0-9a-f]{16}) published at \S+ \((written|already present)")
CHECK_FAIL_RE = re.compile(r"Asset check '([^']+)' on '[^']+' did not pass")


# ------------------------------------------------------------------------------ helpers ---

def parse_duration(text: str) -> float:
    """Dagster's step durations: ``223ms``, ``3.37s``, ``1m6s``, ``1h2m3s`` -> seconds."""
    if text.endswith("ms") and text[:-2].replace(".", "", 1).isdigit():
        return float(text[:-2]) / 1000
    total = 0.0
    for value, unit in re.findall(r"([0-9.]+)([hms])", text):
        total += float(value) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def step_peak_rss_mib(log_text: str, processes: dict[int, tuple[int, float, int]]) -> dict[str, float]:
    """The largest sampled peak RSS (VmHWM) per step, dynamic copies together (``shard_work[...]``
    -> ``shard_work``): a process counts for the step its own pid ran (the log's ``STEP_START``
    lines name the pid), or else its nearest ancestor's (a step's worker processes)."""
    import re

    step_of: dict[int, str] = {}
    for m in re.finditer(r" - (\d+) - ([\w.]+)(?:\[[^\]]*\])? - STEP_START - ", log_text):
        step_of[int(m.group(1))] = m.group(2)
    out: dict[str, float] = {}
    for pid, (hwm, _, ppid) in processes.items():
        p, seen = pid, set()
        while p not in step_of and p in processes and p not in seen:
            seen.add(p)
            p = processes[p][2]
        step = step_of.get(p, "(other)")
        out[step] = max(out.get(step, 0.0), round(hwm / 2**20, 1))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def step_seconds(log_text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for step, duration in STEP_RE.findall(log_text):
        out[step] = round(out.get(step, 0.0) + parse_duration(duration), 3)
    return out


def read_run_config(paths: list[Path]) -> dict:
    """Dagster's merge of several ``-c`` files: the first listed wins, key by key."""
    def smash(base: dict, top: dict) -> dict:
        out = dict(base)
        for k, v in top.items():
            out[k] = smash(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    merged: dict = {}
    for p in reversed(paths):
        merged = smash(merged, yaml.safe_load(Path(p).read_text()) or {})
    return merged


def data_root_of(run_config: dict) -> str:
    paths = ((run_config.get("resources") or {}).get("paths") or {}).get("config") or {}
    return paths.get("data_root") or os.environ.get("REMOT_DATA_ROOT", "data")


def tree_sample(root_pid: int) -> tuple[int, dict[int, tuple[int, float, int]]]:
    """``(sum of RSS over root_pid and its descendants, {pid: (VmHWM bytes, CPU seconds, ppid)})``
    from /proc (empty when it is gone). VmHWM is each process's own peak RSS so far, so a
    process seen once reports its true peak up to that moment."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            ppid = int(fields[1])
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except (OSError, ValueError, IndexError):
            continue
        pid = int(entry)
        children.setdefault(ppid, []).append(pid)
        parent[pid] = ppid
        rss[pid] = int(statm[1]) * page
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    total, stack, seen = 0, [root_pid], {}
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        hwm = 0
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
        except OSError:
            pass
        if pid in rss:
            seen[pid] = (hwm, cpu.get(pid, 0.0), parent.get(pid, 0))
        stack.extend(children.get(pid, []))
    return total, seen


def tree_rss_bytes(root_pid: int) -> int:
    """Sum of RSS over ``root_pid`` and its descendants, from /proc (0 if it is gone)."""
    return tree_sample(root_pid)[0]


class TreeSampler(threading.Thread):
    """Samples the child's process tree every ``every_s``: the peak summed RSS, and per process
    its peak RSS (VmHWM) and CPU time as last seen. What RUSAGE_CHILDREN cannot see (processes a
    forkserver forks are its children, not ours) is seen here; a process's last moments between
    samples are not (lower bounds)."""

    def __init__(self, pid: int, every_s: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.peak = pid, every_s, 0
        self.processes: dict[int, tuple[int, float, int]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                total, seen = tree_sample(self.pid)
                self.peak = max(self.peak, total)
                for pid, (hwm, cpu, ppid) in seen.items():
                    old = self.processes.get(pid, (0, 0.0, ppid))
                    self.processes[pid] = (max(old[0], hwm), max(old[1], cpu), ppid)
            except OSError:
                pass
            self._halt.wait(self.every_s)

    @property
    def largest_process_bytes(self) -> int:
        return max((h for h, _, _ in self.processes.values()), default=0)

    @property
    def cpu_s(self) -> float:
        return sum(c for _, c, _ in self.processes.values())

    def stop(self) -> None:
        self._halt.set()
        self.join()


def git_state() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty_files": len(git("status", "--porcelain").splitlines())}


# --------------------------------------------------------------------------- the release ---

def release_summary(data_root: Path, release_id: str | None = None) -> dict | None:
    """Counts of release ``release_id``, else of the one ``<data_root>/releases/LATEST`` names
    (None without one)."""
    import pyarrow.parquet as pq

    from remot_pipeline.core.release import read_latest

    release_id = release_id or read_latest(data_root / "releases")
    if release_id is None:
        return None
    path = data_root / "releases" / release_id
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    rows: dict[str, dict[str, dict[str, int]]] = {"triplets": {}, "questions": {}}
    mismatches = []
    for f in manifest["files"]:
        if f["table"] not in rows:
            continue
        footer_rows = pq.ParquetFile(path / f["path"]).metadata.num_rows
        if footer_rows != f["rows"]:
            mismatches.append(f["path"])
        rows[f["table"]].setdefault(f["domain"], {})
        rows[f["table"]][f["domain"]][f["split"]] = rows[f["table"]][f["domain"]].get(f["split"], 0) + footer_rows
    by_type: dict[str, dict[str, int]] = {}
    qfiles = sorted((path / "questions").glob("**/*.parquet"))
    for p in qfiles:
        t = pq.read_table(p, columns=["split", "question_type"])
        for r in t.group_by(["split", "question_type"]).aggregate([([], "count_all")]).to_pylist():
            d = by_type.setdefault(r["split"], {})
            d[r["question_type"]] = d.get(r["question_type"], 0) + r["count_all"]
    negative_kinds: dict[str, int] = {}
    for p in sorted((path / "triplets").glob("**/*.parquet")):
        t = pq.read_table(p, columns=["negative_kind"])
        for r in t.group_by(["negative_kind"]).aggregate([([], "count_all")]).to_pylist():
            negative_kinds[r["negative_kind"]] = negative_kinds.get(r["negative_kind"], 0) + r["count_all"]

    def totals(table: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for splits in rows[table].values():
            for s, n in splits.items():
                out[s] = out.get(s, 0) + n
        out["all"] = sum(out.values())
        return dict(sorted(out.items()))

    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return {
        "release_id": path.name,
        "path": str(path),
        "contract_version": manifest.get("contract_version"),
        "code_version": manifest.get("code_version"),
        "config_hash": manifest.get("config_hash"),
        "synthetic": (manifest.get("config") or {}).get("synthetic"),
        "caps": {"train": (manifest.get("config") or {}).get("max_triplets_per_domain"),
                 "test": (manifest.get("config") or {}).get("bench_triplets_per_domain")},
        "rows": {k: {d: dict(sorted(s.items())) for d, s in sorted(v.items())} for k, v in rows.items()},
        "totals": {"triplets": totals("triplets"), "questions": totals("questions")},
        "questions_by_type": {s: dict(sorted(d.items())) for s, d in sorted(by_type.items())},
        "negative_kinds": dict(sorted(negative_kinds.items())),
        "size_bytes": size,
        "manifest_row_mismatches": mismatches,
    }


def headroom(data_root: Path, caps: dict[str, int]) -> dict | None:
    """Per domain and split: the deduplicated candidates the triplets stage picks from, vs its cap.

    Mirrors the stage's dedup (one candidate per episode, anchor frame, attribute, negative kind)."""
    from remot_pipeline.core.release import read_latest

    rid = read_latest(data_root / "releases")
    manifest = data_root / "releases" / str(rid) / "manifest.json"
    if rid is None or not manifest.is_file():
        return None
    stages = data_root / "stages"
    keys = json.loads(manifest.read_text()).get("stages", {})  # the release's own stage outputs
    files = []
    for n, k in sorted(keys.items()):
        if not n.startswith("negatives/"):
            continue
        folder = stages / "negatives" / n.split("/", 1)[1] / k
        if (folder / "shards.json").is_file():  # a domain's shard outputs (the stage store's ShardSet)
            members = json.loads((folder / "shards.json").read_text())["shards"]
            files += [stages / "negatives" / m["partition"] / m["key"] / "out.parquet" for m in members]
        else:
            files.append(folder / "out.parquet")
    if not files:
        return None
    import duckdb

    con = duckdb.connect()
    rows = con.execute(
        "SELECT domain, split, count(*) FROM (SELECT DISTINCT domain, split, episode_id, anchor_frame_index, attribute, "
        "negative_kind FROM read_parquet(?)) GROUP BY ALL ORDER BY ALL", [[str(f) for f in files]]).fetchall()
    out: dict[str, dict] = {}
    for domain, split, n in rows:
        cap = caps.get(split)
        out.setdefault(domain, {})[split] = {"candidates": int(n), "cap": cap,
                                             "ratio": round(n / cap, 3) if cap else None}
    for n, k in sorted(keys.items()):
        if n.startswith("triplets/") and n.count("/") == 1:  # a domain's (its chunks are listed too)
            d = json.loads((stages / n / k / "entry.json").read_text())["ledger"]
            out.setdefault(n.split("/", 1)[1], {})["triplets_ledger"] = {
                k: d.get(k) for k in ("rows_in", "rows_out", "rows_filtered")}
    return out


# ---------------------------------------------------------------------------------- main ---

def markdown_line(result: dict) -> str:
    rel = result.get("release")
    cores = result["cores"]
    syn = result["synthetic"]
    mem = result["peak_rss_mib"] / 1024
    head = (f"**{result['name']}** (`{result['command_line']}`; {syn.get('episodes_per_domain')} episodes x "
            f"{syn.get('frames_per_episode')} frames per domain): ")
    failure = ""
    if result["rc"] != 0:
        failure = (f"**failed** (exit {result['rc']}{', timed out' if result['timed_out'] else ''}, step "
                   f"`{result.get('failed_step') or '?'}`"
                   + (f", blocking checks {', '.join(result['failed_checks'])}" if result.get("failed_checks") else "")
                   + "); ")
    if rel is None:
        return head + (f"{failure}after {result['wall_s'] / 60:.1f} min on {len(cores)} core{'s' if len(cores) > 1 else ''}, peak RSS "
                       f"{mem:.2f} GiB (largest process); no release written.")
    t, q = rel["totals"]["triplets"], rel["totals"]["questions"]
    order = ("navigation", "manipulation", "simulation")
    domains = sorted(rel["rows"]["triplets"], key=lambda d: (order.index(d) if d in order else len(order), d))
    per_domain = ", ".join(f"{d} {sum(rel['rows']['triplets'][d].values()):,}" for d in domains)
    kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in rel["negative_kinds"].items())
    reused = " (release already present: nothing written)" if not result["release_written"] else ""
    return head + failure + (
        f"**{result['wall_s'] / 60:.1f} min** wall on {len(cores)} core{'s' if len(cores) > 1 else ''}, peak RSS **{mem:.2f} GiB** "
        f"(largest process), producing **{t['all']:,} triplets** ({t.get('train', 0):,} train, "
        f"{t.get('test', 0):,} remot-bench; {per_domain}) and **{q['all']:,} questions** "
        f"({q.get('train', 0):,} train, {q.get('test', 0):,} remot-bench); {kinds} negatives; "
        f"{rel['size_bytes'] / 1e6:,.0f} MB release `{rel['release_id']}`{reused}.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, action="append", type=Path,
                    help="run-config YAML (repeatable; the first listed wins, as dagster's -c)")
    ap.add_argument("--data-root", help="override paths.data_root and the stage store's root")
    ap.add_argument("--cores", type=int, help="pin the job to this many CPUs (the first of this process's set)")
    ap.add_argument("--name", help="result name (default: the first config's stem, e.g. remot-16k)")
    ap.add_argument("--timeout", type=float, default=None, help="kill the job after this many seconds")
    ap.add_argument("--sample-s", type=float, default=1.0, help="process-tree RSS sampling period")
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args(argv)

    for c in args.config:
        if not c.is_file():
            print(f"build_release_scale: config {c} does not exist", file=sys.stderr)
            return 2
    allowed = sorted(os.sched_getaffinity(0))
    if args.cores is not None and not 1 <= args.cores <= len(allowed):
        print(f"build_release_scale: --cores {args.cores}: this process may use {len(allowed)} CPUs {allowed}",
              file=sys.stderr)
        return 2
    cpus = allowed[: args.cores] if args.cores else allowed
    name = args.name or args.config[0].stem

    configs = [c.resolve() for c in args.config]  # the job runs in the repository root
    tmp, data_root_arg = None, args.data_root
    if args.data_root:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="remot-data-root-", delete=False)
        args.data_root = str(Path(args.data_root).resolve())
        yaml.safe_dump({"resources": {
            "paths": {"config": {"data_root": args.data_root, "sources_file": os.environ.get("REMOT_SOURCES") or None}},
            "io_manager": {"config": {"root": str(Path(args.data_root) / "stages")}}}}, tmp)
        tmp.close()
        configs.insert(0, Path(tmp.name))
    run_config = read_run_config(configs)
    data_root = Path(data_root_of(run_config))
    data_root_abs = data_root if data_root.is_absolute() else REPO / data_root
    expert = ((run_config.get("resources") or {}).get("config") or {}).get("config") or {}
    caps = {"train": expert.get("max_triplets_per_domain", 500), "test": expert.get("bench_triplets_per_domain", 200)}

    dagster = Path(sys.executable).parent / "dagster"
    cmd = [str(dagster) if dagster.exists() else "dagster", "job", "execute", "-m", "remot_pipeline.definitions",
           "-j", "build_release", *sum((["-c", str(c)] for c in configs), []), "--tags", json.dumps(ALL_DOMAINS_TAGS)]
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(REPO / "dagster_home"))
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env["REMOT_DATA_ROOT"] = str(data_root)
    data_root_abs.mkdir(parents=True, exist_ok=True)
    log_path = data_root_abs / f"build_release_scale.{name}.log"
    from remot_pipeline.core.release import read_latest

    before = read_latest(data_root_abs / "releases")

    shown = " ".join(["python", "bench/build_release_scale.py", *sum((["--config", str(c)] for c in args.config), []),
                      *(["--data-root", data_root_arg] if args.data_root else []),
                      *(["--cores", str(args.cores)] if args.cores else [])])
    print(f"[build_release_scale] {name}: data root {data_root}, CPUs {cpus}, log {log_path}", flush=True)
    started_utc = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if args.cores else None)
        sampler = TreeSampler(child.pid, args.sample_s)
        sampler.start()
        timed_out = False
        try:
            rc = child.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            child.terminate()
            try:
                rc = child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                rc = child.wait()
        except KeyboardInterrupt:
            child.terminate()
            child.wait()
            raise
        finally:
            sampler.stop()
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if tmp is not None:
        os.unlink(tmp.name)

    log_text = log_path.read_text(errors="replace")
    failed = FAIL_RE.findall(log_text)
    error_lines = [ln for ln in log_text.splitlines() if re.match(r"^\w*(Error|Exception)\b.*: ", ln)]
    # The release step logs "release <id> published at <path> (written | already present ...)" once
    # every blocking check passed (a failed release is kept under releases/.rejected/).
    logged = RELEASE_RE.findall(log_text)
    if logged:
        release = release_summary(data_root_abs, logged[-1][0])
        written = logged[-1][1] == "written"
    else:  # no release published (or its log line changed): trust LATEST only if it moved now
        release = release_summary(data_root_abs)
        written = bool(release) and release["release_id"] != before
        if not written:
            release = None
    result = {
        "name": name,
        "command_line": shown,
        "command": cmd,
        "configs": [str(c) for c in args.config],
        "data_root": str(data_root),
        # the world as built (the release's config, defaults filled in), else as configured
        "synthetic": (release or {}).get("synthetic") or expert.get("synthetic", {}),
        "caps_per_domain": caps,
        "started_utc": started_utc,
        "rc": rc,
        "timed_out": timed_out,
        "failed_step": failed[0] if failed else None,
        "failed_checks": sorted(set(CHECK_FAIL_RE.findall(log_text))),
        "error": error_lines[-1][:500] if (rc != 0 and error_lines) else None,
        "wall_s": round(wall, 2),
        "cpu_user_s": round(usage.ru_utime, 2),
        "cpu_sys_s": round(usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB; the largest single process
        "peak_rss_note": "ru_maxrss of RUSAGE_CHILDREN: the largest single waited-for descendant, not a sum",
        "peak_rss_tree_sampled_mib": round(sampler.peak / 2**20, 1),
        # every process of the tree seen by the sampler (forkserver children included): its VmHWM
        "peak_rss_largest_process_sampled_mib": round(sampler.largest_process_bytes / 2**20, 1),
        "cpu_sampled_s": round(sampler.cpu_s, 1),
        "processes_sampled": len(sampler.processes),
        "step_peak_rss_mib": step_peak_rss_mib(log_text, sampler.processes),
        "cores": cpus,
        "cpus_on_machine": os.cpu_count(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "git": git_state(),
        "step_seconds": step_seconds(log_text),
        "release_before": before,
        "release_written": written,
        "release": release,
        "headroom": headroom(data_root_abs, {k: v for k, v in ((release or {}).get("caps") or caps).items() if v} or caps),
        "log": str(log_path),
    }
    result["markdown"] = markdown_line(result)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"release_scale_{name}.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    print(f"[build_release_scale] exit {rc} in {wall:.1f} s; peak RSS {result['peak_rss_mib']:.0f} MiB "
          f"(largest process), {result['peak_rss_tree_sampled_mib']:.0f} MiB (tree, sampled); wrote {out}")
    print(result["markdown"])
    return rc


if __name__ == "__main__":
    sys.exit(main())
