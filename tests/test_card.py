"""The weights the package ships, and their model card."""


import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.color import rgb_to_lab
from colorbench.colorize import colorize, mirrored  # export and colorize both average the mirror image
from colorbench.models import list_models
from helpers import colorbench_cli, photo


@pytest.mark.parametrize("name", ["default", "study"])
def test_shipped_weights_are_small_and_their_card_is_their_metadata(name):
    from colorbench.card import model_card
    from colorbench.colorize import SHIPPED, load_colorizer, shipped_weights
    from safetensors import safe_open

    path = shipped_weights(name)
    assert path.is_file(), "the package ships these weights (bash recipes/photo-weights.sh, study-weights.sh)"
    assert path.stat().st_size < 10 * 2**20
    with safe_open(str(path), "pt") as f:
        floats = {k: f.get_tensor(k) for k in f.keys() if k.startswith("net.") and f.get_tensor(k).is_floating_point()}
    assert any(v.dtype == torch.float16 for v in floats.values())
    # fp16, except what fp16 cannot hold (a batch norm's running variance past 65,504)
    assert all(v.dtype == torch.float16 or (v.dtype == torch.float32 and v.abs().max() > 65504) for v in floats.values())
    model, info = load_colorizer(name)
    assert info["model"]["name"] in list_models() and 16 <= info["recommended_size"] <= 512
    assert (path.parent / "MODEL_CARD.md").read_text() == model_card({n: shipped_weights(n) for n in SHIPPED})
    card = info["card"]
    assert card["title"] and card["data"] and card["limits"] and card["recipe"].startswith("bash recipes/")
    for table in card["evaluations"]:  # every figure the card shows is in the metadata
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    if name == "study":
        test = card["evaluations"][0]
        assert "10,000 images" in test["title"]
        ab = next(r for r in test["rows"] if r[0].startswith("ab MSE"))
        assert float(ab[1]) < float(ab[2])  # below the gray baseline


def test_study_weights_stay_available_by_name():
    from colorbench.colorize import load_colorizer

    study, info = load_colorizer("study")
    assert info["model"]["name"] == "unet" and info["config"]["epochs"] == 10


def test_shipped_weights_colour_a_real_photo():
    """A photo that is not CIFAR (scikit-image's cat), full size, gray in, colour out."""
    skdata = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
    truth = skdata.chelsea()
    gray = Image.fromarray(truth).convert("L")
    out = np.asarray(colorize(gray))
    assert out.shape == truth.shape
    lab_out = rgb_to_lab(torch.from_numpy(out / 255.0).permute(2, 0, 1))
    lab_in = rgb_to_lab(torch.from_numpy(np.asarray(gray.convert("RGB")) / 255.0).permute(2, 0, 1))
    assert (lab_out[0] - lab_in[0]).abs().max() <= 1.0  # lightness kept, within one level
    chroma = lab_out[1:].norm(dim=0)
    assert chroma.mean() > 3  # coloured, not left gray
    # closer to the true colours than leaving it gray
    lab_true = rgb_to_lab(torch.from_numpy(truth / 255.0).permute(2, 0, 1))
    assert ((lab_out[1:] - lab_true[1:]) ** 2).mean() < (lab_true[1:] ** 2).mean()


def test_cli_colorize_and_export_use_the_shipped_weights(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    Image.fromarray(photo()).convert("L").save(tmp_path / "old.png")
    r = colorbench_cli("colorize", tmp_path / "old.png", "-o", tmp_path / "out", "--quiet")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "out" / "old.png").size == (64, 48)
    r = colorbench_cli("export", "--onnx", tmp_path / "m.onnx")
    assert r.returncode == 0, r.stderr
    from colorbench.colorize import load_colorizer

    model, _ = load_colorizer()
    x = torch.rand(2, 1, 40, 60)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"L": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - mirrored(model, x).numpy()).max() < 1e-4


def test_a_card_lists_the_stages_its_weights_were_trained_in(tmp_path):
    """Weights trained in stages: the card's table says where each stage started (sha256), what it
    trained on, how long, on what, and the sha256 of what it wrote."""
    from colorbench.card import model_card
    from colorbench.models import create_model, save_model

    stage = {"data": "1,000 photos", "size": 64, "epochs": 2, "lr": 0.001, "train_time_s": 600.0,
             "images_per_s": 3.3, "machine": "CPU: test, 2 threads, fp32", "val_loss": 0.0123}
    card = {"title": "t", "summary": "s", "data": "d", "recipe": "bash r.sh", "recipe_time": "1 min",
            "stages": [{**stage, "starts_from": "scratch", "sha256": "a" * 64},
                       {**stage, "starts_from": "`" + "a" * 12 + "`", "sha256": "b" * 64, "lr": 0.0003}]}
    path = tmp_path / "w.safetensors"
    save_model(create_model("cnn", width=4), path, {"card": card, "params": 1, "recommended_size": 64,
                                                     "config": {}, "val_loss": 0.01})
    text = model_card({"x": path})
    assert "### Stages" in text
    assert "the `cnn` model (width 4, 1 parameters, fp16" in text  # the model's options, as a rebuild needs them
    assert "| 1 | scratch | 1,000 photos (64 px) | 2 | 0.001 | 10 min | 3 | CPU: test, 2 threads, fp32 | 0.01230 | `aaaaaaaaaaaa` |" in text
    assert "| 2 | `aaaaaaaaaaaa` | 1,000 photos (64 px) | 2 | 0.0003 |" in text and "`bbbbbbbbbbbb`" in text


def test_a_card_says_how_its_temperature_was_chosen(tmp_path):
    """The Decoding line follows choose_temperature's branches: a colour share reached, none reached (the
    lowest ab MSE of all), or none asked for (colour_target 0), each with the chosen T's own figures."""
    from colorbench.card import model_card
    from colorbench.models import create_model, save_model

    grid = [{"temperature": 0.45, "ab_mse": 160.7, "ab_psnr": 22.02, "colorfulness": 19.7},
            {"temperature": 1.0, "ab_mse": 177.6, "ab_psnr": 21.04, "colorfulness": 27.0}]
    base = {"truth_colorfulness": 37.9, "gray_ab_mse": 232.2, "gray_ab_psnr": 20.85, "grid": grid}
    card = {"title": "t", "summary": "s", "data": "d", "recipe": "bash r.sh", "recipe_time": "1 min"}

    def line(decoding):
        path = tmp_path / "w.safetensors"
        save_model(create_model("cnn", width=4), path, {"card": card, "params": 1, "recommended_size": 64,
                                                         "config": {}, "val_loss": 0.01, "decoding": decoding})
        return next(x for x in model_card({"x": path}).splitlines() if x.startswith("- Decoding"))

    assert "the lowest ab MSE among the T reaching 70% of the truth's colourfulness with an ab MSE below gray's" \
        in line({**base, "chosen": 1.0, "colour_target": 0.7})
    assert ("T = 0.45, chosen on the validation split (the lowest ab MSE of all (no share of colour asked for), 52% "
            "of the truth's colourfulness at ab MSE 160.7 against gray's 232.2; mean ab PSNR per image 22.02 dB "
            "against gray's 20.85)") in line({**base, "chosen": 0.45, "colour_target": 0.0})
    assert "no T reached 90% of the truth's colourfulness under gray's ab MSE: the lowest ab MSE of all, 52%" \
        in line({**base, "chosen": 0.45, "colour_target": 0.9})
