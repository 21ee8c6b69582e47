"""Build a folder of 100 mixed images (the awkward cases a photographer's folder holds), for trying
`colorbench colorize` on it:

    python recipes/mixed_folder.py OUT [--photos ../shared/data/imagenet-sample-1000.tar]
    colorbench colorize OUT -o OUT-colorized        # run it twice: the second run changes nothing

Holds: JPEG photos (some gray, some with an EXIF rotation), PNG (RGBA, 16-bit gray, palette), TIFF
(CMYK), GIF, a 1x1 image, a 6000x4000 photo, nested folders, and three bad files: a truncated JPEG,
a text file named .jpg, an empty .png. `--photos` is a .tar or a folder of photos: 90 of them are used
(fewer photos give fewer files). Like the colorbench command: an error is one line, and a failed run
leaves nothing behind (OUT appears only when it is complete).
"""

import argparse
import io
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-1000.tar"
N_PHOTOS = 90


def read_photos(source: Path, n: int = N_PHOTOS) -> list[Image.Image]:
    """Up to `n` readable photos from a .tar or a folder, in name order; unreadable ones are passed over."""
    if source.is_dir():
        blobs = (p.read_bytes() for p in sorted(source.rglob("*")) if p.is_file() and not p.name.startswith("."))
    else:
        tar = tarfile.open(source)
        blobs = (tar.extractfile(m).read() for m in tar if m.isfile())
    photos = []
    for data in blobs:
        try:
            photos.append(Image.open(io.BytesIO(data)).convert("RGB"))
        except (OSError, SyntaxError, ValueError):
            continue
        if len(photos) == n:
            break
    return photos


def build(out: Path, photos: list[Image.Image]) -> int:
    """Write the mixed folder into `out` (an empty folder); the number of files."""
    (out / "album" / "1950s").mkdir(parents=True)
    half = (len(photos) + 1) // 2
    for i, im in enumerate(photos):
        sub = out if i < half else out / "album" / "1950s"
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
    Image.new("L", (1, 1), 128).save(out / "tiny-1x1.png")
    photos[0].resize((6000, 4000), Image.BICUBIC).convert("L").save(out / "big-6000x4000.jpg", quality=85)
    for i in range(5):
        photos[(i + 1) % len(photos)].resize((320, 240)).save(out / "album" / f"small-{i}.webp")
    good = io.BytesIO()
    photos[2 % len(photos)].save(good, "JPEG", quality=90)
    (out / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    (out / "notes.jpg").write_text("not a photo: a text file named .jpg\n")
    (out / "empty.png").write_bytes(b"")
    return len(photos) + 1 + 1 + 5 + 3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="a new folder")
    ap.add_argument("--photos", default=str(PHOTOS), help=f"a .tar or folder of photos (default: {PHOTOS})")
    args = ap.parse_args()
    out, source = Path(args.out), Path(args.photos)
    fail = lambda msg: print(f"mixed_folder.py: error: {msg}", file=sys.stderr) or 1  # noqa: E731
    if out.exists():
        return fail(f"{out} exists: choose a new folder")
    if not source.exists():
        return fail(f"no photos at {source}: pass --photos with a .tar or folder of photos")
    try:
        photos = read_photos(source)
    except tarfile.TarError:
        return fail(f"{source} is not a .tar archive; pass --photos with a .tar or folder of photos")
    except OSError as e:
        return fail(f"cannot read {source} ({e.strerror or e})")
    if not photos:
        return fail(f"no readable photos in {source}")
    partial = out.with_name(f".{out.name}.partial")  # renamed to OUT once complete
    shutil.rmtree(partial, ignore_errors=True)  # what a killed run left
    try:
        partial.mkdir(parents=True)
        n = build(partial, photos)
        partial.rename(out)
    except BaseException as e:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(e, OSError):
            return fail(f"could not write {out} ({e}); nothing was left behind")
        raise
    print(f"{out}: {n} files ({n - 3} images, 3 bad files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
