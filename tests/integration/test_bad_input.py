"""Bad input gets one clear line and ingest goes on: each bad source is rejected once,
with its reason, in STORE/rejects.tsv; the good ones are stored; the exit code says 3."""
import io
import os
import struct
import tarfile

import numpy as np
from PIL import Image
from conftest import ASAN_TESSERA, Store, jpeg_bytes, picture, run, write_corpus


def _huge_header_jpeg(rng):
    """A valid small JPEG whose SOF0 marker is patched to claim 60000×60000 pixels."""
    data = bytearray(jpeg_bytes(picture(rng, 32, 24)))
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", 60000, 60000)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def _bad_folder(tmp):
    rng = np.random.default_rng(5)
    d = tmp / "src"
    d.mkdir()
    good = jpeg_bytes(picture(rng, 64, 48))
    files = {
        "a_good.jpg": good,
        "b_empty.jpg": b"",
        "c_truncated.jpg": good[: len(good) * 6 // 10],
        "d_garbage.jpg": bytes(rng.integers(0, 256, 3000, dtype=np.uint8)),
        "g_huge.jpg": _huge_header_jpeg(rng),
        "h_header_only.jpg": good[:200],
        "z_good.jpg": jpeg_bytes(picture(rng, 40, 80)),
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    (d / "e_png.jpg").write_bytes(buf.getvalue())
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    (d / "f_gif.gif").write_bytes(buf.getvalue())
    os.symlink(d / "nowhere.jpg", d / "i_dangling.jpg")  # an unreadable file (root can read any mode)
    return d


EXPECTED_REASONS = {
    "b_empty.jpg": "empty file",
    "c_truncated.jpg": "truncated",
    "d_garbage.jpg": "not a JPEG",
    "e_png.jpg": "PNG file",
    "f_gif.gif": "GIF file",
    "g_huge.jpg": "60000x60000",
    "h_header_only.jpg": "JPEG",
    "i_dangling.jpg": "cannot open",
}


def _check_rejects(store, src):
    rejects = dict(line.split("\t", 1) for line in (store / "rejects.tsv").read_text().splitlines())
    assert len(rejects) == len(EXPECTED_REASONS), rejects
    for name, word in EXPECTED_REASONS.items():
        assert word in rejects[str(src / name)], (name, rejects[str(src / name)])
    with Store(str(store)) as s:
        assert len(s) == 2
        assert s.index_of(str(src / "a_good.jpg")) == 0 and s.index_of(str(src / "z_good.jpg")) == 1
        assert s.rejects.keys() == rejects.keys()


def test_every_bad_file_is_rejected_once_with_its_reason(tmp):
    src = _bad_folder(tmp)
    p = run("ingest", src, "-o", tmp / "s", "--size", 16, "--workers", 2, check=3)
    reject_lines = [line for line in p.stderr.splitlines() if line.startswith("reject: ")]
    assert len(reject_lines) == len(EXPECTED_REASONS)
    assert "2 stored, 8 rejected" in p.stdout
    _check_rejects(tmp / "s", src)
    # A re-run finds everything done: nothing stored or rejected twice.
    p = run("ingest", src, "-o", tmp / "s", "--size", 16, check=3)
    assert "0 stored, 0 rejected, 10 already done" in p.stdout
    _check_rejects(tmp / "s", src)


def test_bad_files_under_address_sanitizer(tmp):
    src = _bad_folder(tmp)
    run("ingest", src, "-o", tmp / "s", "--size", 16, "--workers", 1, check=3, binary=ASAN_TESSERA, timeout=300)
    _check_rejects(tmp / "s", src)


def test_max_pixels_is_configurable(tmp):
    rng = np.random.default_rng(6)
    (tmp / "src").mkdir()
    (tmp / "src/big.jpg").write_bytes(jpeg_bytes(picture(rng, 300, 200)))
    p = run("ingest", tmp / "src", "-o", tmp / "s", "--max-pixels", 50000, check=3)
    assert "above the limit of 50000" in p.stderr


def test_a_missing_source_path_is_a_reject_and_the_rest_goes_on(tmp):
    write_corpus(tmp / "ok", 3)
    p = run("ingest", tmp / "nope", tmp / "ok", "-o", tmp / "s", "--size", 8, check=3)
    assert "no such file or folder" in p.stderr
    with Store(str(tmp / "s")) as s:
        assert len(s) == 3
        assert s.rejects == {str(tmp / "nope"): "no such file or folder"}


def test_a_tar_with_a_broken_member(tmp):
    rng = np.random.default_rng(7)
    good = [jpeg_bytes(picture(rng, 50, 50)) for _ in range(3)]
    with tarfile.open(tmp / "shard.tar", "w") as t:
        for i, data in enumerate(good):
            info = tarfile.TarInfo(f"{i}.jpg")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    raw = (tmp / "shard.tar").read_bytes()
    # Cut the archive in the middle of the last member's data.
    last = raw.rfind(good[2][:64])
    (tmp / "shard.tar").write_bytes(raw[: last + len(good[2]) // 2])
    p = run("ingest", tmp / "shard.tar", "-o", tmp / "s", "--size", 8, check=3)
    with Store(str(tmp / "s")) as s:
        assert len(s) == 2
        assert len(s.rejects) == 1
        (reason,) = s.rejects.values()
        assert "tar" in reason
    assert p.stderr.count("reject: ") == 1


def test_an_output_that_is_not_a_store(tmp):
    write_corpus(tmp / "ok", 1)
    (tmp / "file").write_text("hello")
    p = run("ingest", tmp / "ok", "-o", tmp / "file", check=1)
    assert p.stderr.strip() == f"tessera: {tmp}/file: is a file, not a store (a store is a folder)"
    (tmp / "folder").mkdir()
    (tmp / "folder/notes.txt").write_text("mine")
    p = run("ingest", tmp / "ok", "-o", tmp / "folder", check=1)
    assert "is not a Tessera store" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert (tmp / "folder/notes.txt").read_text() == "mine"


def test_resuming_with_other_options_is_refused(tmp):
    write_corpus(tmp / "ok", 2)
    run("ingest", tmp / "ok", "-o", tmp / "s", "--size", 8, check=0)
    p = run("ingest", tmp / "ok", "-o", tmp / "s", "--size", 16, check=1)
    assert "was made with --size 8, this run asks for --size 16" in p.stderr


def test_bad_usage_exits_2(tmp):
    for args in (["ingest"], ["ingest", tmp, "-o"], ["ingest", tmp, "-o", tmp / "s", "--size", "x"],
                 ["ingest", tmp, "-o", tmp / "s", "--channels", "2"], ["ingest", tmp, "-o", tmp / "s", "--resize", "cubic"],
                 ["ingest", tmp, "-o", tmp / "s", "--workers", "0"], ["frobnicate"], ["info"], ["export", tmp / "s"]):
        p = run(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.strip(), args
