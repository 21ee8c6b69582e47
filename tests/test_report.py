import json
import math
import re
import shutil
from html.parser import HTMLParser

import pytest
import torch

from colorbench.persist import load_tensors, read_json, save_tensors, write_json
from colorbench.report import build_report, ci_fmt, render_md, write_report


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


def test_report_is_self_contained_and_its_numbers_are_the_results(micro_compare):
    out, report = micro_compare
    page = report.read_text()
    p = _Spans()
    p.feed(page)
    assert p.refs and all(ref.startswith("data:image/png;base64,") for ref in p.refs)  # no external files
    assert not re.search(r"https?://|url\(|@import|<script|<link", page)
    r = read_json(out / "results.json")
    assert len(p.spans) > 100
    for s in p.spans:
        want = float(_lookup(r, s["data-key"]))
        assert float(s["data-value"]) == want or (math.isnan(want) and math.isnan(float(s["data-value"])))
        shown = s["text"].replace(",", "").replace("+", "")
        if shown in ("inf", "nan"):
            assert str(want / float(s["data-scale"])) == shown
            continue
        decimals = len(shown.split(".")[1]) if "." in shown and "e" not in shown else 0
        assert abs(float(shown) - want / float(s["data-scale"])) <= 0.5 * 10**-decimals + 1e-12 or "e" in shown, s
    # every number in a table cell comes from a traceable span
    for c in p.cells:
        if re.fullmatch(r"\s*[-+]?[\d.,]+(e[-+]?\d+)?\s*", c["text"]):
            assert c["spans"], c
    assert "The study vs this run" in page and "CIFAR-10 (JPEG copy" in page
    assert "Colorful Image Colorization" in page and "Comparative Analysis of CNN and U-Net" in page
    md = (out / "report.md").read_text()
    assert "| cnn |" in md and "](figures/losses.png)" in md and "p (Holm)" in md


def _variant(micro_compare, tmp_path, edit) -> tuple[str, dict]:
    """The micro comparison's results, edited (a crafted results.json), rendered again."""
    out, _ = micro_compare
    folder = tmp_path / "crafted"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("runs", "baselines"))
    r = read_json(folder / "results.json")
    edit(r)
    write_json(folder / "results.json", r)
    title, blocks = build_report(folder)
    write_report(folder)
    return render_md(title, blocks), r


def _one_seed(r: dict) -> None:
    r["config"]["compare"]["seeds"] = 1
    for m in r["models"].values():
        for s in m["summary"].values():
            s["values"], s["ci"] = s["values"][:1], float("nan")
        m["histories"] = m["histories"][:1]
    for table in ("paired", "against_first", "against_baselines"):
        for p in r[table]:
            p.update(seeds=1, seeds_a_higher=min(1, p["seeds_a_higher"]), sources="images only", rho=float("nan"),
                     seed_share=float("nan"), seeds_to_halve_ci=None)


def test_one_seed_report_claims_nothing_about_seeds(micro_compare, tmp_path):
    md, _ = _variant(micro_compare, tmp_path, _one_seed)
    assert "nan" not in md.lower().replace("mean_color", "")
    assert "training noise is not measured" in md and "3 or more seeds" in md
    assert "seeds and images" not in md and "seed resampling" not in md and "seeds and test images" not in md
    assert "over test images only" in md


def test_verdicts_follow_the_holm_adjusted_p(micro_compare, tmp_path):
    def edit(r):
        for p in r["paired"]:
            if {p["a"], p["b"]} == {"cnn", "unet_noskip"} and p["metric"] == "ab_mse":
                p.update(p=0.044, p_holm=0.3, significant=False, ci_low=0.5, ci_high=2.8)  # CI excludes 0
            elif {p["a"], p["b"]} == {"unet", "unet_noskip"} and p["metric"] == "ab_mse":
                p.update(p=0.0001, p_holm=0.0012, significant=True)
    md, r = _variant(micro_compare, tmp_path, edit)
    study = md[md.index("## The study vs this run"):]
    verdict = next(line for line in study.splitlines() if "CNN-vs-U-Net" in line)
    assert "no difference that survives" in verdict and "a real difference" not in verdict
    assert "Holm-adjusted p 0.3" in verdict
    skips = next(line for line in md.splitlines() if line.startswith("Skip connections"))
    assert "a significant difference" in skips
    # the paired table says the same
    row = next(line for line in md.splitlines() if re.match(r"\| (cnn − unet_noskip|unet_noskip − cnn) \| ab MSE", line))
    assert row.rstrip(" |").endswith("no") and "0.3" in row


def test_headline_puts_the_best_baseline_first(micro_compare, tmp_path):
    def edit(r):
        r["baselines"]["mean_color"]["summary"]["ab_mse"] = 1.0  # better than every arm
    md, r = _variant(micro_compare, tmp_path, edit)
    headline = next(line for line in md.splitlines() if line.startswith("Lowest test ab MSE"))
    assert "the best baseline is mean_color (1.0)" in headline and "above it" in headline
    assert "Caution: the mean_color baseline matches or beats every arm" in md


def test_ci_bounds_never_round_to_zero():
    assert ci_fmt(0.004, 2.8, ".1f") == ".3f"
    assert ci_fmt(-2.8, -0.04, ".1f") == ".2f"
    assert ci_fmt(0.0, 2.8, ".1f") == ".1f"  # a bound that is 0 may show as 0
    assert ci_fmt(1.5, 2.8, ".1f") == ".1f"
    assert format(0.004, ci_fmt(0.004, 2.8, ".1f")) != "0.0"


