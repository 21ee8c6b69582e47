import io
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.color import lab_to_rgb, rgb_to_lab
from colorbench.colorize import colorize, fit_gamut
from colorbench.files import colorize_files, plan, summary_line
from colorbench.data import DataError
from colorbench.inputs import HINT_RADIUS
from colorbench.models import create_model, save_model
from helpers import colorbench_cli, fitted, photo


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Small trained-looking weights: a cnn whose output is pushed away from gray, so colour shows."""
    torch.manual_seed(0)
    m = create_model("cnn", width=8)
    m.net[-1][0].bias.data = torch.tensor([0.3, -0.2])
    p = tmp_path_factory.mktemp("w") / "w.safetensors"
    save_model(m, p, {"recommended_size": 32})
    return p



def L_of(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb[..., :3].astype(np.float64) / 255).permute(2, 0, 1))[0]


def test_pil_any_mode_keeps_size_alpha_and_lightness(weights):
    rgb = photo()
    out = colorize(Image.fromarray(rgb), weights=weights)
    assert out.mode == "RGB" and out.size == (64, 48)
    # lightness is the input's, within 1 level of 255
    assert (L_of(np.asarray(out)) - L_of(rgb)).abs().max() * 2.55 <= 1
    assert np.asarray(out).std(axis=2).mean() > 1  # it is coloured
    rgba = np.dstack([rgb, np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))])
    out = colorize(Image.fromarray(rgba, "RGBA"), weights=weights)
    assert out.mode == "RGBA" and (np.asarray(out)[..., 3] == rgba[..., 3]).all()
    gray = colorize(Image.fromarray(rgb).convert("L"), weights=weights)
    assert gray.mode == "RGB" and gray.size == (64, 48)
    pal = colorize(Image.fromarray(rgb).convert("P"), weights=weights)
    assert pal.size == (64, 48)


def test_numpy_tensor_and_batches(weights):
    rgb = photo()
    assert colorize(rgb, weights=weights).shape == (48, 64, 3)
    assert colorize(rgb[..., 0], weights=weights).shape == (48, 64, 3)
    assert colorize(np.dstack([rgb, rgb[..., :1]]), weights=weights).shape == (48, 64, 4)
    t = torch.from_numpy(rgb).permute(2, 0, 1)
    assert colorize(t, weights=weights).dtype == torch.uint8
    batch = torch.rand(3, 1, 20, 30)
    out = colorize(batch, weights=weights)
    assert out.shape == (3, 3, 20, 30) and out.dtype == torch.float32
    assert len(colorize([rgb, rgb], weights=weights)) == 2
    with pytest.raises(ValueError, match="uint8"):
        colorize(rgb.astype(np.float32), weights=weights)


def test_fit_gamut_keeps_lightness_where_clipping_would_not():
    L = torch.tensor([[[[20.0, 50.0, 95.0]]]])
    ab = torch.tensor([[[[90.0, -100.0, 80.0]]], [[[-90.0, 100.0, 70.0]]]]).permute(1, 0, 2, 3)  # far out
    fitted = fit_gamut(L, ab)
    rgb = lab_to_rgb(torch.cat([L, fitted], 1), clip=False)
    assert rgb.min() >= -1e-3 and rgb.max() <= 1 + 1e-3
    L_after = rgb_to_lab(rgb.clamp(0, 1))[:, :1]
    assert (L_after - L).abs().max() < 0.1
    clipped = rgb_to_lab(lab_to_rgb(torch.cat([L, ab], 1)))[:, :1]
    assert (clipped - L).abs().max() > 1  # what fit_gamut avoids
    assert torch.equal(fit_gamut(L, torch.zeros_like(ab)), torch.zeros_like(ab))


def make_mixed_folder(root):
    (root / "sub").mkdir(parents=True)
    rgb = photo()
    Image.fromarray(rgb).save(root / "a.jpg")
    Image.fromarray(rgb).save(root / "sub" / "b.png")
    Image.fromarray(rgb).convert("L").save(root / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full((48, 64), 128, np.uint8)]), "RGBA").save(root / "rgba.png")
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(root / "deep16.png")
    Image.fromarray(rgb).convert("P").save(root / "anim.gif")
    Image.new("RGB", (1, 1), (200, 30, 30)).save(root / "tiny.png")
    y = np.linspace(0, 255, 2000, dtype=np.uint8)  # 6 megapixels: a camera photo, colorized in several strips
    big = np.broadcast_to(np.stack([y, y[::-1], y], -1)[:, None], (2000, 3000, 3))
    Image.fromarray(np.ascontiguousarray(big)).save(root / "big.jpg", quality=80)
    data = io.BytesIO()
    Image.fromarray(rgb).save(data, "JPEG")
    (root / "truncated.jpg").write_bytes(data.getvalue()[:300])
    (root / "notes.jpg").write_text("not a photo")
    rotated = Image.fromarray(photo(30, 50))  # EXIF orientation 6: stored landscape, shown portrait
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(root / "rotated.jpg", exif=exif)


def test_an_albums_metadata_is_kept_upright_and_what_cannot_be_kept_is_said(weights, tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated
    exif[0x010E] = "Grandma, Brighton"  # ImageDescription
    exif[0x0132] = "1952:07:14 10:00:00"  # DateTime
    src = tmp_path / "scan.jpg"
    Image.fromarray(photo(30, 50)).save(src, exif=exif, dpi=(600, 600), icc_profile=srgb)
    lines = []
    for dst in ("scan.jpg", "scan.png"):
        res = colorize_files([str(src)], tmp_path / "out" / dst, weights=weights, progress=False, log=lines.append)
        assert res[0].done
        with Image.open(tmp_path / "out" / dst) as out:
            kept = out.getexif()
            assert out.size == (30, 50) and 0x0112 not in kept  # upright pixels, no tag to turn them again
            assert kept[0x010E] == "Grandma, Brighton" and kept[0x0132] == "1952:07:14 10:00:00"
            assert out.info["icc_profile"] == srgb and round(out.info["dpi"][0]) == 600
    cmyk = tmp_path / "cmyk.jpg"  # a CMYK profile would describe channels the output does not have
    Image.fromarray(photo()).convert("CMYK").save(cmyk, icc_profile=srgb[:16] + b"CMYK" + srgb[20:])
    colorize_files([str(cmyk)], tmp_path / "out" / "cmyk.jpg", weights=weights, progress=False)
    assert "icc_profile" not in Image.open(tmp_path / "out" / "cmyk.jpg").info
    damaged = tmp_path / "damaged.jpg"  # an EXIF block cut short: the photo is colorized, nothing is printed
    Image.fromarray(photo()).save(damaged, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x0e\x00\x02\xff\xff")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert colorize_files([str(damaged)], tmp_path / "out" / "d.jpg", weights=weights, progress=False)[0].done
    rgba = tmp_path / "logo.png"
    Image.fromarray(np.dstack([photo(), np.full((48, 64), 128, np.uint8)]), "RGBA").save(rgba)
    colorize_files([str(rgba)], tmp_path / "out" / "logo.jpg", weights=weights, progress=False, log=lines.append)
    assert lines == [f"note: {rgba} has transparency, which a JPEG cannot hold: {tmp_path / 'out' / 'logo.jpg'} is "
                     "opaque (name a .png to keep it)"]


def test_folder_run_skips_bad_files_and_a_second_run_changes_nothing(weights, tmp_path):
    src, out = tmp_path / "photos", tmp_path / "out"
    make_mixed_folder(src)
    lines = []
    res = colorize_files([str(src)], out, weights=weights, progress=False, log=lines.append)
    done = {o.src.name for o in res if o.done}
    assert done == {"a.jpg", "b.png", "gray.png", "rgba.png", "deep16.png", "anim.gif", "tiny.png", "big.jpg",
                    "rotated.jpg"}
    skipped = {o.src.name: o.reason for o in res if not o.done}
    assert set(skipped) == {"truncated.jpg", "notes.jpg"}
    assert skipped["truncated.jpg"].startswith("cannot read as an image (the file is cut short (")
    assert skipped["truncated.jpg"].endswith("); copy it again from where it came from)")
    skips = [line for line in lines if line.startswith("skipped ")]
    assert len(skips) == 2 and all("\n" not in line for line in lines)
    assert [line for line in lines if line not in skips] == [  # said, not silently lost
        f"note: {src / 'deep16.png'} has more than 8 bits a gray level; {out / 'deep16.png'} is written with 8 bits a "
        "channel"]
    assert (out / "sub" / "b.png").exists() and (out / "anim.png").exists()  # structure kept; GIF -> PNG
    assert Image.open(out / "big.jpg").size == (3000, 2000)
    assert Image.open(out / "tiny.png").size == (1, 1)
    assert Image.open(out / "rgba.png").mode == "RGBA"
    assert Image.open(out / "rotated.jpg").size == (30, 50)  # EXIF orientation honoured
    for name in ("a.jpg", "gray.png"):  # lightness kept
        a, b = np.asarray(Image.open(src / name).convert("RGB")), np.asarray(Image.open(out / name).convert("RGB"))
        tol = 1 if name.endswith(".png") else 3  # JPEG re-encoding adds its own error
        assert (L_of(a) - L_of(b)).abs().mean() * 2.55 <= tol
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    lines.clear()
    again = colorize_files([str(src)], out, weights=weights, progress=False, log=lines.append)
    assert not any(o.done for o in again)
    assert len(lines) == 2  # the bad files again; outputs already there are only counted
    line = summary_line(again, out)
    assert line.startswith("done 0, skipped 11: 9 already done (--overwrite to redo), 2 unreadable;")
    assert line.count("(") == 1  # one pair of parentheses, not "(9 already done (--overwrite to redo))"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert all(("exists" in o.reason) or o.src.name in skipped for o in again)
    assert list(src.rglob("*")) and not list(src.rglob("*colorized*"))  # input untouched


def test_never_writes_into_the_input_folder_unless_asked(weights, tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(photo()).save(src / "a.png")
    with pytest.raises(DataError, match="inside the input folder"):
        colorize_files([str(src)], src / "colorized", weights=weights, progress=False)
    res = colorize_files([str(src)], src / "colorized", weights=weights, allow_inside=True, progress=False)
    assert [o.done for o in res] == [True]
    res = colorize_files([str(src)], src / "colorized", weights=weights, allow_inside=True, progress=False)
    assert res == [] or not any(o.done for o in res)  # its own output is never an input


def test_plan_several_inputs_and_missing(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "p.jpg").write_bytes(b"")
    (tmp_path / "q.png").write_bytes(b"")
    pairs, refused = plan([tmp_path / "x", tmp_path / "q.png", tmp_path / "missing", tmp_path / "q.png",
                           tmp_path / "x" / "p.jpg"], tmp_path / "o")  # named twice: once
    assert [(s.name, d.relative_to(tmp_path / "o").as_posix()) for s, d in pairs] == [("p.jpg", "x/p.jpg"),
                                                                                     ("q.png", "q.png")]
    assert refused[0].reason == "no such file or folder"


def test_cli_colorize_one_line_per_skip_and_a_summary(weights, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo()).save(src / "ok.png")
    (src / "bad.jpg").write_text("nope")
    cmd = ["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights), "--quiet"]
    r = colorbench_cli(*cmd)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert f"skipped {src / 'bad.jpg'}: cannot read as an image" in r.stdout + r.stderr
    assert "done 1, skipped 1" in r.stdout
    r = colorbench_cli(*cmd[:-1], "--weights", tmp_path / "nope.safetensors")
    assert r.returncode == 1 and "no such weights file" in r.stderr and "Traceback" not in r.stderr
    # an empty argument (an unset shell variable) is refused, not read as "." (which would colorize the cwd)
    r = colorbench_cli(cmd[0], "", "-o", tmp_path / "empty", *cmd[4:], cwd=src)
    assert r.returncode == 1 and "input path is empty" in r.stderr and not (tmp_path / "empty").exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_input_photo_is_never_an_output(weights, tmp_path, overwrite):
    """Colorizing a photo into its own folder must not replace it, whatever the flags."""
    src = tmp_path / "album"
    src.mkdir()
    Image.fromarray(photo()).convert("L").save(src / "grandma.png")
    before = (src / "grandma.png").read_bytes()
    res = colorize_files([str(src / "grandma.png")], src, weights=weights, overwrite=overwrite, progress=False,
                         log=lambda *_: None)
    assert not res[0].done and "would replace an input" in res[0].reason
    with pytest.raises(DataError, match="is the input folder .* itself: each of its 1 photos would be replaced"):
        colorize_files([str(src)], src, weights=weights, overwrite=overwrite, allow_inside=True, progress=False)
    with pytest.raises(DataError, match="is the input photo itself, and an input is never replaced"):
        colorize_files([str(src / "grandma.png")], src / "grandma.png", weights=weights, overwrite=overwrite,
                       progress=False)
    assert (src / "grandma.png").read_bytes() == before


@pytest.mark.parametrize("loss", ["mse", "l1", "ssim", "classification"])
def test_a_model_of_every_objective_colorizes_photos(tmp_path, loss):
    """Whatever trained it, a model maps L to ab for colorize, for serve's strip-by-strip path, and in bf16."""
    from colorbench.colorize import colorize_strips, load_colorizer

    obj = fitted(loss, **({"head_stride": 2} if loss == "classification" else {}))
    torch.manual_seed(0)
    save_model(create_model("cnn", obj, width=8), tmp_path / "w.safetensors", {"recommended_size": 32})
    rgb = photo(61, 83)
    out = colorize(rgb, weights=tmp_path / "w.safetensors")
    assert out.shape == rgb.shape
    assert (L_of(out) - L_of(rgb)).abs().max() * 2.55 <= 1  # lightness kept
    model, _ = load_colorizer(tmp_path / "w.safetensors")
    strips, _ = colorize_strips(rgb, model, 32, strip_pixels=83 * 7)
    assert np.abs(strips.astype(int) - out.astype(int)).max() <= 1
    bf16 = colorize(rgb, weights=tmp_path / "w.safetensors", precision="bf16")
    diff = np.abs(bf16.astype(int) - out.astype(int))
    assert diff.mean() < 0.5 and (diff > 1).mean() < 0.01  # bf16: within a level almost everywhere


