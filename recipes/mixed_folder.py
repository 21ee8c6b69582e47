"""Build a folder of 100 mixed images (the awkward cases a photographer's folder holds), for trying
`colorbench colorize` on it:

    python recipes/mixed_folder.py OUT [--photos ../shared/data/imagenet-sample-1000.tar]
    colorbench colorize OUT -o OUT-colorized        # run it twice: the second run changes nothing

Holds: JPEG photos (some gray, some with an EXIF rotation), PNG (RGBA, 16-bit gray, palette), TIFF
(CMYK), GIF, a 1x1 image, a 6000x4000 photo, nested folders, and three bad files: a truncated JPEG,
a text file named .jpg, an empty .png.
"""

import argparse
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-1000.tar"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--photos", default=str(PHOTOS))
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out} exists: choose a new folder")
    (out / "album" / "1950s").mkdir(parents=True)
    with tarfile.open(args.photos) as tar:
        members = [m for m in tar if m.isfile()][:90]
        photos = [Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB") for m in members]
    n = 0
    for i, im in enumerate(photos):
        sub = out if i < 45 else out / "album" / "1950s"
        name = f"photo-{i:03d}"
        if i % 10 == 0:
            im.convert("L").save(sub / f"{name}.jpg", quality=90)  # a gray scan
        elif i % 10 == 1:
            exif = Image.Exif()
            exif[0x0112] = 6  # stored sideways, shown upright
            im.save(sub / f"{name}.jpg", exif=exif, quality=90)
        elif i % 10 == 2:
            rgba = im.convert("RGBA")
            rgba.putalpha(Image.linear_gradient("L").resize(im.size))
            rgba.save(sub / f"{name}.png")
        elif i % 10 == 3:
            a16 = (np.asarray(im.convert("L"), dtype=np.uint16) * 257)
            Image.fromarray(a16).save(sub / f"{name}-16bit.png")
        elif i % 10 == 4:
            im.convert("P", palette=Image.ADAPTIVE).save(sub / f"{name}.png")
        elif i % 10 == 5:
            im.convert("CMYK").save(sub / f"{name}-cmyk.tif")
        elif i % 10 == 6:
            im.convert("L").save(sub / f"{name}.gif")
        else:
            im.save(sub / f"{name}.jpg", quality=90)
        n += 1
    Image.new("L", (1, 1), 128).save(out / "tiny-1x1.png")
    big = photos[0].resize((6000, 4000), Image.BICUBIC).convert("L")
    big.save(out / "big-6000x4000.jpg", quality=85)
    for i in range(5):
        photos[i + 1].resize((320, 240)).save(out / "album" / f"small-{i}.webp")
    good = io.BytesIO()
    photos[2].save(good, "JPEG", quality=90)
    (out / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    (out / "notes.jpg").write_text("not a photo: a text file named .jpg\n")
    (out / "empty.png").write_bytes(b"")
    n += 1 + 1 + 5 + 3
    print(f"{out}: {n} files ({n - 3} images, 3 bad files)")


if __name__ == "__main__":
    main()
