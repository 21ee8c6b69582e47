"""Reports from saved results: results.json (+ samples.safetensors) -> report.html (self-contained:
every plot and image embedded, opens offline), report.md and figures/*.png.

Never trains or recomputes a metric: every number shown is read from results.json. In the HTML
tables each number carries `data-key` (its path in results.json) and `data-value` (the exact value),
so a reader or a test can check any cell against the file. Every verdict in the text follows the
Holm-adjusted p of its table.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

from . import figures
from .evaluate import HIGHER_IS_BETTER
from .persist import load_tensors, read_json, write_bytes, write_text
from .config import PRESETS
from .study import CITATIONS, STUDY, STUDY_CITATION, STUDY_MODELS, STUDY_PROTOCOL, ZHANG_2016

ALPHA = 0.05


def _f(v) -> float:
    return float(v) if v is not None else float("nan")


def _decimals(fmt: str) -> int | None:
    return int(fmt[1:-1]) if fmt.startswith(".") and fmt.endswith("f") else None


def ci_fmt(lo: float, hi: float, fmt: str) -> str:
    """A format for a CI's bounds with enough decimals that a bound that is not 0 never shows as 0 (an
    interval that excludes 0 must not read "0.0 to 2.8")."""
    d = _decimals(fmt)
    if d is None:
        return fmt
    while d < 8 and any(v != 0 and math.isfinite(v) and round(v, d) == 0 for v in (lo, hi)):
        d += 1
    return f".{d}f"


# ---------------------------------------------------------------------------------------------
# document blocks, rendered both to HTML and to Markdown


@dataclass
class Num:
    """A number in a table: shown rounded, traceable to results.json by key."""

    value: float | str
    key: str
    fmt: str = ".4g"
    ci: Num | None = None
    scale: float = 1.0  # shown as value / scale (e.g. FLOPs as GFLOPs)

    def has_ci(self) -> bool:
        return self.ci is not None and math.isfinite(_f(self.ci.value))

    def text(self, with_ci: bool = True) -> str:
        if isinstance(self.value, int) and self.scale == 1:
            return format(self.value, self.fmt)
        v = _f(self.value) / self.scale
        s = "inf" if math.isinf(v) and v > 0 else "nan" if math.isnan(v) else format(v, self.fmt)
        return s + " ± " + self.ci.text() if with_ci and self.has_ci() else s


@dataclass
class Parts:
    """A table cell made of several numbers and words, e.g. "−3.1 (−4.0 to −2.2), p 0.002"."""

    items: list = field(default_factory=list)

    def text(self) -> str:
        return "".join(i.text() if isinstance(i, Num) else str(i) for i in self.items)


@dataclass
class Table:
    header: list[str]
    rows: list[list]
    caption: str = ""


@dataclass
class Figure:
    """A figure drawn only when its PNG is first asked for: the Markdown needs only its name and caption."""

    name: str  # file name under figures/
    draw: Callable[[], bytes]
    caption: str

    @cached_property
    def png(self) -> bytes:
        return self.draw()


def _span(n: Num, cls: str = "num") -> str:
    """A number traceable to results.json: its key, exact value and display scale ride along."""
    return (f'<span class="{cls}" data-key="{html.escape(n.key)}" data-value="{html.escape(str(n.value))}" '
            f'data-scale="{n.scale:g}">{html.escape(n.text(with_ci=False))}</span>')


def _cell_html(c) -> str:
    if isinstance(c, Num):
        out = _span(c) + (" ± " + _span(c.ci, "num ci") if c.has_ci() else "")
        return f'<td class="r">{out}</td>'
    if isinstance(c, Parts):
        return '<td class="r">' + "".join(_span(i) if isinstance(i, Num) else html.escape(str(i)) for i in c.items) + "</td>"
    return f"<td>{html.escape(str(c))}</td>"


def _md_cell(c) -> str:
    return c.text() if isinstance(c, (Num, Parts)) else str(c)


CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
       "table{border-collapse:collapse;margin:1em 0;font-size:.86em}td,th{border:1px solid #ccc;padding:.3em .55em}"
       "th{background:#f3f3f3}td.r{text-align:right}span.num{white-space:nowrap}caption{text-align:left;"
       "font-style:italic;padding:.3em 0}figure{margin:1.2em 0}img{max-width:100%}figcaption{font-size:.9em;"
       "color:#555}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}p.note{background:#fff6dd;"
       "border-left:4px solid #e0a800;padding:.5em .8em}.wide{overflow-x:auto}")


def render_html(title: str, blocks: list) -> str:
    body = []
    for b in blocks:
        if isinstance(b, tuple) and b[0] in ("h2", "h3"):
            body.append(f"<{b[0]}>{html.escape(b[1])}</{b[0]}>")
        elif isinstance(b, tuple) and b[0] == "note":
            body.append(f'<p class="note">{html.escape(b[1])}</p>')
        elif isinstance(b, tuple) and b[0] == "list":
            body.append("<ol>" + "".join(f"<li>{html.escape(x)}</li>" for x in b[1]) + "</ol>")
        elif isinstance(b, str):
            body.append(f"<p>{html.escape(b)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(_cell_html(c) for c in r) + "</tr>" for r in b.rows)
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            body.append(f'<div class="wide"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
        elif isinstance(b, Figure):
            data = base64.b64encode(b.png).decode()
            body.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def render_md(title: str, blocks: list) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if isinstance(b, tuple) and b[0] in ("h2", "h3"):
            out += [("## " if b[0] == "h2" else "### ") + b[1], ""]
        elif isinstance(b, tuple) and b[0] == "note":
            out += [f"> {b[1]}", ""]
        elif isinstance(b, tuple) and b[0] == "list":
            out += [f"{i}. {x}" for i, x in enumerate(b[1], 1)] + [""]
        elif isinstance(b, str):
            out += [b, ""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{b.caption}*", ""]
            out.append("| " + " | ".join(b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
        elif isinstance(b, Figure):
            out += [f"![{b.caption}](figures/{b.name})", "", f"*{b.caption}*", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# the numbers


METRIC_LABELS = {
    "val_loss": ("val loss", ".5f"),
    "ab_mse": ("ab MSE", ".1f"),
    "psnr": ("PSNR dB", ".2f"),
    "ssim": ("SSIM", ".4f"),
    "ciede2000": ("CIEDE2000", ".2f"),
    "colorfulness": ("colourfulness", ".2f"),
    "colorfulness_gap": ("colourfulness gap", ".2f"),
    "auc": ("AuC", ".4f"),
}


def n_seeds(r: dict) -> int:
    return int(r["config"]["compare"]["seeds"])


def _ci_key(r: dict) -> str:
    """Which interval the tables show: over seeds, or (one seed) over test images only."""
    return "ci" if n_seeds(r) > 1 else "ci_images"


def _mean_num(r: dict, arm: str, k: str, fmt: str) -> Num:
    s = r["models"][arm]["summary"][k]
    ck = _ci_key(r) if _ci_key(r) in s else "ci"
    return Num(s["mean"], f"models.{arm}.summary.{k}.mean", fmt, Num(s.get(ck), f"models.{arm}.summary.{k}.{ck}", fmt))


def _results_table(r: dict) -> Table:
    header = ["arm"] + [METRIC_LABELS[k][0] for k in METRIC_LABELS]
    rows = [[arm] + [_mean_num(r, arm, k, fmt) for k, (_, fmt) in METRIC_LABELS.items()] for arm in r["models"]]
    for b, e in r["baselines"].items():
        rows.append([f"{b} (baseline)"] + [Num(e["summary"][k], f"baselines.{b}.summary.{k}", fmt)
                                           for k, (_, fmt) in METRIC_LABELS.items()])
    d = r["data"]
    truth = _f(next(iter(r["baselines"].values()))["summary"]["colorfulness_true"])
    spread = (f"Mean ± 95% CI over {n_seeds(r)} seeds (Student t)" if n_seeds(r) > 1 else
              "One seed: value ± 95% CI over test images only (training noise is not measured)")
    return Table(header, rows, f"{spread}, on {d['test_images']:,} test images of {d['name']}; val loss on "
                 f"{d['val_images']:,} validation images. ab MSE in LAB units²; PSNR, SSIM on sRGB 0-255; colourfulness "
                 f"gap = prediction − truth ({truth:.2f} for the truth). Baselines are deterministic (no interval).")


def _time_cell(t: dict, key: str) -> Num | Parts:
    """A time over seeds: the mean, and the fastest to the slowest seed. A mean ± t-interval over 3 seeds
    can reach below zero ("7.4 ± 16.5 s"), which no time does."""
    v = [_f(x) for x in t["values"]]
    mean = Num(t["mean"], f"{key}.mean", ".1f")
    if len(v) < 2:
        return mean
    lo, hi = v.index(min(v)), v.index(max(v))
    return Parts([mean, " (", Num(t["values"][lo], f"{key}.values.{lo}", ".1f"), " to ",
                  Num(t["values"][hi], f"{key}.values.{hi}", ".1f"), ")"])


def _cost_table(r: dict) -> Table:
    size = r["data"]["image_size"]
    rows = []
    for arm, e in r["models"].items():
        s = e["summary"]
        pre = e.get("pretrain_time_s")
        rows.append([arm, e.get("precision", "fp32"), Num(e["params"], f"models.{arm}.params", ","),
                     Num(e["forward_flops"], f"models.{arm}.forward_flops", ".3f", scale=1e9),
                     _time_cell(s["train_time_s"], f"models.{arm}.summary.train_time_s"),
                     Num(pre["mean"], f"models.{arm}.pretrain_time_s.mean", ".1f") if pre else "-",
                     Num(s["train_images_per_s"]["mean"], f"models.{arm}.summary.train_images_per_s.mean", ".0f"),
                     Num(s["inference_images_per_s"]["mean"], f"models.{arm}.summary.inference_images_per_s.mean", ".0f")]
                    + _machine_units(arm, s))
    threads = sorted({t for e in r["models"].values() for t in e.get("threads") or []}, key=str)
    on = f"each run on {'/'.join(map(str, threads))} thread{'s' * (threads != [1])}" if threads else f"{r['threads']} threads"
    cap = (f"On {r['device']} ({on}). Forward GFLOPs per {size[0]}x{size[1]} image (multiply and add "
           "counted apart). Training time per seed: mean (fastest to slowest seed), excluding validation; pretraining is extra, "
           "shown apart. "
           + _machine_units_caption(r))
    return Table(["arm", "precision", "parameters", "forward GFLOPs", "training time s", "pretraining s",
                  "training img/s", "inference img/s", "training GFLOP/s", "% of peak"], rows, cap)


def _machine_units(arm: str, s: dict) -> list:
    """Training speed in the machine's own units: achieved GFLOP/s, and the fraction of its matmul peak."""
    if "train_gflops_per_s" not in s:
        return ["-", "-"]
    k = f"models.{arm}.summary"
    frac = s.get("peak_fraction")
    return [Num(s["train_gflops_per_s"]["mean"], f"{k}.train_gflops_per_s.mean", ".0f"),
            Num(frac["mean"], f"{k}.peak_fraction.mean", ".0f", scale=0.01) if frac else "-"]


