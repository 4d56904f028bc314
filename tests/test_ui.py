"""`make ui`'s server: it serves the asset graph on 127.0.0.1 and a run launched through it
(as the UI's Materialize button does, via GraphQL) succeeds."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "REMOT_DATA_ROOT": str(tmp_path / "data"), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster = str(Path(sys.executable).parent / "dagster")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        else:
            pytest.fail("dagster dev did not come up: " + (tmp_path / "server.log").read_text()[-2000:])
        yield url, port, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_ui_serves_the_graph_and_a_launched_run_succeeds(server):
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    from remot_pipeline.definitions import ALL_DOMAINS_TAGS

    url, port, tmp = server
    q = requests.post(f"{url}/graphql", json={"query": "{ assetNodes { assetKey { path } } }"}, timeout=30).json()
    keys = {"/".join(n["assetKey"]["path"]) for n in q["data"]["assetNodes"]}
    assert {"synthetic_world", "episode_frames", "motion_pairs", "triplets", "questions", "release", "catalog"} <= keys
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    # the small world cannot cover every attribute value in both splits, and its one-episode bench is
    # too small to audit (tests/conftest.py small_config): no coverage minimum, no audit here
    # in one process: the multiprocess executor, build_release's default, is tested by tests/test_scale_out.py
    small = {"execution": {"config": {"in_process": {}}}, "resources": {"config": {"config": {
        "synthetic": {"episodes_per_domain": 3, "frames_per_episode": 90},
        "coverage": {"min_train_triplets_per_value": 0, "min_bench_triplets_per_value": 0},
        "audit": {"enabled": False}}}}}
    run_id = client.submit_job_execution("build_release", run_config=small, tags=ALL_DOMAINS_TAGS)
    deadline, status = time.time() + 400, None
    while time.time() < deadline:
        try:
            status = client.get_run_status(run_id).value
        except DagsterGraphQLClientError:
            status = None
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", (tmp / "server.log").read_text()[-3000:]
    assert (tmp / "data" / "catalog.duckdb").is_file()
