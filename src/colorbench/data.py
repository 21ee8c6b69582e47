"""Image sources -> whole splits as uint8 tensors (N, 3, H, W). No floats, no models.

Sources (one interface, `load_dataset`):
  "cifar10"  the official cifar-10-python.tar.gz, downloaded once to the cache and md5-checked
  "sample"   a 2,500-image sample of the CIFAR-10 JPEG copy shipped with the package (works offline)
  a path     the official tarball; a folder / .tar.gz / .tar / .zip laid out train/<class>/*,
             test/<class>/*; or a flat folder/archive of images (one class, cropped and resized)

Decoded sets are cached as one safetensors file keyed by the source's content hash, so every load
after the first is a single file read.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import re
import tarfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .persist import ReadError, load_tensors, memo, save_tensors

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FILE = "cifar-10-python.tar.gz"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}  # what `colorbench colorize` takes as videos
DEFAULT_PHOTO_SIZE = 64  # side of the square crop for flat folders of photos of mixed sizes
CACHE_FORMAT = 1  # bump when decoding changes, so old caches are not reused
# Sizes are checked from the listing (stat, ZipInfo, TarInfo) before a byte is read: a 1 MB zip can
# hold a 1 GB member, and reading it whole would cost gigabytes of memory for nothing (issue 14).
MAX_IMAGE_BYTES = 64 << 20  # a file larger than this is not a dataset image: skipped unread
MAX_BATCH_BYTES = 64 << 20  # each official CIFAR-10 batch is about 31 MB
READ_AHEAD_BYTES = 64 << 20  # archive bytes read but not yet decoded, at most (plus one file)


class DataError(Exception):
    """A problem with the user's data, explained in one line (the CLI prints it, no traceback)."""


@dataclass
class Split:
    images: torch.Tensor  # (N, 3, H, W) uint8 RGB
    labels: torch.Tensor  # (N,) int64 class index

    def __len__(self) -> int:
        return self.images.shape[0]

    def take(self, idx: torch.Tensor) -> Split:
        return Split(self.images[idx], self.labels[idx])


@dataclass
class Dataset:
    name: str  # what to call it in reports, e.g. "CIFAR-10 (JPEG copy)"
    source: str  # what the user passed
    digest: str  # md5 of the source's content (files) or of its listing (folders)
    classes: list[str]
    train: Split
    test: Split
    skipped: int = 0  # unreadable or non-image files left out
    first_skipped: str | None = None
    cache_file: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.train.images.shape[-2:])  # type: ignore[return-value]

    def test_subset(self, limit: int = 0) -> Split:
        """The test split, or a fixed stratified subset of `limit` images (0: all)."""
        if limit and limit < len(self.test):
            _, keep = stratified_split(self.test.labels, limit / len(self.test), seed=0)
            return self.test.take(keep)
        return self.test


def cache_dir() -> Path:
    """Where downloads and decoded tensors live: $COLORBENCH_CACHE, else ~/.cache/colorbench."""
    return Path(os.environ.get("COLORBENCH_CACHE") or Path.home() / ".cache" / "colorbench")


# ---------------------------------------------------------------------------------------------
# Reading one image: every mode Pillow knows -> uint8 RGB (+ alpha), EXIF orientation applied


DEEP_GRAY = ("I;16", "I;16B", "I;16L", "I", "F")  # PIL's modes of gray with more than 8 bits a level