def _machine_units_caption(r: dict) -> str:
    if "train_flops_per_forward" not in r:
        return ""
    text = (f"Training GFLOP/s: {r['train_flops_per_forward']} x the forward FLOPs (the backward pass costs about twice "
            "the forward) x training images/s, per run, mean over seeds.")
    peak = r.get("peak")
    if not peak:
        return text + (" No matmul peak was measured for this folder (benchmarks/bench_peak.py --out FOLDER), so no "
                       "fraction of it is given.")
    g = peak["gflops"]
    each = "; ".join(f"{p} " + " / ".join(f"{_f(v):.0f}" for v in g[p].values()) + " on "
                     + " / ".join(g[p]) + " threads" for p in g)
    return text + (f" % of peak: of a {peak.get('size', 2048)}² matmul's GFLOP/s on this machine in the run's precision "
                   f"and on its thread count ({each}; {peak.get('how', 'measured by benchmarks/bench_peak.py')}). "
                   "Runs that shared the machine reach less of it than one alone would.")


def _diff_parts(p: dict, key: str, fmt: str) -> Parts:
    """"+1.23 (0.45 to 2.01), p 0.004" with bounds precise enough to show which side of 0 they are on."""
    lo, hi = _f(p["ci_low"]), _f(p["ci_high"])
    cf = ci_fmt(lo, hi, fmt)
    sign = "+" + cf if _decimals(cf) is not None else fmt
    return Parts([Num(p["mean_diff"], f"{key}.mean_diff", sign), " (", Num(p["ci_low"], f"{key}.ci_low", cf), " to ",
                  Num(p["ci_high"], f"{key}.ci_high", cf), "), p ", Num(p["p_holm"], f"{key}.p_holm", ".2g")])


