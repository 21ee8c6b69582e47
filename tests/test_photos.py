"""The photo set (fixed held-out lists, gray photos left out) and the photo evaluation with its gallery."""

import io
import re
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.models import create_model, save_model
from colorbench.persist import read_json
from colorbench.photos import build_photo_set, colourless, evaluate_photos, held_out
from helpers import colorbench_cli


def photo(h, w, seed, gray=False):
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, 1 - x / w], -1) * 180 + g.integers(0, 60, (h, w, 3))
    a = base.astype(np.uint8)
    return np.repeat(a[..., :1], 3, 2) if gray else a


def jpeg(a) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def make_tar(path, files: dict[str, bytes]):
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_held_out_rule_and_colourless_by_hand():
    import hashlib

    name = "n01440764_tench.JPEG"
    assert held_out(f"some/dir/{name}", 10) == (int(hashlib.md5(name.encode()).hexdigest(), 16) % 10 == 0)
    a = photo(8, 8, 0)
    assert colourless(np.repeat(a[..., :1], 3, 2)) and not colourless(a)
    b = a.copy()
    b[..., 1] = np.clip(b[..., 0].astype(int) + 1, 0, 255)  # |R-G| = 1, |G-B| large: colourful
    assert not colourless(b)


def test_photo_set_holds_out_by_rule_and_leaves_out_gray_photos(tmp_path):
    names = [f"n{i:08d}_thing.JPEG" for i in range(40)]
    held = [n for n in names if held_out(n, 10)]
    assert held, "the rule holds out some of these names"
    make_tar(tmp_path / "imagenet.tar", {f"imagenet-sample/{n}": jpeg(photo(60, 90, i, gray=(i == 3)))
                                         for i, n in enumerate(names)})
    places = tmp_path / "places"
    places.mkdir()
    for i in range(30):
        (places / f"val-{i:08d}.jpg").write_bytes(jpeg(photo(40, 40, 100 + i)))
    info = build_photo_set(tmp_path / "imagenet.tar", places, tmp_path / "set", size=32, progress=False,
                           log=lambda *_: None)
    c = info["counts"]
    assert c["imagenet"]["held_out"] == len(held) and c["imagenet"]["photos"] == 40
    gray_held = held_out(names[3], 10)
    assert c["imagenet"]["colourless"] == (0 if gray_held else 1)
    assert sorted(p.name for p in (tmp_path / "set" / "heldout" / "imagenet").iterdir()) == sorted(held)
    assert c["imagenet"]["train_images"] == 3 * (40 - len(held) - c["imagenet"]["colourless"])  # 3 crops each
    trained = {p.name.rsplit("-", 1)[0] for p in (tmp_path / "set" / "train" / "objects").iterdir()}
    assert not trained & {n.rsplit(".", 1)[0] for n in held}  # no training image comes from a held-out photo
    assert Image.open(next((tmp_path / "set" / "train" / "scenes").iterdir())).size == (32, 32)
    assert "held out when the md5" in (tmp_path / "set" / "PHOTOS.md").read_text()
    with pytest.raises(FileExistsError):
        build_photo_set(tmp_path / "imagenet.tar", places, tmp_path / "set", progress=False)


