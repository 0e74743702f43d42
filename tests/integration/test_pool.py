"""The ZeroMQ pool under faults: a local worker killed mid-run, remote workers joining
over TCP on loopback, a remote worker killed (found by its missing heartbeat). In each
case every source ends in the store exactly once, identical to a clean run."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
from conftest import TESSERA, records, run, write_corpus

ARGS = ["--size", "320", "--exact-dct"]  # no DCT scaling for these sizes: slow enough to interrupt


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    write_corpus(d / "src", 240, classes=["a", "b"], size_range=(400, 640), seed=11)
    for cls in ("a", "b"):  # twice the work at the cost of a copy
        shutil.copytree(d / "src" / cls, d / "src" / f"{cls}2")
    run("ingest", d / "src", "-o", d / "reference", *ARGS, "--workers", 2, check=0, timeout=300)
    return d / "src", records(str(d / "reference"))


def _children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(p))
    return out


def _cpu_seconds(pid):
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kill_once_busy(pid, seconds=0.15, timeout=30):
    """Kills a worker once it has spent some CPU on batches: it holds work when it dies."""
    deadline = time.time() + timeout
    while _cpu_seconds(pid) < seconds and time.time() < deadline:
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popen(*args):
    return subprocess.Popen([TESSERA, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TESSERA_QUIET="1"))


def test_a_local_worker_killed_mid_run(tmp, corpus):
    src, reference = corpus
    p = _popen("ingest", src, "-o", tmp / "s", *ARGS, "--workers", 2)
    deadline = time.time() + 20
    while len(_children(p.pid)) < 2 and time.time() < deadline:
        time.sleep(0.01)
    workers = _children(p.pid)
    assert workers, "no worker processes found"
    _kill_once_busy(workers[0])
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "was killed by signal 9" in err
    assert "workers lost: 1" in out
    assert records(str(tmp / "s")) == reference


def test_remote_workers_over_tcp_started_before_the_coordinator(tmp, corpus):
    src, reference = corpus
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    workers = [_popen("worker", "--connect", endpoint, "--idle-timeout", 60) for _ in range(2)]
    time.sleep(0.3)
    p = run("ingest", src, "-o", tmp / "s", *ARGS, "--workers", 0, "--bind", endpoint, check=0, timeout=120)
    for w in workers:
        w.communicate(timeout=30)
        assert w.returncode == 0  # told to stop when the job ended
    assert "480 stored" in p.stdout
    assert records(str(tmp / "s")) == reference


def test_a_remote_worker_killed_is_replaced(tmp, corpus):
    """A killed worker's connection drops: the coordinator finds out at its next send."""
    src, reference = corpus
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    p = _popen("ingest", src, "-o", tmp / "s", *ARGS, "--workers", 0, "--bind", endpoint, "--heartbeat-timeout", 1)
    workers = [_popen("worker", "--connect", endpoint, "--heartbeat-timeout", 1) for _ in range(2)]
    _kill_once_busy(workers[0].pid)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "cannot be reached" in err or "went silent" in err
    assert records(str(tmp / "s")) == reference
    workers[1].communicate(timeout=30)
    workers[0].wait()


def test_a_hung_remote_worker_is_found_by_its_missing_heartbeat(tmp, corpus):
    """A frozen worker keeps its connection but stops heartbeating: its batches move on."""
    src, reference = corpus
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    p = _popen("ingest", src, "-o", tmp / "s", *ARGS, "--workers", 0, "--bind", endpoint, "--heartbeat-timeout", 1)
    workers = [_popen("worker", "--connect", endpoint, "--heartbeat-timeout", 1) for _ in range(2)]
    deadline = time.time() + 30
    while _cpu_seconds(workers[0].pid) < 0.15 and time.time() < deadline:
        time.sleep(0.005)
    os.kill(workers[0].pid, signal.SIGSTOP)
    try:
        out, err = p.communicate(timeout=120)
    finally:
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
    assert p.returncode == 0, err
    assert "went silent" in err
    assert records(str(tmp / "s")) == reference
    workers[1].communicate(timeout=30)


def test_a_worker_with_nothing_to_join_gives_up(tmp):
    p = run("worker", "--connect", f"tcp://127.0.0.1:{_free_port()}", "--heartbeat-timeout", 0.5,
            "--idle-timeout", 1, timeout=30)
    assert p.returncode == 1
    assert "no coordinator" in p.stderr