@pytest.mark.parametrize("seeds", [2, 1])
def test_report_renders_in_a_browser(micro_compare, tmp_path, browser, artifacts, seeds):
    """As a reader sees it: every image and plot decodes, nothing is blocked, nothing errors."""
    if seeds == 1:
        _variant(micro_compare, tmp_path, _one_seed)
        report = tmp_path / "crafted" / "report.html"
    else:
        report = micro_compare[1]
    driver = browser(1200, 1600)
    try:
        driver.get(report.resolve().as_uri())
        sizes = driver.execute_script(
            "return [...document.images].map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])")
        assert len(sizes) >= 8  # plots and sample grids
        assert all(done and natural > 0 and shown > 0 for done, natural, shown in sizes), sizes
        # nothing wider than the page: no sideways scrolling for a reader
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1200, min(height + 100, 16000))
        driver.save_screenshot(str(artifacts / f"report-{seeds}-seed{'s' * (seeds > 1)}.png"))
    finally:
        driver.quit()


def test_results_json_is_strict(micro_compare):
    out, _ = micro_compare
    text = (out / "results.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def test_directions_verdicts_follow_the_holm_adjusted_p_and_come_first(micro_compare, tmp_path):
    def edit(r):
        for p in r["against_first"]:  # unet - cnn: more colour (adjusted p 0.01), a CI-excluding-0 ab MSE gap that
            if p["a"] == "unet":      # does not survive Holm (0.2), nothing else
                sig = p["metric"] == "colorfulness"
                p.update(mean_diff=1.5 if sig else 2.0, ci_low=0.5, ci_high=2.5, p_holm=0.01 if sig else 0.2,
                         significant=sig)
    md, _ = _variant(micro_compare, tmp_path, edit)
    section = md[md.index("## The study's future directions"):md.index("## Are the differences real?")]
    row = next(line for line in section.splitlines() if line.startswith("| unet |"))
    assert row.rstrip(" |").endswith("helps colourfulness") and "hurts" not in row
    assert "+2.0 (0.5 to 2.5), p 0.2" in row  # the ab MSE gap is shown, but no verdict rests on it
    assert "unet: helps colourfulness." in section


def test_training_time_is_the_mean_and_the_range_over_seeds_never_below_zero(micro_compare, tmp_path):
    """"7.4 ± 16.5 s" (a t-interval over 3 seeds) reaches below zero; the cost table gives the mean and the
    fastest to the slowest seed instead."""
    def edit(r):
        t = r["models"]["cnn"]["summary"]["train_time_s"]
        t["values"], t["mean"], t["ci"] = [1.5, 3.0, 17.7], 7.4, 16.5  # the smoke report's spread
    md, r = _variant(micro_compare, tmp_path, edit)
    row = next(line for line in md.splitlines() if line.startswith("| cnn | ") and "GFLOPs" not in line
               and re.search(r"\| 7\.4 \(", line))
    assert "7.4 (1.5 to 17.7)" in row and "±" not in row
    assert "mean (fastest to slowest seed)" in md


def test_seeds_that_agree_by_chance_are_not_a_verdict(micro_compare, tmp_path):
    """Issue 25 end to end: a results folder whose 3 seeds of unet_noskip are cnn's per-image ab MSE minus a
    shift per seed that is large against the image noise and of one sign in all 3 (a quarter of the time under
    a null). The bootstrap before resampled only those 3 shifts, so every resample had their sign: p 1e-4, Holm
    0.0012, "a real difference". The spread of the 3 seed means says otherwise."""
    from colorbench.compare import compare
    from colorbench.config import preset_compare

    out, _ = micro_compare
    folder = tmp_path / "crafted"
    shutil.copytree(out, folder)
    for arm in ("cnn", "unet", "unet_noskip"):  # a third seed: a copy of the second, recomputed below
        shutil.copytree(folder / "runs" / f"{arm}-s1", folder / "runs" / f"{arm}-s2")
    g = torch.Generator().manual_seed(0)
    for seed, shift in enumerate((2.0, 6.0, 13.0)):  # cnn − unet_noskip: mean 7, sd 5.6 over seeds: t 2.2, p 0.17
        cnn, _ = load_tensors(folder / "runs" / f"cnn-s{seed}" / "per_image.safetensors")
        run = folder / "runs" / f"unet_noskip-s{seed}"
        tensors, _ = load_tensors(run / "per_image.safetensors")
        tensors["ab_mse"] = cnn["ab_mse"] - shift + 0.5 * torch.randn(cnn["ab_mse"].shape, generator=g).double()
        save_tensors(run / "per_image.safetensors", tensors)
        ev = read_json(run / "eval.json")
        ev["summary"]["ab_mse"] = tensors["ab_mse"].mean().item()
        write_json(run / "eval.json", ev)
    compare(preset_compare("smoke", seeds=3, test_limit=60), {"train_limit": 64, "epochs": 1, "batch_size": 16,
            "eval_batch_size": 200}, folder, resume=True, progress=False, log=lambda *_: None)  # nothing trains
    r = read_json(folder / "results.json")
    p = next(p for p in r["paired"] if {p["a"], p["b"]} == {"cnn", "unet_noskip"} and p["metric"] == "ab_mse")
    assert p["seeds"] == 3 and p["seeds_a_higher"] in (0, 3)  # all three seeds on one side
    assert not p["significant"] and 0.1 < p["p"] < 0.3 and p["ci_low"] < 0 < p["ci_high"]
    md = (folder / "report.md").read_text()
    verdict = next(line for line in md.splitlines() if "CNN-vs-U-Net" in line)
    assert "no difference that survives" in verdict and "a real difference" not in verdict
    assert "Training noise sets these intervals" in md and "seeds would halve the median interval" in md