def test_a_path_is_colorized_like_the_image_it_holds(weights, tmp_path):
    """colorbench.colorize("photo.jpg"): a str or Path is read as colorize would read the file: a PIL image back."""
    import colorbench

    rgb = photo()
    Image.fromarray(rgb).save(tmp_path / "p.png")
    want = colorize(Image.fromarray(rgb), weights=weights)
    for p in (str(tmp_path / "p.png"), tmp_path / "p.png"):
        got = colorbench.colorize(p, weights=weights)
        assert isinstance(got, Image.Image) and np.array_equal(np.asarray(got), np.asarray(want))
    assert len(colorbench.colorize([tmp_path / "p.png", rgb], weights=weights)) == 2
    with pytest.raises(FileNotFoundError, match="no such image file"):
        colorbench.colorize(tmp_path / "missing.jpg", weights=weights)


def cli(*args, cwd=None):
    r = colorbench_cli("colorize", *args, cwd=cwd)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def error_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("colorbench: error: "), r.stderr
    return lines[0]


def test_cli_o_with_an_image_name_writes_that_file(weights, tmp_path):
    """`colorize a.png -o a-colour.jpg` writes that file, never over another without --overwrite, never over
    the input; an -o that cannot be what the inputs need is one line, and nothing is written."""
    Image.fromarray(photo()).convert("L").save(tmp_path / "a.png")
    before = (tmp_path / "a.png").read_bytes()
    w = ["--weights", weights, "--quiet"]
    r = cli(tmp_path / "a.png", "-o", tmp_path / "a-colour.jpg", *w)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "a-colour.jpg"
    assert out.is_file() and Image.open(out).format == "JPEG" and Image.open(out).size == (64, 48)
    made = out.stat().st_mtime_ns
    r = cli(tmp_path / "a.png", "-o", out, *w)  # exists: refused, left as it is
    assert r.returncode == 1 and "a-colour.jpg exists; pass --overwrite" in error_line(r)
    assert out.stat().st_mtime_ns == made
    assert cli(tmp_path / "a.png", "-o", out, "--overwrite", *w).returncode == 0
    r = cli(tmp_path / "a.png", "-o", tmp_path / "a.png", "--overwrite", *w)  # the input itself: never
    assert r.returncode == 1 and "input photo itself" in error_line(r)
    assert (tmp_path / "a.png").read_bytes() == before
    r = cli(tmp_path / "a.png", "-o", tmp_path / "a.gif", *w)
    assert r.returncode == 2 and "cannot hold a colour photo" in error_line(r)
    # a folder input needs an output folder: an existing file, or a new name that looks like a file, is refused
    (tmp_path / "in").mkdir()
    Image.fromarray(photo()).save(tmp_path / "in" / "b.png")
    r = cli(tmp_path / "in", "-o", out, *w)
    assert r.returncode == 1 and "is an existing file, but an output folder is needed" in error_line(r)
    r = cli(tmp_path / "in", "-o", tmp_path / "new.png", *w)
    assert r.returncode == 2 and "names an image file" in error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-colour.jpg", "a.png", "in"]


