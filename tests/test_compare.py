import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
import torch

from colorbench import compare as compare_mod
from colorbench.compare import CompareConfig, compare, evaluate_checkpoint, from_strict_json
from colorbench.stats import mean_ci, paired_test
from colorbench.train import TrainingError

MICRO = {"train_limit": 64, "epochs": 1, "eval_batch_size": 200}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "run"
    cfg = CompareConfig(preset="smoke", seeds=2, test_limit=60)
    report = compare(cfg, MICRO, out, progress=False, log=lambda *_: None)
    return out, report


def test_compare_writes_everything(done):
    out, report = done
    assert report == out / "report.html" and report.exists()
    for name in ("report.md", "results.json", "compare.json", "samples.safetensors", "figures/losses.png"):
        assert (out / name).exists(), name
    r = json.loads((out / "results.json").read_text())  # strict JSON: no Infinity or NaN tokens
    assert set(r["models"]) == {"cnn", "unet", "unet_noskip"} and set(r["baselines"]) == {"gray", "mean_color"}
    assert r["data"]["test_images"] == 60 and r["data"]["digest_md5"]
    assert r["versions"]["torch"] == torch.__version__
    for m in r["models"].values():
        assert len(m["summary"]["ab_mse"]["values"]) == 2 and len(m["histories"]) == 2
        assert len(m["per_class"]["ab_mse"]) == 10 and len(m["curve"]) == 151
    assert len(r["paired"]) == 3 * 4  # 3 pairs x 4 metrics
    assert (out / "runs" / "unet-s1" / "model.safetensors").exists()


def test_resume_redoes_nothing(done, monkeypatch):
    out, _ = done

    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(compare_mod, "train", boom)
    compare(CompareConfig(preset="smoke", seeds=2, test_limit=60), MICRO, out, resume=True, progress=False,
            log=lambda *_: None)
    with pytest.raises(TrainingError, match="another config"):
        compare(CompareConfig(preset="smoke", seeds=3, test_limit=60), MICRO, out, resume=True, progress=False)
    with pytest.raises(TrainingError, match="already holds"):
        compare(CompareConfig(preset="smoke", seeds=2, test_limit=60), MICRO, out, progress=False)


class _Spans(HTMLParser):
    def __init__(self):
        super().__init__()
        self.spans, self.cells, self.refs = [], [], []
        self._span = self._td = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "span" and "num" in a.get("class", ""):
            self._span = {**a, "text": ""}
        if tag == "td":
            self._td = {"text": "", "spans": 0}
        if self._td is not None and tag == "span":
            self._td["spans"] += 1
        for k in ("src", "href"):
            if k in a:
                self.refs.append(a[k])

    def handle_endtag(self, tag):
        if tag == "span" and self._span is not None:
            self.spans.append(self._span)
            self._span = None
        if tag == "td" and self._td is not None:
            self.cells.append(self._td)
            self._td = None

    def handle_data(self, data):
        if self._span is not None:
            self._span["text"] += data
        if self._td is not None:
            self._td["text"] += data


def _lookup(r, key):
    for part in key.split("."):
        r = r[int(part)] if isinstance(r, list) else r[part]
    return r


def test_report_is_self_contained_and_its_numbers_are_the_results(done):
    out, report = done
    page = report.read_text()
    p = _Spans()
    p.feed(page)
    assert p.refs and all(ref.startswith("data:image/png;base64,") for ref in p.refs)  # no external files
    assert not re.search(r"https?://|url\(|@import|<script|<link", page)
    r = from_strict_json(json.loads((out / "results.json").read_text()))
    assert len(p.spans) > 100
    for s in p.spans:
        want = float(_lookup(r, s["data-key"]))
        assert float(s["data-value"]) == want or (math.isnan(want) and math.isnan(float(s["data-value"])))
        shown = s["text"].replace(",", "")
        if shown in ("inf", "nan"):
            assert str(want / float(s["data-scale"])) == shown
            continue
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        assert abs(float(shown) - want / float(s["data-scale"])) <= 0.5 * 10**-decimals + 1e-12, s
    # every number in a table cell comes from a traceable span
    for c in p.cells:
        if re.fullmatch(r"\s*[-+]?[\d.,]+(e[-+]?\d+)?\s*", c["text"]):
            assert c["spans"], c
    assert "The study vs this run" in page and "CIFAR-10 (JPEG copy" in page
    md = (out / "report.md").read_text()
    assert "| cnn |" in md and "](figures/losses.png)" in md


