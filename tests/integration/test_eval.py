"""tessera eval recon: PSNR and SSIM record by record, against tools/recon_metrics.py (the
independent numpy implementation of the same definitions), and its refusals."""
import json
import os
import subprocess

from conftest import ASAN_TESSERA, ROOT, run

IDX = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def _stores(tmp):
    """The same 10,000 images resampled two ways: a real pair of different images."""
    for name, resize in (("area", "area"), ("bilinear", "bilinear")):
        run("ingest", IDX, "-o", tmp / name, "--size", 20, "--channels", 1, "--resize", resize, "--workers", 1,
            check=0)
    return tmp / "area", tmp / "bilinear"


def test_recon_agrees_with_the_numpy_implementation(tmp):
    real, fake = _stores(tmp)
    p = run("eval", "recon", real, fake, "--limit", 2000, "--json", tmp / "r.json", check=0)
    got = json.load(open(tmp / "r.json"))
    assert "| PSNR (dB) |" in p.stdout and got["images"] == 2000
    q = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools/recon_metrics.py"), str(real), str(fake),
                        "--limit", "2000"], capture_output=True, text=True, check=True)
    want = json.loads(q.stdout)
    assert abs(got["psnr"] - want["psnr"]) <= 1e-6 * abs(want["psnr"])
    assert abs(got["ssim"] - want["ssim"]) <= 1e-6 * abs(want["ssim"])
    assert 20 < got["psnr"] < 60 and 0.5 < got["ssim"] < 1  # different images, not identical ones
    same = run("eval", "recon", real, real, "--limit", 100, "--json", tmp / "s.json", check=0)
    assert json.load(open(tmp / "s.json"))["psnr"] == 100 and "| SSIM | 1.00000 |" in same.stdout


def test_recon_refuses_what_it_cannot_compare(tmp):
    real, _ = _stores(tmp)
    run("ingest", IDX, "-o", tmp / "rgb", "--size", 20, "--channels", 3, "--workers", 1, check=0)
    for binary in (None, ASAN_TESSERA):
        p = run("eval", "recon", real, tmp / "rgb", check=1, binary=binary)
        assert p.stderr.strip().count("\n") == 0 and "20×20×1" in p.stderr and "20×20×3" in p.stderr
        p = run("eval", "recon", real, real, "--limit", 10001, check=1, binary=binary)
        assert "--limit 10001" in p.stderr and "10000 records" in p.stderr
        p = run("eval", "recon", real, tmp / "missing", check=1, binary=binary)
        assert "missing" in p.stderr
    p = run("eval", "fid", real, real, check=2)  # FID is Inception's: not computed here (docs/EVAL.md)
    assert p.stderr.startswith("tessera: eval: unknown metric 'fid' (fd, kid, is, prdc, cas, recon, probe, report)")
