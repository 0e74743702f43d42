"""Every kind of source ingest takes: folder trees (labelled and flat), list files,
tar shards (labels from .cls members or folders), IDX files, single JPEGs."""
import gzip
import io
import os
import struct
import tarfile

import numpy as np
from conftest import Store, jpeg_bytes, picture, records, run, write_corpus


def test_folder_tree_labels_follow_sorted_class_folders(tmp):
    write_corpus(tmp / "src", 12, classes=["zebra", "apple", "mango"])
    os.makedirs(tmp / "src/apple/deeper")
    (tmp / "src/apple/deeper/x.jpg").write_bytes((tmp / "src/zebra/00000.jpg").read_bytes())
    (tmp / "src/loose.jpg").write_bytes(b"outside any class")
    p = run("ingest", tmp / "src", "-o", tmp / "s", "--size", 16, "--workers", 2, check=0)
    assert "outside any class folder" in p.stderr
    with Store(str(tmp / "s")) as s:
        assert s.meta["label_names"] == ["apple", "mango", "zebra"]
        assert len(s) == 13
        labels = [r["label"] for r in s]
        # ImageFolder order: classes sorted; in each folder its files, then its sub-folders.
        assert labels == [0] * 5 + [1] * 4 + [2] * 4
        assert s.index_of(str(tmp / "src/apple/deeper/x.jpg")) == 4  # after apple's own files
        assert s[0]["image"].shape == (16, 16, 3)


def test_flat_folder_is_unlabelled(tmp):
    write_corpus(tmp / "flat", 5)
    run("ingest", tmp / "flat", "-o", tmp / "s", "--size", 8, "--channels", 1, check=0)
    with Store(str(tmp / "s")) as s:
        assert s.meta["label_names"] == []
        assert [r["label"] for r in s] == [-1] * 5
        assert s[4]["image"].shape == (8, 8, 1)


def test_list_file_with_integer_and_missing_labels(tmp):
    paths = write_corpus(tmp / "imgs", 4)
    lines = [f"imgs/{os.path.basename(paths[0])}\t3", f"{paths[1]}\t0", f"imgs/{os.path.basename(paths[2])}", "# a comment", ""]
    (tmp / "list.tsv").write_text("\n".join(lines) + "\n")
    run("ingest", tmp / "list.tsv", "-o", tmp / "s", "--size", 8, "--label-names", "a,b,c,d", check=0)
    with Store(str(tmp / "s")) as s:
        assert [r["label"] for r in s] == [3, 0, -1]
        assert s.meta["label_names"] == ["a", "b", "c", "d"]


def test_list_file_with_class_names(tmp):
    paths = write_corpus(tmp / "imgs", 3)
    (tmp / "list.txt").write_text(f"{paths[0]}\tdog\n{paths[1]}\tcat\n{paths[2]}\tdog\n")
    run("ingest", tmp / "list.txt", "-o", tmp / "s", "--size", 8, check=0)
    with Store(str(tmp / "s")) as s:
        assert s.meta["label_names"] == ["cat", "dog"]
        assert [r["label"] for r in s] == [1, 0, 1]


def test_mixed_integer_and_named_labels_is_an_error(tmp):
    paths = write_corpus(tmp / "imgs", 2)
    (tmp / "list.txt").write_text(f"{paths[0]}\t1\n{paths[1]}\tcat\n")
    p = run("ingest", tmp / "list.txt", "-o", tmp / "s", check=1)
    assert "mix integer labels and class names" in p.stderr


def _tar(path, members, gz=False):
    with tarfile.open(path, "w:gz" if gz else "w") as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def test_tar_shards_with_cls_members_and_folders(tmp):
    rng = np.random.default_rng(1)
    imgs = [jpeg_bytes(picture(rng, 50, 40)) for _ in range(4)]
    # webdataset style: the .cls member may come before or after its image.
    _tar(tmp / "a.tar", [("k0.cls", b"2\n"), ("k0.jpg", imgs[0]), ("k1.jpg", imgs[1]), ("k1.cls", b"0"),
                         ("k1.json", b"{}")])
    _tar(tmp / "b.tar.gz", [("shoes/x.jpg", imgs[2]), ("bags/y.jpg", imgs[3])], gz=True)
    run("ingest", tmp / "a.tar", "-o", tmp / "s1", "--size", 8, check=0)
    with Store(str(tmp / "s1")) as s:
        assert [r["label"] for r in s] == [2, 0]
        assert s.index_of(f"{tmp}/a.tar:k1.jpg") == 1
    run("ingest", tmp / "b.tar.gz", "-o", tmp / "s2", "--size", 8, check=0)
    with Store(str(tmp / "s2")) as s:
        assert s.meta["label_names"] == ["bags", "shoes"]
        assert [r["label"] for r in s] == [1, 0]


def _idx(path, images, labels=None, gz=True):
    opener = gzip.open if gz else open
    n, h, w = images.shape
    with opener(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, h, w) + images.tobytes())
    if labels is not None:
        lpath = str(path).replace("images-idx3", "labels-idx1")
        with opener(lpath, "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + bytes(labels))


def test_idx_files_gzipped_or_not(tmp):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (6, 10, 12), dtype=np.uint8)
    _idx(tmp / "train-images-idx3-ubyte.gz", images, [1, 0, 2, 2, 1, 0])
    _idx(tmp / "t10k-images-idx3-ubyte", images[:2], None, gz=False)
    run("ingest", tmp / "train-images-idx3-ubyte.gz", tmp / "t10k-images-idx3-ubyte", "-o", tmp / "s",
        "--size", 10, "--channels", 1, "--crop", "center", check=0)
    with Store(str(tmp / "s")) as s:
        assert len(s) == 8
        assert [r["label"] for r in s] == [1, 0, 2, 2, 1, 0, -1, -1]
        # 12 wide, 10 tall: the centred 10×10 square is columns 1..10, copied exactly.
        assert np.array_equal(s[3]["image"][:, :, 0], images[3][:, 1:11])


def test_fashion_mnist_idx_from_the_debian_package(tmp):
    src = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    run("ingest", src, "-o", tmp / "s", "--size", 28, "--channels", 1, check=0)
    with Store(str(tmp / "s")) as s:
        assert len(s) == 10000
        raw = gzip.open(src).read()
        first = np.frombuffer(raw[16:16 + 784], np.uint8).reshape(28, 28)
        assert np.array_equal(s[0]["image"][:, :, 0], first)
        labels = gzip.open(src.replace("images-idx3", "labels-idx1")).read()[8:]
        assert [r["label"] for r in s][:100] == list(labels[:100])


def test_a_single_jpeg_argument_and_duplicates_are_kept_once(tmp):
    paths = write_corpus(tmp / "imgs", 2)
    p = run("ingest", paths[0], paths[0], tmp / "imgs", "-o", tmp / "s", "--size", 8, check=0)
    assert "more than once" in p.stderr
    with Store(str(tmp / "s")) as s:
        assert len(s) == 2


def test_records_do_not_depend_on_the_number_of_workers(tmp):
    write_corpus(tmp / "src", 300, classes=["a", "b", "c"], size_range=(30, 90))
    outs = []
    for workers in (1, 2, 3):
        run("ingest", tmp / "src", "-o", tmp / f"s{workers}", "--size", 24, "--workers", workers, check=0)
        outs.append(records(str(tmp / f"s{workers}")))
    assert len(outs[0]) == 300
    assert outs[0] == outs[1] == outs[2]