def to_rgb_array(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """A PIL image of any mode -> (uint8 RGB (H, W, 3), uint8 alpha (H, W) or None)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in DEEP_GRAY:  # 16-bit / 32-bit gray: scale, don't clip
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        if img.mode == "F" and a.max() <= 1.0:
            top = 1.0
        g = np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2), None
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    alpha = None
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        alpha = np.asarray(img.getchannel("A"))
    rgb = np.asarray(img.convert("RGB"))  # CMYK, YCbCr, L, 1, ... all convert here
    return rgb, alpha


@contextlib.contextmanager
def quiet_exif():
    """Pillow warns of a damaged EXIF block ("Corrupt EXIF data") and reads what it can: not the user's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?i).*corrupt exif", category=UserWarning)
        yield


def read_image(data: bytes | Path, name: str = "") -> tuple[np.ndarray, np.ndarray | None]:
    """Decode fully (truncated files raise here, not later) -> (RGB, alpha); raises DataError."""
    try:
        with quiet_exif():
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
                img.load()
                return to_rgb_array(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        why = str(e)
        if "truncated" in why.lower() or "broken data stream" in why:
            why = f"the file is cut short ({why}); copy it again from where it came from"
        if isinstance(e, UnidentifiedImageError):
            size = len(data) if isinstance(data, bytes) else Path(data).stat().st_size
            why = "empty file" if size == 0 else "not a picture file in a format colorbench can read"
        raise DataError(f"{name or data}: cannot read as an image ({why})") from None


def _flatten_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Composite transparent pixels onto white, so they carry no made-up colour."""
    if alpha is None:
        return rgb
    a = alpha[..., None].astype(np.float32) / 255
    return (rgb * a + 255 * (1 - a) + 0.5).astype(np.uint8)


def _square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre square crop, resized to size x size: PIL's bicubic, antialiased (colorize.shrink gives the network
    the same), after a box reduction for shrinks of 4x or more (reducing_gap)."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = Image.fromarray(rgb[top : top + s, left : left + s])
    if s != size:
        img = img.resize((size, size), Image.BICUBIC, reducing_gap=2.0)
    return np.asarray(img)


# ---------------------------------------------------------------------------------------------
# Hashing and the tensor cache


def _md5_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def content_md5(path: Path) -> str:
    """md5 of a file, remembered by (path, size, mtime) so a second load does not re-read it."""
    path = path.resolve()
    st = path.stat()
    return memo(cache_dir() / "hashes.json", f"{path}|{st.st_size}|{st.st_mtime_ns}", lambda: _md5_file(path))


def _listing_md5(folder: Path) -> str:
    """A folder's identity: every file's relative path, size and mtime (reading 60,000 files to
    hash their bytes would cost more than decoding them from the cache saves)."""
    h = hashlib.md5()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(folder).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _save_cache(ds: Dataset, path: Path) -> None:
    tensors = {"train_images": ds.train.images, "train_labels": ds.train.labels,
               "test_images": ds.test.images, "test_labels": ds.test.labels}
    meta = {"name": ds.name, "classes": ds.classes, "skipped": ds.skipped, "first_skipped": ds.first_skipped,
            "notes": ds.notes}
    save_tensors(path, tensors, meta)


def _load_cache(path: Path, source: str, digest: str) -> Dataset | None:
    try:
        t, meta = load_tensors(path, "dataset cache")
        return Dataset(meta["name"], source, digest, meta["classes"], Split(t["train_images"], t["train_labels"]),
                       Split(t["test_images"], t["test_labels"]), meta["skipped"], meta["first_skipped"], path,
                       meta.get("notes", []))
    except (ReadError, KeyError, TypeError):  # a damaged cache is rebuilt, never trusted
        return None


# ---------------------------------------------------------------------------------------------
# The official CIFAR-10 release


def fetch_cifar10(url: str | None = None, md5: str | None = None, progress: bool = True) -> Path:
    """Download the official archive once into the cache; verify md5; return its path.

    Written to a `.part` file and renamed only after the md5 matches, so an interrupted or corrupt
    download is never used and never left looking complete.
    """
    url, md5 = url or CIFAR10_URL, md5 or CIFAR10_MD5
    dest = cache_dir() / CIFAR10_FILE
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as r, open(part, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            from tqdm import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc="CIFAR-10", disable=not progress) as bar:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
            if total is not None and f.tell() != total:
                raise DataError(f"download of {url} stopped early ({f.tell()} of {total} bytes); run again")
    except (urllib.error.URLError, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        reason = getattr(e, "reason", e)
        raise DataError(
            f"cannot download CIFAR-10 from {url} ({reason}); with no network, download "
            f"{CIFAR10_FILE} elsewhere and pass --data /path/to/{CIFAR10_FILE} (or copy it to {dest})"
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    got = _md5_file(part)
    if got != md5:
        part.unlink(missing_ok=True)
        raise DataError(f"download of {url} is corrupt (md5 {got}, expected {md5}); it was deleted, run again")
    os.replace(part, dest)
    return dest


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The official batches are pickles: allow the few numpy classes they hold and nothing else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _is_official_cifar(path: Path) -> bool:
    if not path.is_file() or not tarfile.is_tarfile(path):
        return False
    try:
        with tarfile.open(path) as tar:
            for m in tar:
                if m.name.endswith("cifar-10-batches-py/batches.meta"):
                    return True
                if m.isfile() and Path(m.name).suffix.lower() in IMAGE_SUFFIXES:
                    return False
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: a damaged archive ({e}); download or copy it again") from None
    return False


def _decode_official(path: Path) -> tuple[list[str], Split, Split]:
    batches: dict[str, dict] = {}
    try:
        with tarfile.open(path) as tar:
            for m in tar:
                base = Path(m.name).name
                if m.isfile() and (base.startswith("data_batch_") or base in ("test_batch", "batches.meta")):
                    if m.size > MAX_BATCH_BYTES:
                        raise DataError(f"{path}: {m.name} holds {m.size:,} bytes, too many for a CIFAR-10 "
                                        "batch (each is about 31 MB); download it again")
                    batches[base] = _NumpyOnlyUnpickler(tar.extractfile(m), encoding="bytes").load()
    except (tarfile.TarError, OSError, EOFError, pickle.UnpicklingError) as e:
        raise DataError(f"{path}: not a readable CIFAR-10 archive ({e}); download it again") from None
    need = ["batches.meta", "test_batch"]
    if not all(k in batches for k in need) or not any(k.startswith("data_batch_") for k in batches):
        raise DataError(f"{path}: CIFAR-10 archive lacks {need} or data_batch_*; download it again")
    classes = [c.decode() for c in batches["batches.meta"][b"label_names"]]

    def split(keys: list[str]) -> Split:
        x = np.concatenate([np.asarray(batches[k][b"data"], dtype=np.uint8) for k in keys])
        y = np.concatenate([np.asarray(batches[k][b"labels"], dtype=np.int64) for k in keys])
        return Split(torch.from_numpy(x.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(y))

    train_keys = sorted(k for k in batches if k.startswith("data_batch_"))
    return classes, split(train_keys), split(["test_batch"])


# ---------------------------------------------------------------------------------------------
# Folders and archives of image files


@dataclass
class _Member:
    name: str  # relative posix name
    size: int  # bytes it holds, from the listing: known before it is read
    key: object  # what reads it: a Path, a ZipInfo or a TarInfo


# A damaged member or archive: zlib and gzip errors, bad CRC, truncation, encrypted or unsupported zips
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, RuntimeError,
                NotImplementedError)


@contextmanager
def _entries(path: Path) -> Iterator[tuple[list[_Member], Callable[[_Member], bytes]]]:
    """Every file in a folder, tar or zip, listed with its size before any is read, and a function
    that reads one. Read in listing order: a .tar.gz is one stream, cheap to read forward only."""
    with ExitStack() as stack:
        try:
            if path.is_dir():
                files = [p for p in sorted(path.rglob("*")) if p.is_file()]
                members = [_Member(p.relative_to(path).as_posix(), p.stat().st_size, p) for p in files]
                read = lambda m: m.key.read_bytes()
            elif zipfile.is_zipfile(path):
                z = stack.enter_context(zipfile.ZipFile(path))
                members = [_Member(i.filename, i.file_size, i) for i in z.infolist() if not i.is_dir()]
                read = lambda m: z.read(m.key)
            elif tarfile.is_tarfile(path):
                tar = stack.enter_context(tarfile.open(path, "r:*"))
                members = [_Member(m.name, m.size, m) for m in tar.getmembers() if m.isfile()]
                read = lambda m: tar.extractfile(m.key).read()
            else:
                raise DataError(f"{path}: not a folder, .tar(.gz) or .zip of images, nor the CIFAR-10 archive")
        except _READ_ERRORS as e:
            raise DataError(f"{path}: cannot list its files, the archive is damaged ({e})") from None
        yield members, read


def _map_in_order(fn: Callable, items: list, read: Callable, tick: Callable[[], object], workers: int) -> list:
    """[fn(item, read(item)) for item in items]: `workers` threads run fn while this one reads ahead
    in order, holding at most READ_AHEAD_BYTES of bytes not yet handed over (not the whole archive)."""
    out: list = []
    waiting: deque = deque()  # (future, bytes it holds), oldest first
    held = 0
    with ThreadPoolExecutor(workers) as pool:

        def finish_oldest() -> None:
            nonlocal held
            future, n = waiting.popleft()
            out.append(future.result())
            held -= n
            tick()

        for item in items:
            data = read(item)
            n = len(data) if data is not None else 0
            waiting.append((pool.submit(fn, item, data), n))  # the task drops the bytes once it has run
            held += n
            while held > READ_AHEAD_BYTES:
                finish_oldest()
        while waiting:
            finish_oldest()
    return out


_SPLIT_RE = re.compile(r"(?:^|/)(train|test)/([^/]+)/[^/]+$")


def _decode_folder(path: Path, size: int | None, progress: bool) -> Dataset:
    with _entries(path) as (members, read_member):  # open while its files are read
        return _decode_members(path, members, read_member, size, progress)


def _decode_members(path: Path, members: list[_Member], read_member: Callable[[_Member], bytes], size: int | None,
                    progress: bool) -> Dataset:
    from tqdm import tqdm

    files = [(m.name, m) for m in members if not Path(m.name).name.startswith(".")]
    bad: list[str] = [n for n, _ in files if Path(n).suffix.lower() not in IMAGE_SUFFIXES]
    files = [(n, r) for n, r in files if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    laid_out = [(m.group(1), m.group(2), n, r) for n, r in files if (m := _SPLIT_RE.search(n))]
    notes = []
    if laid_out:
        items = laid_out
        bad += [n for n, _ in files if not _SPLIT_RE.search(n)]
    else:  # a flat folder of photos: one class, and a fixed fifth (by file name) held out as test
        cls = re.sub(r"(\.tar)?\.(gz|tgz|tar|zip)$", "", path.name) or "images"
        items = [("test" if int(hashlib.md5(n.encode()).hexdigest(), 16) % 5 == 0 else "train", cls, n, r)
                 for n, r in files]
        size = size or DEFAULT_PHOTO_SIZE
        notes.append(f"flat folder: one class, centre-cropped to {size}x{size}, 1 in 5 files held out as test")
    if not items:
        raise DataError(f"{path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))} files)")
    too_big = [n for _, _, n, m in items if m.size > MAX_IMAGE_BYTES]
    if too_big:
        notes.append(f"left unread: {len(too_big)} file(s) over {MAX_IMAGE_BYTES >> 20} MB, too large for a "
                     f"dataset image (first: {too_big[0]})")

    def read(item) -> bytes | None:
        member = item[3]
        if member.size > MAX_IMAGE_BYTES:
            return None
        try:
            return read_member(member)
        except _READ_ERRORS:  # one damaged member is skipped like an unreadable image
            return None

    crop = size  # known now: crop in the workers, so full-size photos are never all held at once

    def decode(item, data: bytes | None):
        split, cls, name, _ = item
        if data is None:
            return None
        try:
            rgb = _flatten_alpha(*read_image(data, name))
        except DataError:
            return None
        return split, cls, name, (_square(rgb, crop) if crop is not None else rgb)

    with tqdm(total=len(items), desc=f"decoding {path.name}", unit="img", disable=not progress,
              leave=False) as bar:
        decoded = _map_in_order(decode, items, read, bar.update, min(4, os.cpu_count() or 1))
    bad += [it[2] for it, d in zip(items, decoded) if d is None]
    decoded = [d for d in decoded if d is not None]
    if not decoded:
        raise DataError(f"{path}: none of its {len(items)} image files could be read (first: {items[0][2]})")
    shapes = Counter(d[3].shape[:2] for d in decoded)
    if size is None and len(shapes) > 1:
        size = DEFAULT_PHOTO_SIZE
        notes.append(f"images of {len(shapes)} sizes: centre-cropped to {size}x{size}")
    if size is not None and crop is None:
        decoded = [(s, c, n, _square(rgb, size)) for s, c, n, rgb in decoded]
    classes = sorted({d[1] for d in decoded})
    index = {c: i for i, c in enumerate(classes)}

    def split(name: str) -> Split:
        rows = [d for d in decoded if d[0] == name]
        if not rows:
            h, w = decoded[0][3].shape[:2]
            return Split(torch.empty(0, 3, h, w, dtype=torch.uint8), torch.empty(0, dtype=torch.int64))
        x = torch.from_numpy(np.stack([d[3] for d in rows])).permute(0, 3, 1, 2).contiguous()
        return Split(x, torch.tensor([index[d[1]] for d in rows]))

    return Dataset(path.name, str(path), "", classes, split("train"), split("test"), len(bad),
                   bad[0] if bad else None, notes=notes)


# ---------------------------------------------------------------------------------------------


def sample_archive() -> Path:
    """The small CIFAR-10 sample shipped in the package (see assets/README.md)."""
    return Path(str(resources.files("colorbench") / "assets" / "cifar10-sample.tar.gz"))


def _display_name(path: Path, official: bool) -> str:
    if official:
        return "CIFAR-10"
    if path.name.startswith("cifar10-jpeg"):
        return "CIFAR-10 (JPEG copy)"
    if path == sample_archive():
        return "CIFAR-10 (JPEG copy, shipped 2,500-image sample)"
    return path.name


def load_dataset(source: str | os.PathLike = "cifar10", size: int | None = None, progress: bool = True,
                 use_cache: bool = True) -> Dataset:
    """Load a whole source as uint8 tensors. `size` crops and resizes every image to size x size."""
    source = str(source)
    if source == "cifar10":
        path = fetch_cifar10(progress=progress)
    elif source == "sample":
        path = sample_archive()
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source}: no such file or folder; pass a folder or archive of images, or 'cifar10'")
    if path.is_dir():
        if not any(path.iterdir()):
            raise DataError(f"{path}: the folder is empty; put images in it (train/<class>/*, test/<class>/*, or flat)")
        digest = _listing_md5(path)
    else:
        digest = content_md5(path)
        if path.name == CIFAR10_FILE and digest != CIFAR10_MD5:
            raise DataError(f"{path}: corrupt CIFAR-10 archive (md5 {digest}, expected {CIFAR10_MD5}); "
                            "not used: delete it and download it again")
    cache_file = cache_dir() / "datasets" / f"{digest}-{size or 'native'}-v{CACHE_FORMAT}.safetensors"
    if use_cache and cache_file.exists() and (ds := _load_cache(cache_file, source, digest)) is not None:
        return ds
    official = _is_official_cifar(path)
    if official:
        classes, train, test = _decode_official(path)
        if size is not None and size != 32:
            raise DataError(f"{path}: CIFAR-10 images are 32x32; drop --size or set it to 32")
        ds = Dataset(_display_name(path, True), source, digest, classes, train, test)
    else:
        ds = _decode_folder(path, size, progress)
        ds.source, ds.digest, ds.name = source, digest, _display_name(path, False)
    if use_cache:
        _save_cache(ds, cache_file)
        ds.cache_file = cache_file
    return ds


def select_classes(ds: Dataset, names: str) -> Dataset:
    """Only the classes in `names` (comma-separated folder names, e.g. "objects"; empty: all), relabelled
    0..k-1 in the order given, in both splits: a run on part of a source without a copy of it."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        return ds
    missing = [n for n in wanted if n not in ds.classes]
    if missing:
        raise DataError(f"{ds.source}: no class '{missing[0]}' (its classes: {', '.join(ds.classes)}); "
                        "pass --classes with some of those")
    old = torch.tensor([ds.classes.index(n) for n in wanted])
    new_label = torch.full((len(ds.classes),), -1, dtype=torch.long)
    new_label[old] = torch.arange(len(wanted))

    def keep(split: Split) -> Split:
        lab = new_label[split.labels]
        idx = (lab >= 0).nonzero().squeeze(1)
        return Split(split.images[idx], lab[idx])

    return replace(ds, classes=wanted, train=keep(ds.train), test=keep(ds.test),
                   notes=[*ds.notes, f"classes kept: {', '.join(wanted)} of {', '.join(ds.classes)}"])


# ---------------------------------------------------------------------------------------------
# Splits


def stratified_split(labels: torch.Tensor, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split keeping class proportions: (rest, held_out) index tensors, each sorted.

    `fraction` of every class goes to held_out (the study's 80/20 split is fraction 0.2), rounded so
    that held_out has exactly round(fraction * n) images: classes whose share has the largest
    fractional part get the leftover images (a limit of 64 gives 64, not 10 classes x 6).
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n = labels.numel()
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    order = perm[torch.argsort(labels[perm], stable=True)]  # grouped by class, random within class
    counts = torch.bincount(labels, minlength=int(labels.max()) + 1 if n else 0)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts.repeat_interleave(counts)  # position within its class
    share = counts.double() * fraction
    per_class = share.floor().long()
    short = round(n * fraction) - int(per_class.sum())
    if short > 0:  # largest remainders first, ties by class index
        order_ = torch.argsort(-(share - per_class), stable=True)
        per_class[order_[:short]] += 1
    take = per_class.repeat_interleave(counts)
    held = rank < take
    return order[~held].sort().values, order[held].sort().values


def describe(ds: Dataset) -> str:
    """What a source holds, for `colorbench data`."""
    h, w = ds.image_size
    lines = [f"{ds.name}  ({ds.source})", f"image size: {h}x{w}, classes: {len(ds.classes)}"]
    for name, split in (("train", ds.train), ("test", ds.test)):
        counts = torch.bincount(split.labels, minlength=len(ds.classes)).tolist()
        per = ", ".join(f"{c} {n:,}" for c, n in zip(ds.classes, counts))
        lines.append(f"{name}: {len(split):,} images ({per})")
    if ds.skipped:
        lines.append(f"skipped {ds.skipped} unreadable or non-image files (first: {ds.first_skipped})")
    lines += ds.notes
    lines.append(f"cached at: {ds.cache_file or 'not cached'}")
    return "\n".join(lines)