def test_evaluate_photos_scores_against_the_truth_and_writes_a_gallery(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(3):
        Image.fromarray(photo(50 + 10 * i, 70, i)).save(src / f"p{i}.png")
    Image.fromarray(photo(40, 40, 9, gray=True)).save(src / "gray.png")
    torch.manual_seed(0)
    save_model(create_model("cnn", width=8), tmp_path / "w.safetensors", {"recommended_size": 32})
    r = evaluate_photos(str(src), [f"mine={tmp_path / 'w.safetensors'}"], tmp_path / "out", progress=False)
    assert r["photos"] == 3 and r["left_out_without_colour"] == ["gray.png"]
    assert set(r["summary"]) == {"gray", "mine"} and r["methods"]["mine"]["size"] == 32
    # the gray baseline's PSNR by hand, for the first photo
    rgb = np.asarray(Image.open(src / "p0.png")).astype(np.float64)
    from colorbench.color import gray_of_lightness, rgb_to_lab

    L = rgb_to_lab(torch.from_numpy(rgb / 255).permute(2, 0, 1)[None])[:, :1]
    gray = (gray_of_lightness(L)[0].permute(1, 2, 0).numpy() * 255).round()
    want = 10 * np.log10(255**2 / ((gray - rgb) ** 2).mean())
    assert r["per_photo"]["gray"]["psnr"][0] == pytest.approx(want, abs=1e-6)
    assert r["summary"]["gray"]["colorfulness"] < 1 < r["truth_colorfulness"]
    page = (tmp_path / "out" / "gallery.html").read_text()
    assert not re.search(r"https?://|<script|<link", page)
    assert page.count("<img") == 3 * 3 and "data:image/jpeg;base64," in page  # gray | mine | truth, embedded
    assert read_json(tmp_path / "out" / "results.json")["photos"] == 3


def test_extra_training_photos_never_repeat_a_held_out_one(tmp_path):
    """--extra-scenes/--extra-objects: training only, and a photo with the same bytes as any of the
    two sources' photos (held out or not) is dropped and counted, and so is a held-out photo resized and
    re-encoded; repeated names in subfolders kept apart; a photo filed under a held-out photo's ImageNet class
    (Tiny ImageNet re-crops its photos) is dropped, one under a training photo's class kept."""
    def blocks(seed):  # unlike photo()'s shared gradient, each seed its own picture, even as a thumbnail
        cells = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
        return np.asarray(Image.fromarray(cells).resize((84, 84), Image.NEAREST))

    names = [f"n{i:08d}_thing.JPEG" for i in range(20)]
    files = {n: jpeg(photo(50, 70, i)) for i, n in enumerate(names)}
    make_tar(tmp_path / "imagenet.tar", {f"imagenet-sample/{n}": d for n, d in files.items()})
    places = tmp_path / "places"
    places.mkdir()
    for i in range(10):
        (places / f"val-{i:08d}.jpg").write_bytes(jpeg(photo(40, 40, 100 + i)))
    held = next(n for n in names if held_out(n, 10))
    extra = tmp_path / "more"
    for cat in ("a", "b"):
        (extra / cat).mkdir(parents=True)
        (extra / cat / "001.jpg").write_bytes(jpeg(blocks(200 + ord(cat))))  # same name, other photo
    (extra / "a" / "copy.jpg").write_bytes(files[held])  # a held-out photo's bytes under another name
    (extra / "b" / "gray.jpg").write_bytes(jpeg(photo(84, 84, 7, gray=True)))
    shrunk = Image.open(io.BytesIO(files[held])).resize((40, 56), Image.BICUBIC)
    (extra / "b" / "shrunk.jpg").write_bytes(jpeg(np.asarray(shrunk)))  # a held-out photo's copy
    trained = next(n for n in names if not held_out(n, 10))
    for i, wnid in enumerate((held[:9], trained[:9])):  # the layout of Tiny ImageNet: <wnid>/images/<wnid>_N
        (extra / wnid / "images").mkdir(parents=True)
        (extra / wnid / "images" / f"{wnid}_0.JPEG").write_bytes(jpeg(blocks(300 + i)))
    info = build_photo_set(tmp_path / "imagenet.tar", places, tmp_path / "set", size=32, progress=False,
                           log=lambda *_: None, extra_objects=[extra])
    c = info["counts"]["extra:more"]
    assert c == {"photos": 7, "held_out": 0, "colourless": 1, "unreadable": 0, "train_images": 3, "duplicates": 1,
                 "near_copies": 1, "held_out_class": 1}
    objects = sorted(p.name for p in (tmp_path / "set" / "train" / "objects").iterdir())
    assert "more-a-001-0.png" in objects and "more-b-001-0.png" in objects
    assert f"more-{trained[:9]}-images-{trained[:9]}_0-0.png" in objects
    assert not any(held[:9] in n for n in objects)
    assert not any("copy" in n for n in objects)
    assert "dropped 1 with the same bytes" in (tmp_path / "set" / "PHOTOS.md").read_text()
    assert "1 matching a held-out photo's thumbnail, 1 of a held-out photo's ImageNet class" in \
        (tmp_path / "set" / "PHOTOS.md").read_text()


def test_evaluate_photos_names_the_same_weights_once_and_labels_run_folders_by_name(tmp_path):
    """`--weights default study` (the same file until the photo weights ship): one row, said so; a run folder
    is labelled by its name, not its absolute path; the gallery names the gray photos it left out."""

    from colorbench.colorize import weights_path

    src = tmp_path / "photos"
    src.mkdir()
    for i in range(2):
        Image.fromarray(photo(40, 56, i)).save(src / f"p{i}.png")
    Image.fromarray(photo(40, 40, 9, gray=True)).save(src / "old-gray.png")
    run = tmp_path / "runs" / "my-run"
    run.mkdir(parents=True)
    torch.manual_seed(0)
    save_model(create_model("cnn", width=8), run / "model.safetensors", {"recommended_size": 32})
    same = weights_path("default").resolve() == weights_path("study").resolve()
    r = evaluate_photos(str(src), ["default", "study", str(run)], tmp_path / "out", progress=False)
    assert set(r["summary"]) == {"gray", "default", "study", "my-run"}  # every name asked for keeps its figures
    assert (r["methods"]["study"].get("same_as") == "default") == same
    page = (tmp_path / "out" / "gallery.html").read_text()
    assert "Left out without colour: 1 (old-gray.png)." in page
    assert page.count("<img") == 2 * (4 if same else 5)  # gray | default (= study) | my-run | truth
    out = colorbench_cli("evaluate-photos", src, "--weights", "default", "study", run, "--out", tmp_path / "cli", "--quiet")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    table = [line for line in out.stdout.splitlines() if line.startswith("  ") and "(size" in line]
    assert [line.split()[0] for line in table] == (["default", "my-run"] if same else ["default", "study", "my-run"])
    assert not any(str(tmp_path) in line for line in table)  # labels, not absolute paths
    if same:
        assert "default = study (size" in out.stdout and "default and study are the same weights" in out.stdout


def test_true_hints_are_the_photos_own_colours_seeded_by_name_and_nested():
    from colorbench.photos import true_hints

    rgb = photo(30, 40, 0)
    pts = true_hints("a.jpg", rgb, 50)
    assert len({(x, y) for x, y, _ in pts}) == 50  # distinct pixels
    for x, y, color in pts:
        assert color == "#%02x%02x%02x" % tuple(rgb[y, x])
    assert true_hints("a.jpg", rgb, 10) == pts[:10]  # nested: 10 points are the first 10 of 50
    assert true_hints("b.jpg", rgb, 10) != pts[:10]  # another photo, other points


def test_evaluate_photos_with_hints_scores_each_count_with_the_same_points(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(2):
        Image.fromarray(photo(40 + 8 * i, 56, i)).save(src / f"p{i}.png")
    torch.manual_seed(0)
    guided = create_model("cnn", width=8, in_channels=4)
    with torch.no_grad():  # hints that change the colours
        first = next(w for w in guided.parameters() if w.dim() == 4)
        first[:, 1:] = torch.randn_like(first[:, 1:]) * 3
    save_model(guided, tmp_path / "g.safetensors", {"recommended_size": 32})
    save_model(create_model("cnn", width=8), tmp_path / "a.safetensors", {"recommended_size": 32})
    weights = [f"auto={tmp_path / 'a.safetensors'}", f"guided={tmp_path / 'g.safetensors'}"]
    r = evaluate_photos(str(src), weights, tmp_path / "out", progress=False, hints=[10, 0, 2])
    h = r["hints"]
    assert h["counts"] == [0, 2, 10] and set(h["summary"]) == {"guided"}  # weights of L alone take none
    assert h["per_photo"]["guided"]["0"]["psnr"] == r["per_photo"]["guided"]["psnr"]  # no points: automatic
    assert h["per_photo"]["guided"]["10"]["psnr"] != h["per_photo"]["guided"]["0"]["psnr"]
    # the same points for any weights: a second evaluation of the same file gives the same figures
    r2 = evaluate_photos(str(src), [f"again={tmp_path / 'g.safetensors'}"], tmp_path / "out2", progress=False,
                         hints=[10])
    assert r2["hints"]["per_photo"]["again"]["10"] == h["per_photo"]["guided"]["10"]
    page = (tmp_path / "out" / "gallery.html").read_text()
    assert "<svg" in page and "Colour hints" in page and not re.search(r"https?://|<script|<link", page)
    from colorbench.config import UsageError

    with pytest.raises(UsageError, match="none of the weights"):
        evaluate_photos(str(src), [f"auto={tmp_path / 'a.safetensors'}"], tmp_path / "out3", progress=False, hints=[1])


def test_evaluate_photos_decodes_classification_weights_at_the_temperature_given(tmp_path):
    """--temperature reaches the weights that decode colour bins (their T is in results.json, and their
    figures move); weights that predict ab directly are measured as they are."""
    from helpers import fitted

    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(photo(40, 56, 1)).save(src / "p.png")
    torch.manual_seed(0)
    cls = create_model("cnn", fitted("classification"), width=8)
    [c for c in cls.modules() if isinstance(c, torch.nn.Conv2d)][-1].weight.data *= 30
    save_model(cls, tmp_path / "c.safetensors", {"recommended_size": 32})
    save_model(create_model("cnn", width=8), tmp_path / "m.safetensors", {"recommended_size": 32})
    weights = [f"cls={tmp_path / 'c.safetensors'}", f"direct={tmp_path / 'm.safetensors'}"]
    own = evaluate_photos(str(src), weights, tmp_path / "a", progress=False)
    hot = evaluate_photos(str(src), weights, tmp_path / "b", progress=False, temperature=3.0)
    assert own["methods"]["cls"]["temperature"] == pytest.approx(0.38) and hot["methods"]["cls"]["temperature"] == 3.0
    assert own["methods"]["direct"]["temperature"] is None is hot["methods"]["direct"]["temperature"]
    assert hot["summary"]["direct"] == own["summary"]["direct"]
    assert abs(hot["summary"]["cls"]["colorfulness"] - own["summary"]["cls"]["colorfulness"]) > 0.5


def test_later_weights_are_paired_photo_by_photo_against_the_first(tmp_path):
    """paired: each later set of weights minus the first on the same photos; the interval and p are Student
    t's over the photos (scipy), the p Holm-adjusted over the table's rows."""
    from scipy import stats as sps

    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        Image.fromarray(photo(40 + 6 * i, 48, i)).save(src / f"p{i}.png")
    for seed, name in ((0, "a"), (1, "b"), (2, "c")):
        torch.manual_seed(seed)
        save_model(create_model("cnn", width=8), tmp_path / f"{name}.safetensors", {"recommended_size": 32})
    r = evaluate_photos(str(src), [f"{n}={tmp_path / n}.safetensors" for n in "abc"], tmp_path / "out", progress=False)
    rows = r["paired"]
    assert [(p["a"], p["b"], p["metric"]) for p in rows] == [
        (m, "a", k) for m in "bc" for k in ("psnr", "ciede2000", "colorfulness")]
    raw = []
    for p in rows:
        d = np.subtract(r["per_photo"][p["a"]][p["metric"]], r["per_photo"]["a"][p["metric"]])
        t = sps.ttest_1samp(d, 0)
        lo, hi = t.confidence_interval(0.95)
        assert (p["mean_diff"], p["ci_low"], p["ci_high"], p["p"]) == pytest.approx((d.mean(), lo, hi, t.pvalue), rel=1e-9)
        raw.append(t.pvalue)
    worst = min(range(6), key=lambda i: raw[i])
    assert rows[worst]["p_holm"] == pytest.approx(min(1, 6 * raw[worst]))  # the smallest p times the 6 tests
    one = evaluate_photos(str(src), [f"a={tmp_path / 'a'}.safetensors"], tmp_path / "one", progress=False)
    assert one["paired"] == []  # one set of weights: nothing to pair (gray is the baseline in the table)
