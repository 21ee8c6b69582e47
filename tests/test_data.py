import hashlib
import http.server
import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench import data
from colorbench.data import DataError, load_dataset, read_image, stratified_split
from helpers import colorbench_cli

CLASSES = ["cat", "dog", "frog"]


# ---------------------------------------------------------------------------------------------
# helpers that write small sources in every supported layout


def official_archive(path: Path, n_train: int = 6, n_test: int = 3, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A tiny archive in the official cifar-10-python.tar.gz format (pickled batches)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n_train + n_test, 3072), dtype=np.uint8)
    y = [i % 3 for i in range(n_train + n_test)]
    members = {
        "cifar-10-batches-py/batches.meta": {b"label_names": [c.encode() for c in CLASSES]},
        "cifar-10-batches-py/data_batch_1": {b"data": x[: n_train // 2], b"labels": y[: n_train // 2]},
        "cifar-10-batches-py/data_batch_2": {b"data": x[n_train // 2 : n_train], b"labels": y[n_train // 2 : n_train]},
        "cifar-10-batches-py/test_batch": {b"data": x[n_train:], b"labels": y[n_train:]},
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            blob = pickle.dumps(obj)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path, x


def png_bytes(arr: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, fmt) if mode else Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def layout_folder(root: Path, per_class: int = 4, size: int = 8) -> Path:
    rng = np.random.default_rng(1)
    for split, n in (("train", per_class), ("test", 2)):
        for c in CLASSES:
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                (d / f"{i}.png").write_bytes(png_bytes(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
    return root


# ---------------------------------------------------------------------------------------------
# the official release


def test_official_archive_decodes_exactly(tmp_path, empty_cache):
    path, x = official_archive(tmp_path / "tiny-cifar.tar.gz")
    ds = load_dataset(path, progress=False)
    assert ds.classes == CLASSES
    assert ds.train.images.shape == (6, 3, 32, 32) and ds.test.images.shape == (3, 3, 32, 32)
    assert ds.train.images.dtype == torch.uint8
    assert torch.equal(ds.train.images.reshape(6, -1), torch.from_numpy(x[:6]))  # channel-major, as released
    assert ds.train.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.name == "CIFAR-10"


class _Server:
    """Serves bytes over HTTP on 127.0.0.1; `truncate` sends fewer bytes than announced."""

    def __init__(self, payload: bytes, truncate: bool = False):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2] if truncate else payload)

            def log_message(self, *a):
                pass

        self.hits = 0
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/cifar-10-python.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def served_archive(tmp_path, monkeypatch):
    path, x = official_archive(tmp_path / "src.tar.gz")
    payload = path.read_bytes()
    servers = []

    def serve(truncate=False, md5=None):
        s = _Server(payload, truncate)
        servers.append(s)
        monkeypatch.setattr(data, "CIFAR10_URL", s.url)
        monkeypatch.setattr(data, "CIFAR10_MD5", md5 or hashlib.md5(payload).hexdigest())
        return s

    yield serve, x
    for s in servers:
        s.close()


def test_download_once_then_cached(served_archive, empty_cache):
    serve, x = served_archive
    server = serve()
    ds = load_dataset("cifar10", progress=False)
    assert torch.equal(ds.test.images.reshape(3, -1), torch.from_numpy(x[6:]))
    assert (empty_cache / "cifar-10-python.tar.gz").exists()
    again = load_dataset("cifar10", progress=False)
    assert server.hits == 1  # the second load neither downloads nor decodes
    assert again.cache_file == ds.cache_file and torch.equal(again.train.images, ds.train.images)


def test_download_with_wrong_md5_is_deleted(served_archive, empty_cache):
    serve, _ = served_archive
    serve(md5="0" * 32)
    with pytest.raises(DataError, match="corrupt"):
        load_dataset("cifar10", progress=False)
    assert not list(empty_cache.glob("cifar-10-python*"))  # nothing left that looks complete


def test_interrupted_download_is_not_kept(served_archive, empty_cache):
    serve, _ = served_archive
    serve(truncate=True)
    with pytest.raises(DataError, match="cifar10|stopped|download"):
        load_dataset("cifar10", progress=False)
    assert not list(empty_cache.glob("cifar-10-python*"))


def test_no_network_says_how_to_use_a_local_copy(monkeypatch, empty_cache):
    monkeypatch.setattr(data, "CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # nothing listens
    with pytest.raises(DataError, match="--data"):
        load_dataset("cifar10", progress=False)
    assert not list(empty_cache.glob("cifar-10-python*"))


def test_official_archive_with_an_oversized_batch_is_refused(tmp_path, empty_cache, monkeypatch):
    path, _ = official_archive(tmp_path / "tiny-cifar.tar.gz")
    monkeypatch.setattr(data, "MAX_BATCH_BYTES", 1000)  # the tiny batches hold about 5 KB each
    with pytest.raises(DataError, match="data_batch_1 holds .* bytes, too many for a CIFAR-10 batch"):
        load_dataset(path, progress=False)


def test_corrupt_official_archive_is_refused(tmp_path, empty_cache):
    path, _ = official_archive(tmp_path / "cifar-10-python.tar.gz")  # official name, wrong md5
    with pytest.raises(DataError, match="corrupt.*md5"):
        load_dataset(path, progress=False)
    assert not (empty_cache / "datasets").exists() or not list((empty_cache / "datasets").iterdir())


# ---------------------------------------------------------------------------------------------
# folders and archives of images


def test_layout_folder_tar_and_zip_agree(tmp_path, empty_cache):
    root = layout_folder(tmp_path / "imgs")
    ds = load_dataset(root, progress=False)
    assert ds.classes == CLASSES
    assert len(ds.train) == 12 and len(ds.test) == 6 and ds.image_size == (8, 8)
    assert torch.bincount(ds.train.labels).tolist() == [4, 4, 4]
    tgz = tmp_path / "imgs.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(root, arcname="imgs")  # a top-level folder inside is fine
    zp = tmp_path / "imgs.zip"
    with zipfile.ZipFile(zp, "w") as z:
        for p in sorted(root.rglob("*.png")):
            z.write(p, p.relative_to(root).as_posix())
    for other in (load_dataset(tgz, progress=False), load_dataset(zp, progress=False)):
        assert other.classes == ds.classes
        # same images, same labels (order within a split follows file names)
        for a, b in ((ds.train, other.train), (ds.test, other.test)):
            ka = sorted(zip(a.labels.tolist(), a.images.flatten(1).sum(1).tolist()))
            kb = sorted(zip(b.labels.tolist(), b.images.flatten(1).sum(1).tolist()))
            assert ka == kb


def test_classes_keep_only_those_folders_relabelled(tmp_path, empty_cache):
    root = layout_folder(tmp_path / "imgs")
    ds = load_dataset(root, progress=False)
    only = data.select_classes(ds, f"{CLASSES[2]}, {CLASSES[0]}")  # in the order given
    assert only.classes == [CLASSES[2], CLASSES[0]]
    for split, part in ((ds.train, only.train), (ds.test, only.test)):
        for new, old in ((0, 2), (1, 0)):
            assert torch.equal(part.images[part.labels == new], split.images[split.labels == old])
        assert len(part) == (split.labels != 1).sum()
    assert data.select_classes(ds, "") is ds
    with pytest.raises(DataError, match=r"no class 'cars' \(its classes: " + ", ".join(CLASSES)):
        data.select_classes(ds, "cars")


def test_flat_folder_is_one_class_cropped_to_size(tmp_path, empty_cache):
    root = tmp_path / "photos"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        h, w = rng.integers(20, 60, 2)
        (root / f"p{i}.jpg").write_bytes(png_bytes(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), fmt="JPEG"))
    ds = load_dataset(root, size=16, progress=False)
    assert ds.classes == ["photos"]
    assert len(ds.train) + len(ds.test) == 20 and len(ds.test) > 0
    assert ds.image_size == (16, 16)


def test_bad_files_are_skipped_and_counted(tmp_path, empty_cache):
    root = layout_folder(tmp_path / "imgs")
    good = (root / "train" / "cat" / "0.png").read_bytes()
    jpg = png_bytes(np.full((8, 8, 3), 128, np.uint8), fmt="JPEG")
    (root / "train" / "cat" / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    (root / "train" / "dog" / "notes.png").write_text("this is not an image")
    (root / "train" / "dog" / "readme.txt").write_text("not an image either")
    ds = load_dataset(root, progress=False)
    assert len(ds.train) == 12  # the 12 good ones
    assert ds.skipped == 3
    assert ds.first_skipped is not None and Path(ds.first_skipped).name in {"truncated.jpg", "notes.png", "readme.txt"}
    assert good  # the good file is untouched


def zip_of(root: Path, dest: Path, **kw) -> zipfile.ZipFile:
    """An open zip (write mode) already holding every file under root."""
    z = zipfile.ZipFile(dest, "w", **kw)
    for p in sorted(root.rglob("*.png")):
        z.write(p, p.relative_to(root).as_posix())
    return z


def load_in_subprocess(source: Path, cache: Path) -> tuple[str, int]:
    """describe() of a load in a fresh process, and that process's peak resident memory in bytes
    (VmHWM: unlike ru_maxrss, it does not include the pytest process a child is forked from)."""
    code = ("import sys, colorbench.data as d; print(d.describe(d.load_dataset(sys.argv[1], progress=False))); "
            "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])")
    r = subprocess.run([sys.executable, "-c", code, str(source)], check=False, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "COLORBENCH_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr
    *lines, peak_kb = r.stdout.splitlines()
    return "\n".join(lines), int(peak_kb) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc (Linux)")
def test_a_1gb_member_is_skipped_unread(tmp_path):
    root = layout_folder(tmp_path / "imgs", per_class=1)
    zp = tmp_path / "big.zip"
    with (zip_of(root, zp, compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z,
          z.open("train/cat/huge.png", "w", force_zip64=True) as f):  # 1 GB of zeros: 5 MB zipped
        for _ in range(1024):
            f.write(bytes(1 << 20))
    out, peak = load_in_subprocess(zp, tmp_path / "cache")
    assert "train: 3 images (cat 1, dog 1, frog 1)" in out and "test: 6 images" in out
    assert "skipped 1 unreadable" in out and "over 64 MB" in out and "train/cat/huge.png" in out
    assert peak < 1 << 30, f"peak {peak >> 20} MB"  # reading the member whole peaked at 2.3 GB (issue 14)


def huge_png(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height: a decompression bomb, tiny on disk."""
    png = bytearray(png_bytes(np.zeros((1, 1, 3), np.uint8)))
    png[16:24] = struct.pack(">II", width, height)  # IHDR data follows the signature, length and type
    png[29:33] = struct.pack(">I", zlib.crc32(png[12:29]))  # the chunk CRC covers type and data
    return bytes(png)


def test_decompression_bomb_in_an_archive_is_skipped(tmp_path, empty_cache):
    bomb = huge_png(40_000, 40_000)  # 1.6 G pixels: 4.8 GB if it were decoded
    with pytest.raises(DataError, match="decompression bomb"):
        read_image(bomb, "bomb.png")
    root = layout_folder(tmp_path / "imgs", per_class=1)
    zp = tmp_path / "bomb.zip"
    with zip_of(root, zp) as z:
        z.writestr("train/cat/bomb.png", bomb)
    ds = load_dataset(zp, progress=False)
    assert len(ds.train) == 3 and ds.skipped == 1 and ds.first_skipped == "train/cat/bomb.png"


def test_size_limit_from_folder_and_tar_listings(tmp_path, empty_cache, monkeypatch):
    root = layout_folder(tmp_path / "imgs", per_class=1)
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    (root / "train" / "cat" / "big.png").write_bytes(png_bytes(noise))  # about 12 KB
    tgz = tmp_path / "imgs.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(root, arcname="imgs")
    monkeypatch.setattr(data, "MAX_IMAGE_BYTES", 4096)
    for source in (root, tgz):
        ds = load_dataset(source, progress=False)
        assert len(ds.train) == 3 and ds.image_size == (8, 8) and ds.skipped == 1
        assert ds.first_skipped.endswith("train/cat/big.png") and "big.png" in ds.notes[-1]


def test_a_damaged_member_is_skipped(tmp_path, empty_cache):
    root = layout_folder(tmp_path / "imgs", per_class=1)
    good = png_bytes(np.full((8, 8, 3), 7, np.uint8))
    zp = tmp_path / "damaged.zip"
    with zip_of(root, zp) as z:
        z.writestr("train/cat/bad.png", good)  # stored: flip a byte of it below, and its CRC fails
    raw = bytearray(zp.read_bytes())
    raw[raw.find(good) + len(good) // 2] ^= 0xFF
    zp.write_bytes(bytes(raw))
    ds = load_dataset(zp, progress=False)
    assert len(ds.train) == 3 and ds.skipped == 1 and ds.first_skipped == "train/cat/bad.png"
    tgz = tmp_path / "cut.tar.gz"  # a damaged listing, though, is the whole archive's problem
    with tarfile.open(tgz, "w:gz") as t:
        t.add(root, arcname="imgs")
    tgz.write_bytes(tgz.read_bytes()[: tgz.stat().st_size // 2])
    with pytest.raises(DataError, match="cut.tar.gz: cannot list its files, the archive is damaged"):
        load_dataset(tgz, progress=False)


def test_bounded_read_ahead_gives_the_same_dataset(tmp_path, empty_cache, monkeypatch):
    tgz = tmp_path / "imgs.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(layout_folder(tmp_path / "imgs"), arcname="imgs")
    whole = load_dataset(tgz, progress=False, use_cache=False)
    monkeypatch.setattr(data, "READ_AHEAD_BYTES", 0)  # each file waits for the one before to decode
    one = load_dataset(tgz, progress=False, use_cache=False)
    for a, b in ((whole.train, one.train), (whole.test, one.test)):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_missing_and_empty_paths(tmp_path, empty_cache):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_dataset(tmp_path / "empty", progress=False)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_text("text")
    with pytest.raises(DataError, match="could be read|no images"):
        load_dataset(tmp_path / "junk", progress=False)


# ---------------------------------------------------------------------------------------------
# image modes: converted, not refused


def _decode(img: Image.Image, fmt: str = "PNG") -> tuple[np.ndarray, np.ndarray | None]:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return read_image(buf.getvalue(), "x")


def test_grayscale_and_16_bit():
    g = np.array([[0, 128, 255]], np.uint8)
    rgb, alpha = _decode(Image.fromarray(g, "L"))
    assert alpha is None and (rgb == g[..., None]).all()
    g16 = np.array([[0, 32768, 65535]], np.uint16)
    rgb, _ = _decode(Image.fromarray(g16))  # mode I;16: scaled down to 8 bits, not clipped
    assert rgb[0, :, 0].tolist() == [0, 128, 255] and (rgb[..., 0] == rgb[..., 2]).all()


def test_palette_rgba_and_cmyk():
    p = Image.new("P", (2, 1))
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.putpixel((1, 0), 1)
    rgb, _ = _decode(p)
    assert rgb[0].tolist() == [[255, 0, 0], [0, 0, 255]]
    rgba = np.array([[[255, 0, 0, 255], [0, 255, 0, 0]]], np.uint8)
    rgb, alpha = _decode(Image.fromarray(rgba, "RGBA"))
    assert alpha.tolist() == [[255, 0]] and rgb[0, 0].tolist() == [255, 0, 0]
    assert data._flatten_alpha(rgb, alpha)[0, 1].tolist() == [255, 255, 255]  # transparent -> white
    cmyk = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # full magenta + yellow = red
    rgb, _ = _decode(cmyk, "JPEG")
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 1:].max() < 60


def test_every_mode_in_a_dataset_folder(tmp_path, empty_cache):
    root = tmp_path / "modes" / "train" / "a"
    root.mkdir(parents=True)
    (tmp_path / "modes" / "test" / "a").mkdir(parents=True)
    arr = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(arr).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray((arr[..., 0].astype(np.uint16) * 257)).save(root / "g16.png")
    Image.fromarray(arr).convert("P").save(root / "pal.png")
    Image.fromarray(arr).convert("RGBA").save(root / "rgba.png")
    Image.fromarray(arr).convert("L").save(tmp_path / "modes" / "test" / "a" / "gray.png")
    ds = load_dataset(tmp_path / "modes", progress=False)
    assert len(ds.train) == 4 and len(ds.test) == 1 and ds.skipped == 0
    assert ds.train.images.shape == (4, 3, 8, 8)


# ---------------------------------------------------------------------------------------------
# cache and splits


def test_second_load_comes_from_the_cache(tmp_path, empty_cache, monkeypatch):
    root = layout_folder(tmp_path / "imgs")
    first = load_dataset(root, progress=False)
    assert first.cache_file is not None and first.cache_file.exists()

    def boom(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(data, "_decode_folder", boom)
    second = load_dataset(root, progress=False)
    assert torch.equal(first.train.images, second.train.images) and second.classes == first.classes
    # a changed source is a new cache entry, never a stale one
    (root / "train" / "cat" / "0.png").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8)))
    monkeypatch.undo()
    assert not torch.equal(load_dataset(root, progress=False).train.images, first.train.images)


def test_stratified_split():
    labels = torch.arange(10).repeat_interleave(50)  # 10 classes x 50
    train, val = stratified_split(labels, 0.2, seed=0)
    assert len(val) == 100 and len(train) == 400
    assert torch.bincount(labels[val]).tolist() == [10] * 10
    assert set(train.tolist()).isdisjoint(val.tolist()) and len(set(train.tolist()) | set(val.tolist())) == 500
    assert torch.equal(stratified_split(labels, 0.2, seed=0)[1], val)  # seeded
    assert not torch.equal(stratified_split(labels, 0.2, seed=1)[1], val)


def test_shipped_sample_works_offline(empty_cache):
    ds = load_dataset("sample", progress=False)
    assert len(ds.train) == 2000 and len(ds.test) == 500 and len(ds.classes) == 10
    assert data.sample_archive().stat().st_size <= 1_000_000


def test_cifar_jpeg_copy_counts(cifar_jpeg):
    ds = cifar_jpeg
    assert ds.name == "CIFAR-10 (JPEG copy)"
    assert (len(ds.train), len(ds.test), ds.image_size) == (50_000, 10_000, (32, 32))
    assert torch.bincount(ds.train.labels).tolist() == [5000] * 10
    assert torch.bincount(ds.test.labels).tolist() == [1000] * 10
    assert ds.classes[0] == "airplane" and ds.classes[-1] == "truck"


# ---------------------------------------------------------------------------------------------
# the command


def run_cli(*args, cwd=None):
    return colorbench_cli(*args, cwd=cwd)


def test_cli_data_prints_counts_and_writes_a_png(tmp_path, empty_cache):
    root = layout_folder(tmp_path / "imgs")
    r = run_cli("data", "--data", str(root), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "train: 12 images (cat 4, dog 4, frog 4)" in r.stdout and "8x8" in r.stdout
    png = tmp_path / "colorbench-data.png"
    assert png.exists() and Image.open(png).size[0] > 100
    r2 = run_cli("data", "--data", str(root), "--quiet", cwd=tmp_path)
    assert (tmp_path / "colorbench-data-1.png").exists()  # never overwrites the first
    assert r2.returncode == 0


def test_cli_bad_path_is_one_line(tmp_path, empty_cache):
    r = run_cli("data", "--data", str(tmp_path / "missing"))
    assert r.returncode == 1  # a runtime error (the command line itself is fine): see cli.py
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "no such file" in r.stderr
