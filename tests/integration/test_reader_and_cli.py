"""tools/tessera_store.py (the Python reader) and the info/export commands."""
import json
import os
import struct

import numpy as np
import pytest
from PIL import Image
from conftest import Store, run, write_corpus
from tessera_store import StoreError, decode_record, source_key


@pytest.fixture
def small_store(tmp):
    write_corpus(tmp / "src", 9, classes=["cat", "dog", "eel"])
    run("ingest", tmp / "src", "-o", tmp / "s", "--size", 12, check=0)
    return tmp / "s"


def test_reader_meta_len_items_and_iteration(small_store):
    with Store(str(small_store)) as s:
        assert len(s) == 9
        assert s.meta["kind"] == "pixels"
        assert s.meta["size"] == 12 and s.meta["channels"] == 3
        assert s.meta["label_names"] == ["cat", "dog", "eel"]
        first = s[0]
        assert first["image"].dtype == np.uint8 and first["image"].shape == (12, 12, 3)
        assert first["label"] == 0
        assert s[-1]["label"] == 2
        assert np.array_equal(s[-1]["image"], s[8]["image"])
        assert [r["label"] for r in s] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
        with pytest.raises(IndexError):
            s[9]
        assert s.index_of("/no/such/source") is None


def test_reader_refuses_what_is_not_a_store(tmp):
    (tmp / "empty").mkdir()
    with pytest.raises(StoreError):
        Store(str(tmp / "nothing-here"))


def test_reader_checks_records():
    header = struct.pack("<BBBBiHHI", 1, 1, 1, 0, 3, 2, 2, 4)
    assert decode_record(header + b"abcd")["image"].shape == (2, 2, 1)
    for bad in (header[:10], header + b"abc", struct.pack("<BBBBiHHI", 9, 1, 1, 0, 3, 2, 2, 4) + b"abcd",
                struct.pack("<BBBBiHHI", 1, 7, 1, 0, 3, 2, 2, 4) + b"abcd"):
        with pytest.raises(StoreError):
            decode_record(bad)


def test_long_source_ids_are_hashed_the_same_way_in_c_and_python(tmp):
    deep = tmp / ("d" * 200) / ("e" * 200) / ("f" * 200)
    write_corpus(deep, 1)
    run("ingest", deep, "-o", tmp / "s", "--size", 8, check=0)
    path = str(deep / "00000.jpg")
    assert len(source_key(path)) == 500
    with Store(str(tmp / "s")) as s:
        assert s.index_of(path) == 0


def test_info_prints_key_value_lines_and_json(small_store):
    p = run("info", small_store, check=0)
    lines = dict(line.split(": ", 1) for line in p.stdout.splitlines())
    assert lines["kind"] == "pixels" and lines["records"] == "9" and lines["rejects"] == "0"
    assert lines["label_names"] == "cat, dog, eel"
    for key in ("size", "channels", "resize", "crop", "count", "source", "format_version", "tool_version"):
        assert key in lines
    j = json.loads(run("info", small_store, "--json", check=0).stdout)
    assert j["records"] == 9 and j["size"] == 12 and j["label_names"] == ["cat", "dog", "eel"]


def test_info_on_something_else_is_one_clear_line(tmp):
    p = run("info", tmp / "missing", check=1)
    assert p.stderr.strip() == f"tessera: {tmp}/missing: no such store"


def test_export_grid_is_one_row_per_class(small_store, tmp):
    p = run("export", small_store, "--grid", tmp / "g.png", "--n", 6, "--scale", 2, check=0)
    assert "0=cat 1=dog 2=eel" in p.stdout
    im = Image.open(tmp / "g.png")
    # 3 rows × 2 columns of 24-px tiles with a 2-px gutter.
    assert im.size == (2 * 24 + 3 * 2, 3 * 24 + 4 * 2)
    px = np.asarray(im)
    with Store(str(small_store)) as s:
        assert np.array_equal(px[2:26:2, 2:26:2], s[0]["image"])  # top-left tile = first cat
        assert np.array_equal(px[2 + 26:26 + 26:2, 2:26:2], s[3]["image"])  # second row = first dog


def test_export_dir_writes_pngs_or_jpegs_in_class_folders(small_store, tmp):
    run("export", small_store, "--dir", tmp / "out", check=0)
    assert sorted(os.listdir(tmp / "out")) == ["cat", "dog", "eel"]
    with Store(str(small_store)) as s:
        assert np.array_equal(np.asarray(Image.open(tmp / "out/dog/4.png")), s[4]["image"])
    run("export", small_store, "--dir", tmp / "jpg", "--format", "jpg", "--limit", 4, check=0)
    assert sorted(os.listdir(tmp / "jpg/cat")) == ["0.jpg", "1.jpg", "2.jpg"]
    assert os.listdir(tmp / "jpg/dog") == ["3.jpg"]


def test_help_for_every_command():
    for cmd in ("ingest", "worker", "info", "export"):
        p = run(cmd, "--help", check=0)
        assert "usage: tessera " + cmd in p.stdout
    assert "ingest" in run("--help", check=0).stdout
