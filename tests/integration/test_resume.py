"""Resume: `kill -9` at any moment, run the same ingest again, and the store ends up
holding every source exactly once, in the same order as an uninterrupted run."""
import os
import random
import signal
import subprocess
import time

import lmdb
import pytest
from conftest import TESSERA, Store, records, run


def _fmnist_jpegs(tmp, n):
    run("ingest", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "-o", tmp / "idx",
        "--size", 28, "--channels", 1, check=0)
    run("export", tmp / "idx", "--dir", tmp / "jpegs", "--format", "jpg", "--limit", n, check=0)
    return tmp / "jpegs"


def _consistent_prefix(store, reference):
    """The store is consistent (each record has its source id, count matches) and a prefix."""
    with Store(str(store)) as s:
        n = len(s)
        assert s.meta["count"] == n
        with s.env.begin() as txn:
            assert txn.stat(s._sources)["entries"] == n
            indices = sorted(int.from_bytes(v, "big") for _, v in txn.cursor(db=s._sources))
        assert indices == list(range(n))
    got = records(str(store))
    assert got == reference[:n]
    return n


def _orphan_workers():
    """Local workers left behind by a killed coordinator (they must die with it)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 2 and cmd[1] == b"worker" and b"--local" in cmd and b"tessera" in cmd[0]:
            out.append(int(pid))
    return out


def _committed(store):
    """Records committed so far, read the way any LMDB reader would (never blocks the writer)."""
    try:
        env = lmdb.open(str(store), readonly=True, max_dbs=8)
    except lmdb.Error:
        return 0
    try:
        with env.begin() as txn:
            return txn.stat(env.open_db(b"records", txn=txn, create=False))["entries"]
    except lmdb.Error:
        return 0
    finally:
        env.close()


def test_kill_9_at_random_moments_then_resume(tmp):
    src = _fmnist_jpegs(tmp, 10000)
    args = [TESSERA, "ingest", str(src), "-o", str(tmp / "resumed"), "--size", "48", "--workers", "2"]
    run("ingest", src, "-o", tmp / "reference", *args[5:], check=0)
    reference = records(str(tmp / "reference"))
    assert len(reference) == 10000

    # Each attempt waits until the store holds some random number of records (commits come
    # every 4096 records or second), then kills the coordinator a random moment later: before
    # the first commit, between commits, during one.
    rng = random.Random(1234)
    store = tmp / "resumed"
    sizes = []
    for attempt in range(6):
        target = min(10000, (sizes[-1] if sizes else 0) + rng.choice([0, 1, 2000, 4096]))
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, TESSERA_QUIET="1"))
        deadline = time.time() + 60
        while p.poll() is None and _committed(store) < target and time.time() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))
        p.send_signal(signal.SIGKILL)
        p.wait()
        if os.path.exists(store / "data.mdb"):
            sizes.append(_consistent_prefix(store, reference))
    deadline = time.time() + 5
    while _orphan_workers() and time.time() < deadline:
        time.sleep(0.05)
    assert _orphan_workers() == [], "local workers outlived their killed coordinator"
    print("store sizes after each kill:", sizes)
    assert any(0 < n < 10000 for n in sizes), f"no kill landed mid-run: {sizes}"

    run("ingest", src, "-o", store, "--size", 48, "--workers", 2, check=0)
    assert records(str(store)) == reference
    _consistent_prefix(store, reference)


def test_second_writer_is_refused(tmp):
    src = _fmnist_jpegs(tmp, 3000)
    p = subprocess.Popen([TESSERA, "ingest", str(src), "-o", str(tmp / "s"), "--size", "64", "--workers", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, TESSERA_QUIET="1"))
    deadline = time.time() + 10
    while not os.path.exists(tmp / "s/tessera.lock") and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    second = run("ingest", src, "-o", tmp / "s", "--size", 64)
    first_rc = p.wait()
    assert first_rc == 0
    if second.returncode == 1:
        assert "another tessera process is writing this store" in second.stderr
    else:  # the first finished before the second looked: then the second found all done
        assert second.returncode == 0 and "3000 already done" in second.stdout
    assert len(records(str(tmp / "s"))) == 3000


def test_ctrl_c_saves_what_was_done_and_a_rerun_finishes(tmp):
    src = _fmnist_jpegs(tmp, 10000)
    args = [TESSERA, "ingest", str(src), "-o", str(tmp / "s"), "--size", "48", "--workers", "2"]
    # A new process group, as a shell gives a foreground job: SIGINT goes to every member.
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, process_group=0,
                         env=dict(os.environ, TESSERA_QUIET="1"))
    deadline = time.time() + 60
    while _committed(tmp / "s") < 1 and p.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    if p.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert p.returncode == 1, err
    assert "interrupted (Ctrl-C): what was done is saved" in err
    saved = _committed(tmp / "s")
    assert saved > 0
    p = run("ingest", src, "-o", tmp / "s", "--size", 48, "--workers", 2, check=0)
    assert f"{saved} already done" in p.stdout
    assert len(records(str(tmp / "s"))) == 10000