def test_cli_the_input_folder_as_output_and_no_op_runs_say_so_without_progress_bars(weights, tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(6):
        Image.fromarray(photo(seed=i)).save(src / f"p{i}.png")
    before = {p: p.read_bytes() for p in src.iterdir()}
    r = cli(src, "-o", src, "--inside-input", "--overwrite", "--weights", weights)
    assert r.returncode == 1
    line = error_line(r)
    assert "6 photos would be replaced" in line and "never replaced" in line and "no photos found" not in line
    assert {p: p.read_bytes() for p in src.iterdir()} == before
    # no progress bar where there is nothing to do: a missing input, or every output already there
    r = cli(tmp_path / "missing.jpg", "-o", tmp_path / "out", "--weights", weights)
    assert r.returncode == 1 and "no such file or folder" in error_line(r) and "colorizing" not in r.stderr
    assert not (tmp_path / "out").exists()
    assert cli(src, "-o", tmp_path / "out", "--weights", weights, "--quiet").returncode == 0
    r = cli(src, "-o", tmp_path / "out", "--weights", weights)
    assert r.returncode == 0 and "colorizing" not in r.stderr and r.stderr == ""
    assert r.stdout.startswith("done 0, skipped 6: 6 already done (--overwrite to redo); output in")


# ---------------------------------------------------------------------------------------------
# colour hints


class EchoHints(torch.nn.Module):
    """A stand-in network of 4 inputs whose ab is its hint ab: shows where each hint lands and what it says."""
    in_channels = 4

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x[:, 1:3] + self.p


def test_a_hint_lands_on_its_pixel_as_displayed_with_its_chroma_and_the_photos_lightness(tmp_path, monkeypatch):
    from skimage.color import rgb2lab

    cz = sys.modules["colorbench.colorize"]  # the package's `colorize` is the function
    monkeypatch.setattr(cz, "load_colorizer", lambda *a, **k: (EchoHints(), {"recommended_size": 512}))
    gray = np.full((30, 40, 3), 90, np.uint8)
    gray[:, 20:] = 200  # two lightnesses: the hint's colour takes the photo's, never its own
    # stored 40 wide and 30 high, displayed 30 wide and 40 high (EXIF orientation 6: turned 90 degrees clockwise)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(gray).save(tmp_path / "turned.png", exif=exif.tobytes())
    shown = np.asarray(colorize(tmp_path / "turned.png", hints=[(5, 30, "#c03020"), {"x": 25, "y": 2, "color": "#2050d0"}]))
    assert shown.shape == (40, 30, 3)
    lab = rgb2lab(shown / 255)
    ref = np.asarray(Image.open(tmp_path / "turned.png").transpose(Image.Transpose.ROTATE_270))  # as displayed
    want_L = rgb2lab(ref / 255)[..., 0]
    for (x, y, color) in [(5, 30, "#c03020"), (25, 2, "#2050d0")]:
        rgb = np.array([[[int(color[i:i + 2], 16) for i in (1, 3, 5)]]]) / 255
        a, b = rgb2lab(rgb)[0, 0, 1:]
        assert lab[y, x, 0] == pytest.approx(want_L[y, x], abs=0.5)  # the photo's lightness
        # the hint's chroma (gamut fitting may only shrink it, keeping the hue)
        assert np.hypot(*lab[y, x, 1:]) <= np.hypot(a, b) + 1 and np.hypot(*lab[y, x, 1:]) > 10
        assert np.degrees(abs(np.arctan2(lab[y, x, 2], lab[y, x, 1]) - np.arctan2(b, a))) < 3
        # the point fills its square (at the network's size: here the photo's own), so a click need not be
        # exact to the pixel; then gray everywhere else
        square = (slice(max(0, y - HINT_RADIUS), y + HINT_RADIUS + 1), slice(max(0, x - HINT_RADIUS), x + HINT_RADIUS + 1))
        assert (np.hypot(lab[square][..., 1], lab[square][..., 2]) > 10).all()
        lab[square + (slice(1, 3),)] = 0
    assert np.abs(lab[..., 1:]).max() < 0.5


def test_hints_need_weights_that_take_them(weights):
    with pytest.raises(ValueError, match="not L with colour hints"):
        colorize(photo(), weights=weights, hints=[(1, 1, "#ff0000")])
    with pytest.raises(ValueError, match="one image at a time"):
        colorize([photo(), photo()], weights=weights, hints=[(1, 1, "#ff0000")])


@pytest.fixture(scope="module")
def hint_weights(tmp_path_factory):
    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("hw") / "hints.safetensors"
    save_model(create_model("cnn", width=8, in_channels=4), p, {"recommended_size": 32})
    return p


BAD_HINTS = [
    (["--hints", "{file}"], "nope", "not a JSON file"),
    (["--hints", "{file}"], '{"x": 1, "y": 2, "color": "#ffffff"}', "not a list of points"),
    (["--hints", "{file}"], '[{"x": 1, "y": 2}]', "point 1 is"),
    (["--hints", "{file}"], '[{"x": 64, "y": 2, "color": "#ffffff"}]', "outside the photo, which is 64 x 48"),
    (["--hints", "{file}"], '[{"x": 1, "y": -1, "color": "#ffffff"}]', "outside the photo"),
    (["--hints", "{file}"], '[{"x": 1, "y": 2, "color": "red"}]', "not an sRGB hex colour"),
    (["--hint", "1,2,#fff"], None, "not an sRGB hex colour"),
    (["--hint", "1,2"], None, "write X,Y,#rrggbb"),
    (["--hints", "missing.json"], None, "no such file"),
    (["--hint", "1,2,#ffffff", "--weights", "{auto}"], None, "not L with colour hints"),
    (["--hint", "1,2,#ffffff", "--two-inputs"], None, "points of one photo, but 2 inputs"),
    (["--hint", "1,2,#ffffff", "--folder-input"], None, "points of one photo, but a folder"),
]


@pytest.mark.parametrize("args, text, says", BAD_HINTS)
def test_cli_bad_hints_are_one_line_exit_2_and_write_nothing(weights, hint_weights, tmp_path, capsys, args, text, says):
    from colorbench.cli import main

    (tmp_path / "in").mkdir()
    Image.fromarray(photo()).save(tmp_path / "in" / "p.png")
    (tmp_path / "h.json").write_text(text or "")
    inputs = {"--two-inputs": [tmp_path / "in" / "p.png", tmp_path / "in"],
              "--folder-input": [tmp_path / "in"]}.get(args[-1], [tmp_path / "in" / "p.png"])
    args = [a.format(file=tmp_path / "h.json", auto=weights) for a in args if a not in ("--two-inputs", "--folder-input")]
    argv = ["colorize", *map(str, inputs), "-o", str(tmp_path / "out"), "--quiet"] + args
    if "--weights" not in argv:
        argv += ["--weights", str(hint_weights)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_hints_from_a_file_and_repeated_flags_give_the_same_photo(hint_weights, tmp_path):
    from colorbench.cli import main

    Image.fromarray(photo()).save(tmp_path / "p.png")
    (tmp_path / "h.json").write_text('[{"x": 10, "y": 20, "color": "#c03020"}, {"x": 50, "y": 5, "color": "#2040c0"}]')
    base = ["colorize", str(tmp_path / "p.png"), "--weights", str(hint_weights), "--quiet", "-o"]
    assert main(base + [str(tmp_path / "a.png"), "--hints", str(tmp_path / "h.json")]) == 0
    assert main(base + [str(tmp_path / "b.png"), "--hint", "10,20,#c03020", "--hint", "50,5,#2040c0"]) == 0
    assert main(base + [str(tmp_path / "c.png"), "--hints", str(tmp_path / "h.json"), "--hint", "30,30,#20c040"]) == 0
    a, b, c = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in "abc")
    want = colorize(photo(), weights=hint_weights, hints=[(10, 20, "#c03020"), (50, 5, "#2040c0")])
    assert np.array_equal(a, b) and np.array_equal(a, want) and not np.array_equal(a, c)


def test_the_network_sees_the_photo_and_its_mirror_and_gives_their_mean():
    """predict_ab averages the network's ab with its ab for the mirror image, flipped back: a mirrored photo
    gets exactly the mirrored colours, and the mean is not the one-pass guess (this network is not symmetric)."""
    from colorbench.colorize import predict_ab

    torch.manual_seed(0)
    m = create_model("cnn", fitted("mse"), width=8).eval()
    L = torch.rand(1, 1, 24, 40) * 100
    ab = predict_ab(m, L, 24)
    with torch.no_grad():
        one, other = m(L / 100) * 128, m((L / 100).flip(-1)).flip(-1) * 128
    assert torch.allclose(ab, (one + other) / 2, atol=1e-4)
    assert (ab - one).abs().max() > 1e-2  # 100x the tolerance: the mirror really counts
    assert torch.allclose(predict_ab(m, L.flip(-1), 24), ab.flip(-1), atol=1e-4)


def test_temperature_decodes_the_weights_bins_at_that_t_and_leaves_their_own(tmp_path):
    """--temperature: classification weights decode softmax(scores / T) over their bins at the T given (by hand
    below), from a copy of their own: the weights loaded without it keep the T they were saved with."""
    from colorbench.colorize import load_colorizer

    obj = fitted("classification", head_stride=2)
    torch.manual_seed(0)
    w = tmp_path / "w.safetensors"
    m = create_model("cnn", obj, width=8)
    last = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d)][-1]
    last.weight.data *= 30  # scores far apart, as trained weights' are: T then matters
    save_model(m, w, {"recommended_size": 32})
    own, _ = load_colorizer(w)
    hot, _ = load_colorizer(w, temperature=2.0)
    assert float(hot.decode.temperature) == 2.0 and float(own.decode.temperature) == pytest.approx(0.38)
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        raw = hot.raw(x)
        p = torch.softmax(raw / 2.0, dim=1)
        ab = (p[:, :, None] * hot.decode.bins[None, :, :, None, None]).sum(1).clamp(-1, 1)
        want = torch.nn.functional.interpolate(ab, scale_factor=2, mode="bilinear", align_corners=False)
        assert torch.allclose(hot(x), want, atol=1e-5)
    rgb = photo(40, 56)
    at_own, hotter = colorize(rgb, weights=w), colorize(rgb, weights=w, temperature=2.0)
    assert np.array_equal(colorize(rgb, weights=w, temperature=0.38), at_own)  # its own T: the same photo
    assert np.abs(hotter.astype(int) - at_own.astype(int)).max() > 2
    assert float(load_colorizer(w)[0].decode.temperature) == pytest.approx(0.38)