def _p_key(rows: list[dict]) -> str:
    """Results written before the random-effects test (issue 25) hold a bootstrap p."""
    return "p" if not rows or "p" in rows[0] else "p_bootstrap"


def _paired_table(r: dict, key: str = "paired") -> Table:
    rows, pk, S = [], _p_key(r[key]), n_seeds(r)
    for i, p in enumerate(r[key]):
        fmt = METRIC_LABELS[p["metric"]][1]
        k = f"{key}.{i}"
        cf = ci_fmt(_f(p["ci_low"]), _f(p["ci_high"]), fmt)
        rho = Num(p["rho"], f"{k}.rho", ".2g") if math.isfinite(_f(p.get("rho"))) else "-"
        verdict = "yes" if p["significant"] else "no" if math.isfinite(_f(p[pk])) else "untestable"
        rows.append([f"{p['a']} − {p['b']}", METRIC_LABELS[p["metric"]][0], Num(p["mean_diff"], f"{k}.mean_diff", cf),
                     Num(p["ci_low"], f"{k}.ci_low", cf), Num(p["ci_high"], f"{k}.ci_high", cf),
                     Num(p[pk], f"{k}.{pk}", ".2g"), Num(p["p_holm"], f"{k}.p_holm", ".2g"),
                     f"{p['seeds_a_higher']}/{p['seeds']}", rho, verdict])
    if pk == "p_bootstrap":
        how = ("a bootstrap over seeds and test images, as written by an earlier colorbench: with few seeds it gives "
               "more false positives than its 5%, so read these verdicts with care" if S > 1 else
               "a bootstrap over test images only: with one seed, training noise is not measured")
    elif S > 1:
        how = (f"a two-way random-effects split of the differences into seed, image and residual parts: the spread "
               f"of the {S} per-seed mean differences as Student's t with {S - 1} degrees of freedom (training noise), "
               "plus the variance of the test images every seed shares (a generalized pivot: in simulation its false "
               "positives stayed at or below 5% at every seed-to-image ratio, benchmarks/bench_paired_tests.py). ρ is "
               "the seed-to-seed SD of a run's mean difference over the image standard error of one run's mean")
    else:
        how = ("Student's t over test images only: with one seed, training noise is not measured, so these intervals "
               "are too narrow for claims about architectures")
    left = [p["images_excluded"] for p in r[key] if p.get("images_excluded")]
    rule = "<" if pk == "p_bootstrap" else "≤"  # the rule the results were decided by
    cap = (f"Paired comparison on the same test images: per-image differences (A − B), 95% CI and p from {how}. "
           f"p (Holm) is adjusted for the {len(r[key])} tests of this table (Holm-Bonferroni); significant = p (Holm) "
           f"{rule} {ALPHA}. The CI is per test (unadjusted). 'seeds A higher' counts seeds in which A's mean was higher."
           + (f" Images with a non-finite value were left out of the {len(left)} tests they occur in (up to "
              f"{max(left):,} images)." if left else ""))
    return Table(["A − B", "metric", "mean diff", "CI low", "CI high", "p", "p (Holm)", "seeds A higher", "ρ",
                  "significant"], rows, cap)


