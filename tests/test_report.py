import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from colorbench.persist import load_tensors, read_json, save_tensors, write_json
from colorbench.report import (_directions_section, _setup, _study_section, build_report, ci_fmt, render_md,
                               write_report)
from helpers import MICRO


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


def _variant(micro_compare, tmp_path, edit, html: bool = False) -> tuple[str, dict]:
    """The micro comparison's results, edited (a crafted results.json), rendered again: its Markdown
    (figures are drawn only for the HTML, which `html` writes too)."""
    out, _ = micro_compare
    folder = tmp_path / "crafted"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("runs", "baselines"))
    r = read_json(folder / "results.json")
    edit(r)
    write_json(folder / "results.json", r)
    if html:
        write_report(folder)
        return (folder / "report.md").read_text(), r
    return render_md(*build_report(folder)), r


def _edited(micro_compare, edit) -> dict:
    """The micro comparison's results.json, edited in memory: for checks of one section's words."""
    r = read_json(micro_compare[0] / "results.json")
    edit(r)
    return r


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
    verdict = next(line for line in study.splitlines() if line.startswith("The study's ordering"))
    assert "cnn − unet_noskip: 95% CI +0.50 to +2.80, Holm-adjusted p 0.3), not a significant difference" in verdict
    assert "holds here" not in verdict and "reversed" not in verdict
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
        _variant(micro_compare, tmp_path, _one_seed, html=True)
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
    section = md[md.index("## Each arm against cnn"):md.index("## Are the differences real?")]
    assert "The study's future directions" not in md  # the study's own models are not its directions
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
    compare(preset_compare("smoke", seeds=3, test_limit=60), MICRO, folder, resume=True, progress=False,
            log=lambda *_: None)  # nothing trains
    r = read_json(folder / "results.json")
    p = next(p for p in r["paired"] if {p["a"], p["b"]} == {"cnn", "unet_noskip"} and p["metric"] == "ab_mse")
    assert p["seeds"] == 3 and p["seeds_a_higher"] in (0, 3)  # all three seeds on one side
    assert not p["significant"] and 0.1 < p["p"] < 0.3 and p["ci_low"] < 0 < p["ci_high"]
    md = (folder / "report.md").read_text()
    ordering = next(line for line in md.splitlines() if line.startswith("The study's ordering"))
    noskip = ordering[ordering.index("(unet_noskip)"):].split("(unet)")[0]  # its clause, up to unet's
    assert "not a significant difference" in noskip
    assert "Training noise sets these intervals" in md and "seeds would halve the median interval" in md


def _rename_arms(r: dict, names: dict) -> None:
    """A crafted comparison whose arms are called otherwise (e.g. the directions preset's)."""
    r["models"] = {names.get(k, k): v for k, v in r["models"].items()}
    r["config"]["compare"]["arms"] = [names.get(a, a) for a in r["config"]["compare"]["arms"]]
    for table in ("paired", "against_first", "against_baselines"):
        for p in r[table]:
            p["a"], p["b"] = names.get(p["a"], p["a"]), names.get(p["b"], p["b"])


def test_the_directions_section_is_named_for_what_the_arms_are(micro_compare):
    r = _edited(micro_compare, lambda r: _rename_arms(r, {"unet": "hybrid", "unet_noskip": "cnn,loss=ssim"}))
    section = _directions_section(r)
    assert section[0] == ("h2", "The study's future directions") and "four directions it never tried" in section[1]
    assert _directions_section(_edited(micro_compare, lambda r: None))[0] == ("h2", "Each arm against cnn")


def _ordering(r: dict, cnn_minus_noskip: float, cnn_minus_unet: float, significant: bool = True) -> None:
    for p in r["paired"]:
        if p["metric"] == "ab_mse" and "cnn" in (p["a"], p["b"]):
            d = cnn_minus_noskip if "unet_noskip" in (p["a"], p["b"]) else cnn_minus_unet
            d = d if p["a"] == "cnn" else -d
            p.update(mean_diff=d, ci_low=d - 0.3, ci_high=d + 0.3, p_holm=0.001 if significant else 0.4,
                     significant=significant)


@pytest.mark.parametrize("diffs, significant, words", [
    ((0.95, 2.6), True, "does not hold: it is reversed here"),
    ((-3.0, -1.0), True, "holds here"),
    ((0.95, -1.0), True, "holds only in part here"),
    ((0.2, 0.1), False, "is not confirmed: no difference survives the test here"),
])
def test_the_study_section_says_whether_the_studys_ordering_holds(micro_compare, diffs, significant, words):
    verdict = next(b for b in _study_section(_edited(micro_compare, lambda r: _ordering(r, *diffs, significant)))
                   if isinstance(b, str) and b.startswith("The study's ordering"))
    assert "its CNN better than its U-Net (average MSE 138.58 against 156.44" in verdict and words in verdict


def test_header_records_every_part_and_how_runs_shared_the_machine(micro_compare):
    def edit(r):
        r["parts"] = [{"started": "2026-11-30T09:29", "wall_time_s": 8220.0, "finished": False, "runs_at_once": 2,
                       "threads_per_run": 1},
                      {"started": "2026-11-30T11:50", "wall_time_s": 3810.0, "finished": True, "runs_at_once": 2,
                       "threads_per_run": 1, "trained": ["cnn-s1"]}]
        r["wall_time_s"], r["threads"] = 12030.0, 2
        for m in r["models"].values():
            m["threads"] = [1]
    header = _setup(_edited(micro_compare, edit))
    assert "Wall time 200.5 min in 2 parts (137.0 min from 2026-11-30 09:29, stopped; 63.5 min from 2026-11-30 11:50)" in header
    assert "Each run trained on 1 thread, 2 runs at once on a machine of 2 threads: runs shared the machine" in header