def test_cli_temperature_on_weights_without_bins_is_one_line_and_writes_nothing(weights, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(photo()).save(src)
    r = colorbench_cli("colorize", src, "--weights", weights, "--temperature", "0.5", "-o", tmp_path / "out")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--temperature" in r.stderr and "classification weights" in r.stderr
    assert not (tmp_path / "out").exists()
    r = colorbench_cli("colorize", src, "--temperature", "0", "-o", tmp_path / "out")
    assert r.returncode == 2 and "argument --temperature: must be more than 0, not 0" in r.stderr


@pytest.mark.parametrize("mode, order", [("vivid", [3.0, 1.0, 0.3]), ("gray", [0.3, 1.0, 3.0])])
def test_colours_order_by_t_is_measured_not_assumed(mode, order):
    """`by_colour`: a classifier whose likeliest bin is vivid grows duller as T rises (the mean spreads over
    every bin); one whose likeliest bin is gray grows more colourful (the shipped default's case)."""
    from colorbench.colorize import at_temperature, by_colour

    torch.manual_seed(0)
    m = create_model("cnn", fitted("classification"), width=8).eval()
    bins = m.decode.bins
    head = [c for c in m.net.modules() if isinstance(c, torch.nn.Conv2d)][-1]
    assert head.out_channels == len(bins)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[bins.norm(dim=1).argmax() if mode == "vivid" else bins.norm(dim=1).argmin()] = 4.0
    assert by_colour(m, [1.0, 0.3, 3.0]) == order
    assert float(m.decode.temperature) == pytest.approx(0.38)  # measured on copies: its own T untouched
    copy = at_temperature(m, 2.0)
    assert float(copy.decode.temperature) == 2.0 and float(m.decode.temperature) == pytest.approx(0.38)
    assert by_colour(create_model("cnn", width=8), [0.3, 1.0]) == []  # ab predicted directly: no T to order


def test_the_network_sees_a_photo_shrunk_as_the_training_photos_were():
    """colorize shrinks L to the network's size as the loader shrinks training photos (data._square: PIL's
    bicubic on the RGB, then L), within the rounding of L's nonlinearity; the area average it replaced gave
    softer input. The strips' two-step version (serve's big photos) is the one-step shrink."""
    import torch.nn.functional as F

    from colorbench.colorize import network_lightness, shrink
    from colorbench.data import _square

    rng = np.random.default_rng(0)
    blocks = np.asarray(Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).resize((128, 128),
                                                                                                  Image.NEAREST))
    rgb = np.clip(blocks + rng.normal(0, 20, blocks.shape), 0, 255).astype(np.uint8)  # edges and grain

    def lightness(a):
        return rgb_to_lab(torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255)[:, :1] / 100

    trained_on, L = lightness(_square(rgb, 64)), lightness(rgb)
    ours = (shrink(L, (64, 64)) - trained_on).abs().mean()
    area = (F.interpolate(L, size=(64, 64), mode="area") - trained_on).abs().mean()
    assert ours < 0.01 and ours < area / 2  # measured: 0.0074 against 0.0172 (L/100)
    assert torch.allclose(network_lightness(rgb, 64, strip_pixels=128 * 7) / 100, shrink(L, (64, 64)), atol=1e-5)
    wide = np.asarray(Image.fromarray(rgb).resize((300, 200), Image.BICUBIC))
    assert torch.allclose(network_lightness(wide, 64, strip_pixels=300 * 9) / 100, shrink(lightness(wide), (64, 96)),
                          atol=1e-5)


def test_a_runs_weights_are_used_at_the_size_they_trained_at():
    """A packaged file's recommendation wins; a photo run's own crop size comes next; a run at native size
    (CIFAR-10's 32 px says nothing of photos) gets DEFAULT_SIZE."""
    from colorbench.colorize import DEFAULT_SIZE, recommended_size

    assert recommended_size({"recommended_size": 96, "config": {"size": 64}}) == 96
    assert recommended_size({"config": {"size": 64}}) == 64
    assert recommended_size({"config": {"size": 0}}) == DEFAULT_SIZE == recommended_size({}) != 64
