"""How well do weights colorize real photos? PSNR, SSIM and colourfulness against the originals, beside
the "gray" baseline, for several network sizes (the `--size` of `colorbench colorize`).

    python recipes/photo_eval.py PHOTOS [--weights W] [--sizes 32 64 128 256] [--limit 200] [--json F]

PHOTOS: a folder, a .tar of photos, or "skimage" (the colour photos that scikit-image ships).
Photos without colour (grayscale, or nearly: mean chroma under 2 LAB units) are left out and counted.
"""

import argparse
import json
import tarfile
from pathlib import Path

import torch

from colorbench.color import lab_to_rgb, rgb_to_lab
from colorbench.colorize import colorize_lightness, load_colorizer, to_float
from colorbench.data import read_image
from colorbench.evaluate import colorfulness, psnr, ssim

SKIMAGE = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina"]


def photos(source: str, limit: int):
    if source == "skimage":
        from skimage import data

        for name in SKIMAGE:
            yield name, getattr(data, name)()
        return
    p = Path(source)
    if p.is_dir():
        items = ((f.name, f.read_bytes()) for f in sorted(p.rglob("*")) if f.is_file())
    else:
        tar = tarfile.open(p)
        items = ((m.name, tar.extractfile(m).read()) for m in tar if m.isfile())
    n = 0
    for name, data in items:
        if n >= limit:
            return
        try:
            rgb, _ = read_image(data, name)
        except Exception:
            continue
        n += 1
        yield Path(name).name, rgb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--json", default=None, help="also write the table here (the model card quotes it)")
    args = ap.parse_args()
    model, info = load_colorizer(args.weights)
    rows = {s: {"psnr": [], "ssim": [], "color": []} for s in ["gray", *args.sizes]}
    truth_color, names, no_colour = [], [], 0
    for name, rgb in photos(args.photos, args.limit):
        x = to_float(rgb)
        lab = rgb_to_lab(x)
        if lab[:, 1:].norm(dim=1).mean() < 2:
            no_colour += 1
            continue
        names.append(name)
        truth = (x * 255).round()
        truth_color.append(colorfulness(truth).item())
        # the photo's own L, as `colorbench colorize` uses it (the model sees nothing of a and b)
        L = lab[:, :1]
        outs = {"gray": lab_to_rgb(torch.cat([L, torch.zeros_like(lab[:, 1:])], 1))}
        outs.update({s: colorize_lightness(L, model, s) for s in args.sizes})
        for s, out in outs.items():
            out = (out * 255).round()
            rows[s]["psnr"].append(psnr(out, truth).clamp(max=100).item())
            rows[s]["ssim"].append(ssim(out, truth).item())
            rows[s]["color"].append(colorfulness(out).item())
    n = len(names)
    print(f"{info['model']['name']} weights; {n} colour photos from {args.photos}"
          + (f" ({no_colour} without colour left out)" if no_colour else ""))
    print(f"truth colourfulness: {sum(truth_color) / n:.1f}")
    print(f"{'size':>6} {'PSNR dB':>8} {'SSIM':>7} {'colourfulness':>14}")
    for s, r in rows.items():
        print(f"{s:>6} {sum(r['psnr']) / n:8.2f} {sum(r['ssim']) / n:7.4f} {sum(r['color']) / n:14.2f}")
    if args.json:
        table = {str(s): {k: sum(v) / n for k, v in r.items()} for s, r in rows.items()}
        Path(args.json).write_text(json.dumps({"photos": Path(args.photos).name, "n": n, "left_out": no_colour,
                                               "truth_colourfulness": sum(truth_color) / n, "by_size": table,
                                               "names": names}, indent=1))
    if args.photos == "skimage":
        for i, name in enumerate(names):
            print(f"  {name:<22} " + "  ".join(f"{s}: {rows[s]['psnr'][i]:.2f} dB / {rows[s]['color'][i]:.1f}"
                                                for s in rows))


if __name__ == "__main__":
    main()