def test_report_renders_in_a_browser(done, browser, artifacts):
    """As a reader sees it: every image and plot decodes, nothing is blocked, nothing errors."""
    out, report = done
    driver = browser(1200, 1600)
    try:
        driver.get(report.resolve().as_uri())
        sizes = driver.execute_script(
            "return [...document.images].map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])")
        assert len(sizes) >= 5  # plots and sample grids
        assert all(done and natural > 0 and shown > 0 for done, natural, shown in sizes), sizes
        # nothing wider than the page: no sideways scrolling for a reader
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.save_screenshot(str(artifacts / "report.png"))
    finally:
        driver.quit()


def test_mean_ci_by_hand():
    mean, hw = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and hw == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert math.isnan(mean_ci([5.0])[1])


def test_paired_test_sees_real_and_null_differences():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 2000, generator=g) + 10
    b = a - 0.5 + 0.1 * torch.randn(3, 2000, generator=g)  # a is higher by 0.5
    res = paired_test(a, b, reps=300)
    assert res["significant"] and res["ci_low"] > 0.4 and res["seeds_a_higher"] == 3
    assert res["mean_diff"] == pytest.approx(0.5, abs=0.02)
    null = paired_test(a, a + 0.1 * torch.randn(3, 2000, generator=g), reps=300)
    assert not null["significant"] and null["ci_low"] < 0 < null["ci_high"]


def test_evaluate_command_on_a_checkpoint(done, tmp_path):
    out, _ = done
    r = evaluate_checkpoint(out / "runs" / "cnn-s0", test_limit=50, progress=False)
    assert r["test_images"] == 50 and r["model"]["name"] == "cnn"
    assert 0 < r["summary"]["ab_mse"] < 1000 and 0 < r["summary"]["ssim"] <= 1
    # the gray baseline beside it: ab = 0, so its ab MSE is the images' mean (a^2 + b^2) / 2, by skimage
    skcolor = pytest.importorskip("skimage.color")
    from colorbench.data import load_dataset

    test = compare_mod._test_split(load_dataset("sample", progress=False), 50)
    lab = skcolor.rgb2lab(test.images.permute(0, 2, 3, 1).numpy() / 255.0)
    gray = r["baselines"]["gray"]
    assert gray["ab_mse"] == pytest.approx((lab[..., 1:] ** 2).mean(), rel=1e-4)
    assert gray["colorfulness"] < 0.5 and gray["colorfulness_true"] == r["summary"]["colorfulness_true"]
    cli = subprocess.run([sys.executable, "-m", "colorbench.cli", "evaluate", str(out / "runs" / "cnn-s0"),
                          "--test-limit", "50", "--quiet", "--json", str(tmp_path / "e.json")],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert "ciede2000" in cli.stdout and json.loads((tmp_path / "e.json").read_text())["test_images"] == 50


def test_cli_compare_prints_where_the_report_is(tmp_path):
    cli = subprocess.run([sys.executable, "-m", "colorbench.cli", "compare", "--preset", "smoke", "--models", "cnn",
                          "--seeds", "1", "--train-limit", "64", "--test-limit", "40", "--quiet",
                          "--out", str(tmp_path / "c")], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert f"report: {tmp_path / 'c' / 'report.html'}" in cli.stdout
    bad = subprocess.run([sys.executable, "-m", "colorbench.cli", "compare", "--models", "nope", "--out",
                          str(tmp_path / "d")], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown model 'nope'" in bad.stderr and "Traceback" not in bad.stderr
