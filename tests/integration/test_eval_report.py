"""`tessera eval report RUN_DIR`: report.md of a real (tiny) VQ-VAE run with validation, plus
hand-written eval/fd.json and eval/prdc.json in the schema the evaluations write: the newest
checkpoint's CRC-32 and config, every eval row as printed, links that resolve after the run
folder moves, gnuplot PNGs of 800x480 and TSVs equal to metrics.jsonl; then every bad input:
malformed lines and files are skipped with a warning naming them, the rest is one line and
exit 1. Once under ASan."""
import json
import os
import re
import shutil
import struct
import zlib
from urllib.parse import unquote

import pytest
from PIL import Image
from conftest import ASAN_TESSERA, fmnist_idx_subset, ingest_store, run
from test_tokenize import TINY
from test_train import train

TINY_VQ = TINY.replace("val_images = 64", "val_images = 32")  # the tokenize tests' tokenizer
FD = {"metric": "fd", "real": "demo-out/fmnist-test.lmdb", "fake": "runs/x/samples.lmdb",
      "net": "demo-out/evalnet/ckpt_00002000.bin", "net_checksum": "1a2b3c4d", "n_real": 10000, "n_fake": 9000,
      "floor_store": "demo-out/fmnist-train.lmdb", "seconds": 3.5,
      "rows": [{"name": "FD (evalnet features)", "value": 12.3456789, "std": 0.4, "floor": 0.8, "floor_std": 0.1},
               {"name": "FD (pixels)", "value": 1234.5}],
      "warnings": ["fewer samples than feature dimensions: covariance is singular"]}