def test_cost_table_gives_gflops_and_fraction_of_peak(micro_compare, tmp_path):
    out, _ = micro_compare
    r = read_json(out / "results.json")
    assert r["peak"] is None  # none measured for this folder: no fraction claimed
    md = (out / "report.md").read_text()
    assert "No matmul peak was measured" in md and "3 x the forward FLOPs" in md
    cnn = r["models"]["cnn"]
    t = read_json(out / "runs" / "cnn-s0" / "metrics.json")
    assert cnn["summary"]["train_gflops_per_s"]["values"][0] == pytest.approx(3 * t["forward_flops"] * t["images_per_s"] / 1e9)

    folder = tmp_path / "with-peak"
    shutil.copytree(out, folder)
    write_json(folder / "peak.json", {"cpu": "x", "size": 2048, "gflops": {p: {str(n): 10.0 for n in range(1, 65)}
                                                                          for p in ("fp32", "bf16")}})
    from colorbench.compare import render

    render(folder)
    r = read_json(folder / "results.json")
    frac = r["models"]["cnn"]["summary"]["peak_fraction"]["mean"]
    assert frac == pytest.approx(r["models"]["cnn"]["summary"]["train_gflops_per_s"]["mean"] / 10.0)
    row = next(line for line in (folder / "report.md").read_text().splitlines() if line.startswith("| cnn | fp32")
               or line.startswith("| cnn | bf16"))
    assert row.rstrip(" |").endswith(f"{100 * frac:.0f}")


def test_report_recomputes_results_from_the_saved_evaluations(micro_compare, tmp_path):
    """`colorbench report` brings a folder up to date: its tests and figures again from the per-image files."""
    out, _ = micro_compare
    folder = tmp_path / "stale"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("model.safetensors", "state.pt"))
    from colorbench.cli import main

    assert main(["report", str(folder)]) == 0
    want, want_md = read_json(folder / "results.json"), (folder / "report.md").read_text()
    assert want["paired"] == read_json(out / "results.json")["paired"]  # the same tests as the comparison's own
    stale = read_json(folder / "results.json")
    stale["paired"][0]["p_holm"] = 0.5
    stale["models"]["cnn"]["summary"]["ab_mse"]["mean"] = 1.0
    write_json(folder / "results.json", stale)
    assert main(["report", str(folder)]) == 0
    got = read_json(folder / "results.json")
    assert got["paired"] == want["paired"] and got["models"] == want["models"] and got["created"] == want["created"]
    assert (folder / "report.md").read_text() == want_md


STUDY = Path(__file__).resolve().parents[1] / "docs" / "study"


def _close(a, b, path="results") -> None:
    """Equal JSON, floats to 1e-9 relative: the bootstrap's sums differ in their last bits between CPU kinds."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}.{i}")
    else:
        assert a == b, path


def _text_of(page: str) -> str:
    """The HTML without its exact values and embedded images: what differs only in last bits, or with matplotlib."""
    return re.sub(r'data-value="[^"]*"', "", re.sub(r'src="data:image/png;base64,[^"]*"', "", page))


def test_published_study_is_what_the_code_renders_from_its_data(tmp_path):
    """docs/study as committed is `colorbench report docs/study` of its own per-image data (run it again after
    changing the statistics or the report, and commit what it writes)."""
    from colorbench.compare import render

    folder = tmp_path / "study"
    shutil.copytree(STUDY, folder)
    render(folder)
    assert (folder / "report.md").read_text() == (STUDY / "report.md").read_text()
    _close(read_json(folder / "results.json"), read_json(STUDY / "results.json"))
    assert _text_of((folder / "report.html").read_text()) == _text_of((STUDY / "report.html").read_text())
    assert sorted(p.name for p in (folder / "figures").iterdir()) == sorted(p.name for p in (STUDY / "figures").iterdir())


def test_published_study_holds_what_a_reader_checks():
    r = read_json(STUDY / "results.json")
    assert r["config"]["train"]["epochs"] == 10 and r["config"]["compare"]["seeds"] == 3 and len(r["models"]) == 3
    assert r["data"]["test_images"] == 10_000 and r["data"]["digest_md5"] and r["precision"] == "bf16"
    assert r["device"].startswith("CPU") and len(r["parts"]) == 2 and r["peak"]["gflops"]["bf16"]["1"] == 203
    weights = [p for p in STUDY.rglob("*") if p.name in ("model.safetensors", "state.pt")]
    assert not weights, weights  # the per-image results are enough to re-render; no weights are published
    assert sum(p.stat().st_size for p in STUDY.rglob("*") if p.is_file()) < 12 << 20


def test_readme_shows_the_published_headline_table():
    """The README's first screen shows the study table exactly as docs/study/report.md renders it."""
    from colorbench.report import Table, render_md, study_table

    table = study_table(read_json(STUDY / "results.json"))
    want = render_md("", [Table(table.header, table.rows)]).split("\n", 2)[2].strip()
    readme = (STUDY.parents[1] / "README.md").read_text()
    first_screen = readme[: readme.index("## Colorize your photos")]
    assert want in first_screen, f"paste into the README's first screen:\n{want}"
    assert "docs/study/report.md" in first_screen and want in (STUDY / "report.md").read_text()
