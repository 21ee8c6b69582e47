"""How much a per-photo "how much colour" decision could buy, and whether the network knows it.

    python recipes/colour_amount.py PHOTOS SET [--temperature T] [--crops N]

PHOTOS: a folder of full-size colour photos (e.g. 100 training-side ImageNet photos); SET: a photo set
(`colorbench photo-set`), whose training crops fit the predictor. Prints, for the shipped default:
1. the figures (PSNR / CIEDE2000 / colourfulness, as evaluate-photos counts them) with the decoded ab scaled
   by one factor for every photo, and with each photo's own best factor (an oracle), also at a price per
   point of colour (the oracle that keeps more colour);
2. how well the network's own summary of a photo (its global vector, the bin distribution's mean and
   entropy, the chroma it predicts, the lightness) predicts each crop's best factor <ab, truth> / <ab, ab>:
   R^2 of a ridge regression on held-back crops.
"""

import argparse
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorbench.color import rgb_to_lab
from colorbench.colorize import _fit_lab, load_colorizer, predict_ab, shrink
from colorbench.evaluate import PSNR_CAP, colorfulness, picture_metrics
from colorbench.photos import colourless, photo_source

SCALES = (0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def oracle(model, photos: str, size: int) -> None:
    rows, truth_colour = [], []
    for _, rgb in photo_source(photos):
        if colourless(rgb):
            continue
        x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].double() / 255
        lab = rgb_to_lab(x)
        L, truth = lab[:, :1].float(), (x * 255).round()
        ab = predict_ab(model, L, size)
        row = []
        for s in SCALES:
            o = (_fit_lab(torch.cat([L, ab * s], 1), 8).clamp(0, 1).double() * 255).round()
            m = picture_metrics(o, truth, rgb_to_lab(o / 255), lab)
            row.append((min(m["psnr"].item(), PSNR_CAP), m["ciede2000"].item(), m["colorfulness"].item()))
        rows.append(row)
        truth_colour.append(colorfulness(truth).item())
    R, tc = np.array(rows), np.mean(truth_colour)
    print(f"{len(R)} photos; PSNR / CIEDE2000 / colourfulness")
    for i, s in enumerate(SCALES):
        print(f"  every photo x {s:<4}: {R[:, i, 0].mean():.2f} / {R[:, i, 1].mean():.2f} / {R[:, i, 2].mean() / tc:.0%}")
    for price in (0, 0.05, 0.1, 0.2):  # each photo's factor maximising PSNR + price x colourfulness
        o = R[np.arange(len(R)), (R[:, :, 0] + price * R[:, :, 2]).argmax(1)]
        print(f"  each photo its own (oracle, colour at {price} dB a unit): "
              f"{o[:, 0].mean():.2f} / {o[:, 1].mean():.2f} / {o[:, 2].mean() / tc:.0%}")


@torch.no_grad()
def predictability(model, photo_set: str, crops: int, size: int) -> None:
    kept = {}
    model.context.register_forward_hook(lambda m, i, o: kept.__setitem__("g", o.float()))
    files = sorted(Path(photo_set, "train").rglob("*.png"))
    random.Random(0).shuffle(files)
    X, S = [], []
    for i in range(0, crops, 128):
        rgb = np.stack([np.asarray(Image.open(f).convert("RGB").resize((128, 128))) for f in files[i:i + 128]])
        lab = rgb_to_lab(torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255)
        L, truth = lab[:, :1], lab[:, 1:]
        ab = predict_ab(model, L, size)
        g = kept["g"][: len(L)] / 2 + kept["g"][len(L):] / 2  # the image and its mirror
        p = torch.softmax(model.raw(shrink(L / 100, (size, size))).float(), 1)
        entropy = -(p * p.clamp(min=1e-8).log()).sum(1)
        c = ab.norm(dim=1)
        X.append(torch.cat([g, p.mean((2, 3)), torch.stack([c.mean((1, 2)), c.std((1, 2)), entropy.mean((1, 2)),
                            entropy.std((1, 2)), L.mean((1, 2, 3)), L.std((1, 2, 3))], 1)], 1))
        S.append(((ab * truth).sum((1, 2, 3)) / ab.pow(2).sum((1, 2, 3)).clamp(min=1e-3)).clamp(0, 3))
    X, S = torch.cat(X).double(), torch.cat(S).double()
    n = len(X)
    fit, test = slice(0, n * 3 // 4), slice(n * 3 // 4, n)
    mu, sd = X[fit].mean(0), X[fit].std(0) + 1e-6
    Z = torch.cat([(X - mu) / sd, torch.ones(n, 1, dtype=X.dtype)], 1)
    print(f"{n} training crops: best factor mean {S.mean():.2f}, median {S.median():.2f}")
    for lam in (1, 10, 100, 1000):
        A = Z[fit]
        w = torch.linalg.solve(A.T @ A + lam * torch.eye(A.shape[1], dtype=A.dtype), A.T @ S[fit])
        r2 = 1 - ((Z[test] @ w - S[test]) ** 2).mean() / ((S[test] - S[fit].mean()) ** 2).mean()
        print(f"  ridge {lam}: R^2 on held-back crops {r2:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos")
    ap.add_argument("set")
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--crops", type=int, default=12000)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(2)
    model, _ = load_colorizer("default", temperature=a.temperature)
    oracle(model, a.photos, a.size)
    predictability(model, a.set, a.crops, a.size)


if __name__ == "__main__":
    main()