def _seed_advice(r: dict, key: str) -> list[str]:
    """When the spread between seeds sets a table's intervals, say so and how many seeds would halve them."""
    rows = [p for p in r.get(key, []) if _f(p.get("seed_share")) > 0.5]
    if n_seeds(r) < 2 or not rows:
        return []
    S = n_seeds(r)
    rho = sorted(_f(p["rho"]) for p in rows)[len(rows) // 2]
    halve = sorted(p["seeds_to_halve_ci"] for p in rows if p["seeds_to_halve_ci"])
    more = (f"about {halve[len(halve) // 2]} seeds would halve the median interval (a smaller t quantile as well as "
            "more runs)" if halve else "more seeds narrow them")
    return [f"Training noise sets these intervals: in {len(rows)} of {len(r[key])} tests most of the mean difference's "
            f"variance comes from the spread between the {S} seeds (median ρ {rho:.2g}), which has only {S - 1} degree"
            f"{'s' * (S != 2)} of freedom; {more}, more test images would not."]


def _find(r: dict, table: str, a: str, b: str, metric: str) -> tuple[dict, str] | tuple[None, None]:
    """A paired row and its key, oriented as a − b."""
    for i, p in enumerate(r.get(table, [])):
        if p["metric"] == metric and {p["a"], p["b"]} == {a, b}:
            if p["a"] == a:
                return p, f"{table}.{i}"
            flipped = {**p, "a": a, "b": b, "mean_diff": -_f(p["mean_diff"]), "ci_low": -_f(p["ci_high"]),
                       "ci_high": -_f(p["ci_low"]), "seeds_a_higher": p["seeds"] - p["seeds_a_higher"]}
            return flipped, f"{table}.{i}"
    return None, None


def _ci_text(p: dict, fmt: str) -> str:
    cf = "+" + ci_fmt(_f(p["ci_low"]), _f(p["ci_high"]), fmt)
    return (f"{_f(p['mean_diff']):{cf}} (95% CI {_f(p['ci_low']):{cf}} to {_f(p['ci_high']):{cf}}, "
            f"Holm-adjusted p {_f(p['p_holm']):.2g})")


def _where(r: dict) -> str:
    return "training noise and test images both counted" if n_seeds(r) > 1 else "test images only; one seed"


# ---------------------------------------------------------------------------------------------
# the words


def _headline(r: dict) -> list[str]:
    """The best arm against the best baseline first, then the arms among themselves."""
    s = {m: e["summary"] for m, e in r["models"].items()}
    lines = []
    best = min(s, key=lambda m: _f(s[m]["ab_mse"]["mean"]))
    base = min(r["baselines"], key=lambda b: _f(r["baselines"][b]["summary"]["ab_mse"]))
    b_val = _f(r["baselines"][base]["summary"]["ab_mse"])
    m_val = _f(s[best]["ab_mse"]["mean"])
    rel = 100 * (m_val / b_val - 1)
    p, _ = _find(r, "against_baselines", best, base, "ab_mse")
    text = (f"Lowest test ab MSE: {best} ({m_val:.1f}); the best baseline is {base} ({b_val:.1f}), so {best} is "
            f"{abs(rel):.0f}% {'below' if rel < 0 else 'above'} it")
    if p is not None:
        verdict = "a significant difference" if p["significant"] else "not a significant difference"
        text += f": {_ci_text(p, '.1f')}, {verdict} ({_where(r)})"
    lines.append(text + ".")
    if m_val >= b_val:
        lines.append(f"Caution: the {base} baseline matches or beats every arm on ab MSE: these models have not learnt "
                     "colour beyond it at this training budget.")
    ranked = sorted(s, key=lambda m: _f(s[m]["ab_mse"]["mean"]))
    for other in ranked[1:]:
        p, _ = _find(r, "paired", best, other, "ab_mse")
        if p is None:
            continue
        verdict = "significant" if p["significant"] else "not significant"
        seeds = (f"; {best} was lower in {p['seeds'] - p['seeds_a_higher']} of {p['seeds']} seeds" if p["seeds"] > 1
                 else "")
        lines.append(f"{best} − {other}: ab MSE {_ci_text(p, '.1f')}: {verdict} ({_where(r)}){seeds}.")
    wins = []
    for b, e in r["baselines"].items():
        won = [METRIC_LABELS[k][0] for k in ("psnr", "ssim", "ciede2000", "auc") if all(
            (_f(e["summary"][k]) >= _f(s[m][k]["mean"])) if HIGHER_IS_BETTER[k] else (_f(e["summary"][k]) <= _f(s[m][k]["mean"]))
            for m in s)]
        if won:
            wins.append(f"the {b} baseline on {', '.join(won)}")
    if wins:
        lines.append(f"Per-pixel metrics favour the baselines: {'; '.join(wins)} do{'es' * (len(wins) == 1)} as well as or "
                     "better than every arm. They reward a safe, desaturated guess over a plausible colour that is wrong, "
                     "so read them beside ab MSE and colourfulness.")
    if "unet" in s and "unet_noskip" in s:
        p, _ = _find(r, "paired", "unet", "unet_noskip", "ab_mse")
        if p:
            lines.append(f"Skip connections (unet − unet_noskip, otherwise identical): ab MSE {_ci_text(p, '.1f')}; "
                         + ("a significant difference." if p["significant"] else "not significant at this budget."))
    truth = _f(next(iter(r["baselines"].values()))["summary"]["colorfulness_true"])
    dull = [m for m in s if _f(s[m]["colorfulness"]["mean"]) < 0.7 * truth]
    if dull:
        lines.append(f"Less than 70% of the truth's colourfulness ({truth:.1f}): "
                     + ", ".join(f"{m} {_f(s[m]['colorfulness']['mean']):.1f} ({_f(s[m]['colorfulness']['mean']) / truth:.0%})"
                                 for m in dull)
                     + ". A regression loss (MSE, L1) pulls predictions toward the average colour, which is brownish "
                       "gray; colour classification (Zhang et al. 2016) is the known cure.")
    return lines


def _setup(r: dict) -> str:
    cfg, d, c = r["config"]["train"], r["data"], r["config"]["compare"]
    vf = cfg["val_fraction"]
    part = round(d["train_split_images"] * (1 - vf))
    train_txt = (f"{d['train_images']:,} training images" + (
        f" (a stratified subset of the {part:,}-image training part)" if d["train_images"] < part else ""))
    val_part = d["train_split_images"] - part
    val_txt = f"{d['val_images']:,} validation images" + (
        f" (a stratified subset of the {val_part:,})" if d["val_images"] < val_part else "")
    test_txt = f"{d['test_images']:,} test images" + (
        f" (a fixed stratified subset of the {d['test_split_images']:,})" if d["test_images"] < d.get("test_split_images", 0) else "")
    e = cfg["epochs"]
    losses = sorted({m["loss"] for m in r["models"].values()})
    return (f"Preset {c['preset']}: {e} epoch{'s' * (e != 1)}, batch {cfg['batch_size']}, Adam lr {cfg['lr']}, loss "
            f"{', '.join(losses)}, augmentation {cfg['augment']}. Data: {d['name']} ({d['source']}, md5 "
            f"{d['digest_md5']}): a seeded stratified {1 - vf:.0%}/{vf:.0%} split of its {d['train_split_images']:,} "
            f"training images; {train_txt}, {val_txt}; {test_txt}. {n_seeds(r)} seed{'s' * (n_seeds(r) != 1)} per arm. "
            f"colorbench {r['colorbench_version']}, torch {r['versions']['torch']}, {r['device']}, {r.get('precision', 'fp32')}"
            f" precision; created {r['created']}. {_layout(r)}")


def _minutes(s) -> str:
    return f"{_f(s) / 60:.1f} min"


def _layout(r: dict) -> str:
    """Every part's wall time and the total, and how the runs shared the machine (their times depend on it)."""
    parts = r.get("parts") or []
    if len(parts) > 1:
        each = "; ".join(f"{_minutes(p['wall_time_s'])} from {p['started'].replace('T', ' ')}"
                         + ("" if p.get("finished") else ", stopped") for p in parts)
        text = f"Wall time {_minutes(r.get('wall_time_s'))} in {len(parts)} parts ({each})."
    else:
        text = f"Wall time {_minutes(r.get('wall_time_s'))}."
    layouts = sorted({(p.get("runs_at_once", 1), p.get("threads_per_run")) for p in parts if p.get("trained", True)},
                     key=str) or [(r["config"]["compare"].get("jobs", 1), None)]
    threads = sorted({t for m in r["models"].values() for t in m.get("threads") or []}, key=str)
    on = f"{'/'.join(map(str, threads))} thread{'s' * (threads != [1])}" if threads else "the default threads"
    cpu = r["device"].startswith("CPU")
    at_once = max(n for n, _ in layouts)
    if at_once > 1:
        text += (f" Each run trained on {on}, {at_once} runs at once" + (f" on a machine of {r['threads']} threads" if cpu
                 else "") + (": runs shared the machine, so each one's training time depends on what ran beside it "
                             "(compare them as this machine's, not as a model's alone)." if cpu else "."))
    else:
        text += f" One run at a time, each on {on}."
    return text


def _study_arms(r: dict) -> list[tuple[str, str, str]]:
    """(the study's label, its key in STUDY, our arm) for the study's models this comparison ran as the study did."""
    models = r["models"]
    return [(label, key, m) for label, key, m in STUDY_MODELS if m in models and models[m]["loss"] == "mse"
            and not models[m]["changes"]]


def study_table(r: dict) -> Table:
    """The study's question answered: its figures beside ours for each of its models, each against cnn by a
    paired test, and the baselines. The README's first screen shows this table as it renders here."""
    ours = _study_arms(r)
    cnn = "cnn" if "cnn" in r["models"] else None

    def against_cnn(a: str, table: str):
        p, key = _find(r, table, a, cnn, "ab_mse") if cnn and a != cnn else (None, None)
        if p is None:
            return "-"
        raw = r[table][int(key.rsplit(".", 1)[1])]
        if raw["a"] == a:
            return _diff_parts(p, key, ".1f")
        # the table holds cnn − a: shown negated (scale −1), each number still traceable to its entry
        cf = ci_fmt(_f(p["ci_low"]), _f(p["ci_high"]), ".1f")
        return Parts([Num(raw["mean_diff"], f"{key}.mean_diff", "+" + cf, scale=-1), " (",
                      Num(raw["ci_high"], f"{key}.ci_high", cf, scale=-1), " to ",
                      Num(raw["ci_low"], f"{key}.ci_low", cf, scale=-1), "), p ", Num(raw["p_holm"], f"{key}.p_holm", ".2g")])

    rows = []
    for label, key, m in ours:
        st = r["study"][key]
        rows.append([f"{label}: {m}", Num(st["val_loss"], f"study.{key}.val_loss", ".4f"),
                     Num(st["ab_mse"], f"study.{key}.ab_mse", ".2f"), _mean_num(r, m, "val_loss", ".5f"),
                     _mean_num(r, m, "ab_mse", ".1f"), against_cnn(m, "paired")])
    names = {"gray": "gray baseline (ab = 0)", "mean_color": "mean-colour baseline"}
    for b, e in r["baselines"].items():
        rows.append([names.get(b, f"{b} baseline"), "-", "-", Num(e["summary"]["val_loss"], f"baselines.{b}.summary.val_loss", ".5f"),
                     Num(e["summary"]["ab_mse"], f"baselines.{b}.summary.ab_mse", ".1f"), against_cnn(b, "against_baselines")])
    d, seeds = r["data"], n_seeds(r)
    spread = f"mean ± 95% CI over {seeds} seeds" if seeds > 1 else "one seed, ± 95% CI over test images only"
    return Table(["model: ours", "study val loss", "study average MSE", "our val loss", "our test ab MSE",
                  "ab MSE − cnn (95% CI), p (Holm)"], rows,
                 f"Study: {_study_protocol()}, 'average MSE' over {STUDY_PROTOCOL['test_images']} test images. Ours: "
                 f"{d['name']}, "
                 f"{spread}, ab MSE (LAB units², lower is better) on all {d['test_images']:,} test images, val loss "
                 f"(MSE of ab/128) on {d['val_images']:,} validation images. Last column: paired difference from cnn on "
                 f"the same test images ({_where(r)}), Holm-adjusted p of its table.")


def _study_protocol() -> str:
    p = STUDY_PROTOCOL
    return f"{p['data']}, {p['epochs']} epochs, " + ("one seed" if p["seeds"] == 1 else f"{p['seeds']} seeds")


def _ordering(r: dict) -> str | None:
    """Does the study's ordering (its CNN better than its U-Net on 'average MSE') hold here? In plain words."""
    if "cnn" not in r["models"]:
        return None
    study_gap = STUDY["unet"]["ab_mse"] - STUDY["cnn"]["ab_mse"]
    cnn_err = _f(r["models"]["cnn"]["summary"]["ab_mse"]["mean"])
    said = {"unet_noskip": "the U-Net as the study coded it (unet_noskip)", "unet": "the U-Net with skip connections (unet)"}
    clauses, verdicts = [], set()
    for m in ("unet_noskip", "unet"):
        p, _ = _find(r, "paired", "cnn", m, "ab_mse")
        if m not in [a for _, _, a in _study_arms(r)] or p is None:
            continue
        d = _f(p["mean_diff"])
        verdict = "holds" if p["significant"] and d < 0 else "reversed" if p["significant"] else "unresolved"
        verdicts.add(verdict)
        clauses.append(f"the CNN is {'better' if d < 0 else 'worse'} than {said[m]} by {abs(d):.2f} "
                       f"({100 * abs(d) / cnn_err:.1f}% of its error; cnn − {m}: 95% CI {_f(p['ci_low']):+.2f} to "
                       f"{_f(p['ci_high']):+.2f}, Holm-adjusted p {_f(p['p_holm']):.2g})"
                       + ("" if p["significant"] else ", not a significant difference"))
    if not clauses:
        return None
    verdict = {"holds": "holds", "reversed": "does not hold: it is reversed",
               "unresolved": "is not confirmed: no difference survives the test"}[verdicts.pop()] if len(verdicts) == 1 \
        else "holds only in part"
    return (f"The study's ordering, its CNN better than its U-Net (average MSE {STUDY['cnn']['ab_mse']:.2f} against "
            f"{STUDY['unet']['ab_mse']:.2f}, a gap of {study_gap:.1f} on {STUDY_PROTOCOL['test_images']} images), {verdict} "
            f"here. Over "
            f"{r['data']['test_images']:,} test images and {n_seeds(r)} seed{'s' * (n_seeds(r) != 1)}, "
            + "; ".join(clauses) + ".")


def _study_section(r: dict) -> list:
    ours = _study_arms(r)
    if not ours:
        return []
    cfg = r["config"]["train"]
    full = cfg["epochs"] == STUDY_PROTOCOL["epochs"] and not cfg["train_limit"]
    s = {m: e["summary"] for m, e in r["models"].items()}
    once = "once" if STUDY_PROTOCOL["seeds"] == 1 else f"{STUDY_PROTOCOL['seeds']} times"
    lines = [f"The study ({STUDY_CITATION}) trained each model {once} for {STUDY_PROTOCOL['epochs']} epochs on "
             f"{STUDY_PROTOCOL['data']} and reported a validation loss of {STUDY['cnn']['val_loss']} (CNN) and "
             f"{STUDY['unet']['val_loss']} (U-Net), and an 'average MSE' of {STUDY['cnn']['ab_mse']:.2f} (CNN) and "
             f"{STUDY['unet']['ab_mse']:.2f} (U-Net) from {STUDY_PROTOCOL['test_images']} test images. Its U-Net code "
             "had no skip connections: our unet_noskip is that network, unet the real one."]
    setting = ("the full protocol" if full else f"a shortened protocol ({cfg['epochs']} epoch{'s' * (cfg['epochs'] != 1)} on "
               f"{r['data']['train_images']:,} training images)")
    vl = ", ".join(f"{m} {_f(s[m]['val_loss']['mean']):.5f}" + (f" ± {_f(s[m]['val_loss']['ci']):.5f}" if n_seeds(r) > 1 else "")
                   for _, _, m in ours)
    lines.append(f"Here, with {setting} over {n_seeds(r)} seed{'s' * (n_seeds(r) != 1)}, validation losses are: {vl}.")
    ordering = _ordering(r)
    if ordering:
        lines.append(ordering)
    if "JPEG" in r["data"]["name"]:
        lines.append("Data caveat: these numbers are on CIFAR-10 (JPEG copy), re-encoded at JPEG quality 75 with 4:2:0 "
                     "chroma subsampling, whose colour channels are smoother than the official release's; colour errors "
                     "are likely lower than on official CIFAR-10, so they are not directly comparable with the study's.")
    if not full:
        lines.append("Losses after fewer epochs on less data are expected to be higher than the study's; run the study "
                     "preset for a like-for-like comparison.")
    return [("h2", "The study vs this run")] + lines + [study_table(r)]


def _describe_change(arm: str, e: dict, first: dict) -> str:
    parts = [] if e["model"] == first["model"] else [f"model {e['model']} instead of {first['model']}"]
    words = {"loss": "loss", "augment": "augmentation", "init": "encoder initialised by", "width": "width"}
    for k, v in e["changes"].items():
        if k == "init" and v == "pretrain":
            parts.append("encoder pretrained on the training split's class labels (from L)")
        elif k not in first["changes"] or first["changes"][k] != v:
            parts.append(f"{words.get(k, k)} {v}")
    return "; ".join(parts) or "same as the first arm"


def is_directions(r: dict) -> bool:
    """Is this a comparison of the study's future directions: the directions preset's baseline arm first, and
    every other arm one of that preset's directions?"""
    arms = PRESETS["directions"].arms
    names = list(r["models"])
    return names[0] == arms[0] and len(names) > 1 and all(m in arms[1:] for m in names[1:])


def _directions_section(r: dict) -> list:
    """Each arm against the first, on the metrics a reader of an ablation asks about."""
    rows_in = r.get("against_first") or []
    names = list(r["models"])
    if not rows_in or (r["config"]["compare"]["preset"] != "directions" and not any(
            r["models"][m]["changes"] or r["models"][m]["model"] != r["models"][names[0]]["model"] for m in names[1:])):
        return []
    first = names[0]
    e0 = r["models"][first]
    metrics = [("ab_mse", ".1f"), ("colorfulness", ".2f"), ("ciede2000", ".3f"), ("auc", ".4f")]
    rows, verdicts = [], []
    for arm in names[1:]:
        e = r["models"][arm]
        row = [arm, _describe_change(arm, e, e0)]
        helps, hurts = [], []
        for m, fmt in metrics:
            p, key = _find(r, "against_first", arm, first, m)
            if p is None:
                row.append("-")
                continue
            row.append(_diff_parts(p, key, fmt))
            if p["significant"]:
                good = (_f(p["mean_diff"]) > 0) == HIGHER_IS_BETTER[m]
                (helps if good else hurts).append(METRIC_LABELS[m][0])
        cost = _f(e["summary"]["train_time_s"]["mean"]) + _f((e.get("pretrain_time_s") or {}).get("mean", 0.0))
        base_cost = _f(e0["summary"]["train_time_s"]["mean"])
        row.append(Parts([Num(e["forward_flops"], f"models.{arm}.forward_flops", ".3f", scale=1e9), " GFLOPs, ",
                          f"{cost / base_cost:.1f}x training time"]))
        verdict = ("helps " + ", ".join(helps) if helps else "") + ("; " if helps and hurts else "") + (
            "hurts " + ", ".join(hurts) if hurts else "")
        row.append(verdict or "no significant change")
        rows.append(row)
        verdicts.append(f"{arm}: {verdict or 'no significant change on any of these metrics'}.")
    table = Table(["arm", "what changed (against " + first + ")", "Δ ab MSE", "Δ colourfulness", "Δ CIEDE2000", "Δ AuC",
                   "cost", "verdict"], rows,
                  f"Each arm minus {first} on the same test images: mean difference (95% CI), p adjusted by Holm over "
                  f"the {len(rows_in)} tests of this table; verdicts count only adjusted p ≤ {ALPHA}. Lower is better "
                  "for ab MSE and CIEDE2000, higher for colourfulness and AuC. Cost: forward GFLOPs per image and "
                  f"training time (pretraining included) relative to {first}.")
    if is_directions(r):
        title = "The study's future directions"
        intro = (f"The study's closing section proposed four directions it never tried: hybrid architectures, "
                 f"perceptual losses such as SSIM, more data augmentation, and pre-trained models. Each arm below "
                 f"changes one thing against {first} (the study's protocol); colour classification ({ZHANG_2016}) is "
                 "added as the field's known cure for desaturated colour. The sample grids below show every arm on the "
                 "same images.")
    else:
        title = f"Each arm against {first}"
        intro = (f"Every other arm minus {first}, the first arm, on the metrics that say whether a change pays: error, "
                 "colour and their cost. The sample grids below show every arm on the same images.")
    return [("h2", title), intro, table, ("list", verdicts)] + _seed_advice(r, "against_first")


def build_report(folder: Path) -> tuple[str, list]:
    folder = Path(folder)
    r = read_json(folder / "results.json", "results file")
    title = f"colorbench compare: {', '.join(r['models'])} on {r['data']['name']}"
    blocks: list = [_setup(r)]
    if n_seeds(r) == 1:
        blocks.append(("note", "One seed: training noise is not measured. Every interval and test in this report "
                               "counts test images only, so a difference it calls significant may still be the luck of "
                               "one training run. Run 3 or more seeds (--seeds 3) before drawing conclusions about "
                               "architectures."))
    blocks += [("h2", "Results")] + _headline(r) + [_results_table(r)]
    blocks += _directions_section(r)  # an ablation's answer comes before the all-pairs tables behind it
    blocks += [("h2", "Are the differences real?"), _paired_table(r, "paired")] + _seed_advice(r, "paired")
    if r.get("against_baselines"):
        blocks += ["Each arm against each baseline, the same way:", _paired_table(r, "against_baselines")]
    blocks += _study_section(r)
    blocks += [("h2", "Cost"), _cost_table(r),
               Figure("cost_quality.png", partial(figures.plot_cost_quality, r),
                      "What quality costs: forward GFLOPs per image (left) and training time per seed (right) against "
                      "test ab MSE (top, lower is better) and colourfulness (bottom, higher is better); mean ± 95% CI; "
                      "baselines and the truth's colourfulness as horizontal lines.")]
    blocks += [("h2", "Training curves"), Figure(
        "losses.png", partial(figures.plot_losses, r),
        "Left: the running training loss (mean over the last tenth of an epoch) in each objective's own units. Right: "
        "validation loss (MSE of ab/128) after each epoch, with the baselines'. One line per seed.")]
    blocks += [("h2", "Per class"), Figure(
        "per_class_ab_mse.png", partial(figures.plot_per_class, r, "ab_mse"),
        "Test ab MSE per class (LAB units², lower is better): bars are means over seeds, whiskers the range over seeds; "
        "markers are the baselines."), Figure(
        "per_class_colorfulness.png", partial(figures.plot_per_class, r, "colorfulness"),
        "Colourfulness of the predictions per class (higher is more colourful; the truth's is in the results table).")]
    blocks += [("h2", "Error vs threshold"), Figure(
        "error_curve.png", partial(figures.plot_error_curve, r),
        "How many more pixels than the gray baseline each arm gets within each ab-error threshold (Zhang et al. 2016's "
        "cumulative curve, shown relative to gray); above 0 the arm is closer to the truth than leaving the image gray. "
        "AuC over thresholds 0-150 in the legend.")]
    if (folder / "samples.safetensors").exists():
        s, _ = load_tensors(folder / "samples.safetensors", "sample file")
        blocks += [("h2", "Samples")] + [Figure(n, draw, cap) for n, draw, cap in figures.sample_figures(s, r)]
    blocks += [("h2", "References"), ("list", CITATIONS)]
    return title, blocks


def write_report(folder: Path) -> Path:
    """report.html (self-contained), report.md and figures/*.png from folder/results.json."""
    folder = Path(folder)
    if not (folder / "results.json").exists():
        raise FileNotFoundError(f"{folder}: no results.json; run `colorbench compare` first")
    title, blocks = build_report(folder)
    for b in blocks:
        if isinstance(b, Figure):
            write_bytes(folder / "figures" / b.name, b.png)
    write_text(folder / "report.md", render_md(title, blocks))
    return write_text(folder / "report.html", render_html(title, blocks))