PRDC = {"metric": "prdc", "real": "demo-out/fmnist-test.lmdb", "fake": "runs/x/samples.lmdb",
        "net": "demo-out/evalnet/ckpt_00002000.bin", "net_checksum": "1a2b3c4d", "n_real": 500, "n_fake": 500,
        "rows": [{"name": "precision (k=3)", "value": 0.712, "floor": 0.75},
                 {"name": "recall (k=3)", "value": 0.5},
                 {"name": "density (k=5)", "value": 0.93, "std": 0.02},
                 {"name": "coverage (k=5)", "value": 0.61}]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 10-step VQ-VAE on 128 Fashion-MNIST images, validated on 32 at steps 5 and 10."""
    d = tmp_path_factory.mktemp("report")
    train_store = ingest_store(fmnist_idx_subset(d, "train", "train", 0, 128), d / "train")
    held = ingest_store(fmnist_idx_subset(d, "held", "t10k", 0, 32), d / "held")
    cfg = d / "vq.ini"
    cfg.write_text(TINY_VQ + f"store = {train_store}\nval_store = {held}\n")
    train(cfg, f"run_dir={d}/run")
    return d / "run"


@pytest.fixture
def run_dir(trained, tmp):
    """A copy of the trained run with two evaluations and an evaluation's grid under eval/."""
    d = tmp / "run"
    shutil.copytree(trained, d)
    (d / "eval").mkdir()
    (d / "eval/fd.json").write_text(json.dumps(FD, indent=1))
    (d / "eval/prdc.json").write_text(json.dumps(PRDC))
    shutil.copy(d / "reconstructions.png", d / "eval/nearest neighbours (k=3).png")
    return d


def report(d, *args, check=0, **kw):
    p = run("eval", "report", d, *args, check=check, **kw)
    text = (d / "report.md").read_text() if check == 0 else None
    return p, text


def metrics(d):
    return [json.loads(line) for line in open(d / "metrics.jsonl") if line.strip()]


def section(text, title):
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def links(text):
    return [unquote(target) for target in re.findall(r"!\[[^\n]*?\]\(([^)\s]+)\)", text)]


def number(x):
    return "%.6g" % x


def cell(row, key, std_key):
    if key not in row:
        return "—"
    return number(row[key]) + (f" ± {number(row[std_key])}" if std_key in row else "")


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def one_line(p):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tessera: "), p.stderr
    return lines[0]


def test_the_report_of_a_trained_run(run_dir, tmp):
    p, text = report(run_dir)
    assert p.stdout.strip() == f"{run_dir}/report.md" and p.stderr == ""
    titles = [line for line in text.splitlines() if line.startswith("#")]
    assert titles == [f"# Run report: {run_dir}", "## Metrics", "## Samples", "## Curves"]
    assert text.rstrip("\n").splitlines()[-1] == f"Regenerate this report with `tessera eval report {run_dir}`."

    # The newest checkpoint: model, step, the CRC-32 its file ends with, and its config.
    raw = (run_dir / "ckpt_00000010.bin").read_bytes()
    crc = zlib.crc32(raw[:-4])
    assert struct.unpack("<I", raw[-4:])[0] == crc
    assert f"`ckpt_00000010.bin`: model **vqvae**, step 10, CRC-32 `{crc:08x}`" in text
    assert "```ini\n" + (run_dir / "config.ini").read_text() + "```\n" in text

    # Every row of every eval file, files in name order, rows in file order, as printed.
    table = [line for line in section(text, "Metrics").splitlines() if line.startswith("| ")]
    assert table[0] == "| metric | value | floor | real vs fake | n real / fake | feature net CRC-32 |"
    expected = [f"| {row['name']} | {cell(row, 'value', 'std')} | {cell(row, 'floor', 'floor_std')} | "
                f"{doc['real']} vs {doc['fake']} | {doc['n_real']} / {doc['n_fake']} | {doc['net_checksum']} |"
                for doc in (FD, PRDC) for row in doc["rows"]]
    assert table[1:] == expected
    assert "| FD (evalnet features) | 12.3457 ± 0.4 | 0.8 ± 0.1 |" in table[1]
    assert "- eval/fd.json: fewer samples than feature dimensions: covariance is singular" in text
    assert "floors from `demo-out/fmnist-train.lmdb`" in text

    # Samples: every PNG of the run and of eval/, none of the report's own, linked relatively.
    samples = links(section(text, "Samples"))
    assert samples == ["reconstructions.png", "eval/nearest neighbours (k=3).png"]

    # Curves: the loss (with lr), every val_* key, every other key that changes.
    lines = metrics(run_dir)
    keys = list(dict.fromkeys(k for x in lines for k in x if k not in ("step", "epoch")))
    assert {"loss", "lr", "recon_loss", "perplexity", "val_psnr", "val_ssim"} <= set(keys)
    curves = links(section(text, "Curves"))
    drawn = []
    for key in keys:
        values = [x[key] for x in lines if is_number(x.get(key))]
        rows = [line.split("\t") for line in (run_dir / f"report/curve_{key}.tsv").read_text().splitlines()]
        assert rows[0] == ["step", key]
        assert [(float(s), float(v)) for s, v in rows[1:]] == \
            [(float(x["step"]), float(x[key])) for x in lines if is_number(x.get(key))], key
        flat = len(set(values)) == 1 and not key.startswith("val_")
        if key == "lr":  # on the loss plot's right axis
            assert not (run_dir / f"report/curve_{key}.png").exists()
        elif flat:
            assert not (run_dir / f"report/curve_{key}.png").exists(), key
            assert f"- `{key}`: {values[0]:g} at every step, not plotted" in text
        else:
            drawn.append(f"report/curve_{key}.png")
    assert curves == drawn and curves[0] == "report/curve_loss.png"
    for png in curves:
        with Image.open(run_dir / png) as im:
            assert im.format == "PNG" and im.size == (800, 480), png
    script = (run_dir / "report/curves.gp").read_text()
    assert "pngcairo size 800,480" in script and "set terminal png size 800,480" in script

    # The links are relative: they still resolve after the run folder moves.
    moved = tmp / "elsewhere"
    shutil.move(run_dir, moved)
    for target in links(text):
        assert (moved / target).is_file(), target


def test_regenerating_gives_the_same_report(run_dir):
    _, first = report(run_dir)
    _, second = report(run_dir)
    assert first == second


def test_malformed_metrics_lines_are_skipped_with_a_warning(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[2] = lines[2][:25]                   # cut mid-line
    lines[4] = "[1, 2]"                        # JSON, but no object
    lines[5] = '{"loss": 1.5, "lr": 0.1}'      # no step
    lines.insert(6, '{"step": 6.5, "loss": null, "bad key/..": 3, "new_measure": 7, "text": "x"}')
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n" + '{"step": 11, "loss": 0.')  # a torn last line
    p, text = report(run_dir)
    warnings = p.stderr.strip().splitlines()
    assert len(warnings) == 5 and all(w.startswith("tessera: warning: metrics.jsonl:") for w in warnings), p.stderr
    assert warnings[0].startswith("tessera: warning: metrics.jsonl:3: byte ") and warnings[0].endswith("; line skipped")
    assert warnings[1] == "tessera: warning: metrics.jsonl:5: not a JSON object; line skipped"
    assert warnings[2] == 'tessera: warning: metrics.jsonl:6: no numeric "step"; line skipped'
    assert 'metrics.jsonl:7: key "bad key/.." is not made of letters, digits, _ . -; not plotted' in warnings[3]
    assert warnings[4].startswith(f"tessera: warning: metrics.jsonl:{len(lines) + 1}: byte 23: ")
    assert "- metrics.jsonl:5: not a JSON object; line skipped" in section(text, "Curves")
    assert "- `loss`: null (not finite) at 1 step, left out of the curve" in text
    kept = [json.loads(line) for i, line in enumerate(lines) if i not in (2, 4, 5)]
    rows = [tuple(map(float, line.split("\t"))) for line in (run_dir / "report/curve_loss.tsv").read_text().splitlines()[1:]]
    assert rows == [(x["step"], x["loss"]) for x in kept if is_number(x.get("loss"))]
    assert (run_dir / "report/curve_new_measure.tsv").read_text() == "step\tnew_measure\n6.5\t7\n"
    assert not any("bad" in name for name in os.listdir(run_dir / "report"))


def test_malformed_eval_files_are_skipped_with_a_warning(run_dir):
    (run_dir / "eval/a_torn.json").write_text('{"metric": "kid", "rows": [{"name": "KID", "val')
    (run_dir / "eval/b_list.json").write_text("[1, 2]")
    (run_dir / "eval/c_norows.json").write_text('{"metric": "is"}')
    (run_dir / "eval/d_badrow.json").write_text('{"rows": [{"value": 1}, {"name": "IS", "value": "high"}, 3]}')
    (run_dir / "eval/e_folder.json").mkdir()
    p, text = report(run_dir)
    assert p.stderr.splitlines() == [
        "tessera: warning: eval/a_torn.json: not JSON: byte 43: unterminated string; file skipped",
        "tessera: warning: eval/b_list.json: is an array, not an object; file skipped",
        'tessera: warning: eval/c_norows.json: has no "rows" array; file skipped',
        'tessera: warning: eval/d_badrow.json: rows[0] has no string "name"; row skipped',
        'tessera: warning: eval/d_badrow.json: rows[1] (IS) has no numeric "value"',
        'tessera: warning: eval/d_badrow.json: rows[2] has no string "name"; row skipped',
        "tessera: warning: eval/e_folder.json: is a folder, not a file; file skipped"]
    table = [line for line in section(text, "Metrics").splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in table] == ["| metric", "| IS"] + [f"| {r['name']}" for r in FD["rows"] + PRDC["rows"]]
    assert "| IS | — | — | — vs — | ? / ? | — |" in table
    assert "- eval/b_list.json: is an array, not an object; file skipped" in text


def test_a_run_with_nothing_yet_says_so_and_needs_no_gnuplot(tmp):
    (tmp / "empty").mkdir()
    p, text = report(tmp / "empty", env={"PATH": "/nonexistent"})
    assert "No checkpoint yet" in text
    assert f"No evaluations yet: run `tessera eval METRIC ... --json {tmp}/empty/eval/METRIC.json`" in text
    assert "No PNG images in the run folder or its eval/ yet." in text
    assert "No metrics.jsonl yet" in text


def test_bad_run_folders_are_one_line_and_exit_1(run_dir, tmp):
    p, _ = report(tmp / "missing", check=1)
    assert one_line(p) == f"tessera: {tmp}/missing: no such run folder"
    p, _ = report(run_dir / "metrics.jsonl", check=1)
    assert one_line(p) == f"tessera: {run_dir}/metrics.jsonl: is not a folder (give a run folder of tessera train)"
    p = run("eval", "report", check=2)
    assert "give one RUN_DIR" in p.stderr
    (run_dir / "report").write_text("in the way")  # cannot become the plots' folder
    p, _ = report(run_dir, check=1)
    assert one_line(p) == f"tessera: {run_dir}/report: exists and is not a folder"
    (run_dir / "report").unlink()
    (run_dir / "report.md").mkdir()  # cannot be replaced by the report
    p, _ = report(run_dir, check=1)
    assert one_line(p) == f"tessera: {run_dir}/report.md: cannot write (Is a directory)"
    assert not (run_dir / ".report.md.tmp").exists()


def test_gnuplot_missing_or_failing_is_one_line_and_exit_1(run_dir, tmp):
    p, _ = report(run_dir, check=1, env={"PATH": "/nonexistent"})
    assert one_line(p).startswith("tessera: gnuplot not found on PATH")
    assert not (run_dir / "report.md").exists()
    fake = tmp / "bin/gnuplot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'"curves.gp" line 12: unknown terminal\' >&2\nexit 1\n')
    fake.chmod(0o755)
    p, _ = report(run_dir, check=1, env={"PATH": f"{fake.parent}:{os.environ['PATH']}"})
    assert one_line(p) == (f"tessera: gnuplot failed (exit status 1) running {run_dir}/report/curves.gp: "
                           '"curves.gp" line 12: unknown terminal')


def test_under_asan(run_dir, tmp):
    """Every path of the report (a run, malformed lines and files, failures) frees what it took."""
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"step": 99, "loss": [1, {"a": "\\ud800"}]}\n{"step": 100, "\\u00e9": 1e999}\n\x00\xff\n')
    (run_dir / "eval/torn.json").write_text('{"rows": [{"name": "x", "value": 1e5')
    asan = dict(binary=ASAN_TESSERA, timeout=300)
    p = run("eval", "report", run_dir, check=0, **asan)
    assert "Sanitizer" not in p.stderr and (run_dir / "report/curve_loss.png").exists(), p.stderr
    failing = tmp / "bin/gnuplot"
    failing.parent.mkdir()
    failing.write_text("#!/bin/sh\necho 'line 1: no' >&2\nexit 1\n")
    failing.chmod(0o755)
    for args, env in (([run_dir], {"PATH": "/nonexistent"}), ([run_dir], {"PATH": str(failing.parent)}),
                      ([tmp / "missing"], None)):
        p = run("eval", "report", *args, check=1, env=env, **asan)
        assert "Sanitizer" not in p.stderr, p.stderr
