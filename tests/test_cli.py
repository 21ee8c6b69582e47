"""The command line as a user meets it: one-line errors, the exit-code rule, nothing left to block a retry."""

import dataclasses
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import colorbench
from colorbench.config import PRESETS, TrainConfig, preset_compare, preset_train
from helpers import colorbench_cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    r = colorbench_cli(*args, cwd=cwd)  # an uncaught error would raise here: no traceback reaches a user
    assert "Traceback" not in r.stderr, r.stderr
    return r


def one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"colorbench {colorbench.__version__}"


@pytest.mark.parametrize("args,words", [
    (["compare", "--preset", "nope"], "invalid choice: 'nope'"),
    (["compare", "--seeds"], "expected one argument"),
    (["train", "--epochs", "many"], "invalid int value"),
    (["frobnicate"], "invalid choice"),
    (["colourize", "a.jpg"], "invalid choice: 'colourize'; did you mean 'colorize'?"),
    (["compare", "--preset", "smok"], "did you mean 'smoke'?"),
    (["colorize", "a.jpg", "--size", "0"], "argument --size: must be at least 1, not 0"),
    (["colorize", "a.jpg", "--size", "-5"], "argument --size: must be at least 1, not -5"),
    (["serve", "--size", "0"], "argument --size: must be at least 1, not 0"),
    (["evaluate-photos", "photos", "--size", "0"], "argument --size: must be at least 1, not 0"),
    (["serve", "--port", "99999"], "argument --port: must be between 1 and 65535, not 99999"),
    (["serve", "--max-upload-mb", "0"], "argument --max-upload-mb: must be more than 0, not 0"),
    (["export"], "the following arguments are required: --onnx"),
    (["pretrain", "--out", "p", "--loss", "mse"], "unrecognized arguments: --loss mse"),  # the pretext has no loss
    (["pretrain", "--out", "p", "--epochs", "0"], "argument --epochs: must be at least 1, not 0"),
])
def test_usage_errors_are_one_line_and_exit_2(args, words):
    r = run(*args)
    assert r.returncode == 2
    line = one_line(r)
    assert words in line and "--help" in line and "usage:" not in r.stderr


def test_pretrain_epochs_are_the_pretext_epochs():
    """`colorbench pretrain --epochs N` trains the pretext N epochs (it was read as the colour run's epochs,
    which the pretext never reads, so it did nothing)."""
    from colorbench.cli import build_parser, config_overrides

    cfg = config_overrides(build_parser().parse_args(["pretrain", "--out", "p", "--epochs", "7"]), TrainConfig)
    assert cfg["pretrain_epochs"] == 7 and "epochs" not in cfg
    # and --schedule the pretext's schedule, not the colour run's
    cfg = config_overrides(build_parser().parse_args(["pretrain", "--out", "p", "--schedule", "cosine"]), TrainConfig)
    assert cfg["pretrain_schedule"] == "cosine" and "schedule" not in cfg
    # --weight-decay and --label-smoothing are the pretext's, and a smoothing of 1 or more is a usage error
    cfg = config_overrides(build_parser().parse_args(["pretrain", "--out", "p", "--weight-decay", "0.05",
                                                      "--label-smoothing", "0.1"]), TrainConfig)
    assert cfg["pretrain_weight_decay"] == 0.05 and cfg["pretrain_label_smoothing"] == 0.1
    r = run("pretrain", "--out", "p", "--label-smoothing", "2")
    assert r.returncode == 2 and "--label-smoothing: must be between 0 and 1, not 2" in one_line(r)


def test_seeds_zero_is_refused_and_nothing_is_created(tmp_path):
    r = run("compare", "--seeds", "0", "--out", tmp_path / "c")
    assert r.returncode == 2 and "--seeds must be at least 1" in one_line(r)
    assert not (tmp_path / "c").exists()
    with pytest.raises(ValueError, match="seeds"):
        preset_compare("smoke", seeds=0)


@pytest.mark.parametrize("cmd", ["compare", "train"])
def test_a_failed_start_leaves_nothing_that_blocks_a_retry(tmp_path, cmd):
    out = tmp_path / "o"
    flag = "--models" if cmd == "compare" else "--model"
    r = run(cmd, flag, "nope", "--out", out)
    assert r.returncode == 2 and "unknown model 'nope'" in one_line(r)
    assert r.stdout == ""  # refused before "training nope ..." is said
    assert not out.exists()
    r = run(cmd, "--data", tmp_path / "missing", "--out", out, "--quiet")
    assert r.returncode == 1 and "no such file or folder" in one_line(r)
    assert not out.exists()
    # the retry with good options is not blocked by anything the failures left
    extra = ["--models", "cnn", "--seeds", "1", "--test-limit", "20"] if cmd == "compare" else ["--model", "cnn"]
    r = run(cmd, "--preset", "smoke", "--train-limit", "32", "--val-limit", "20", *extra, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr


def test_runtime_errors_exit_1(tmp_path):
    r = run("colorize", tmp_path / "no-such-photo.jpg", "-o", tmp_path / "out", "--quiet")
    assert r.returncode == 1 and "no such file or folder" in r.stdout + r.stderr
    r = run("evaluate", tmp_path / "nothing-here")
    assert r.returncode == 1 and "no such weights file" in one_line(r)


def test_evaluate_on_a_compare_folder_lists_its_runs(micro_compare):
    out, _ = micro_compare
    r = run("evaluate", out)
    assert r.returncode == 1
    line = one_line(r)
    assert "cnn-s0" in line and "unet-s1" in line and "pass one" in line


def test_help_shows_the_defaults_the_presets_use():
    r = run("compare", "--help")
    text = " ".join(r.stdout.split())
    for name, p in PRESETS.items():
        assert f"{name} {p.train.get('epochs', 10)}" in text  # --epochs: per preset
    assert "default: smoke" in text and "Exit codes" in text


def test_presets_bound_every_set_they_use():
    smoke = preset_train("smoke")
    assert smoke.train_limit and smoke.val_limit and PRESETS["smoke"].test_limit  # whatever the data source
    assert preset_train("study") == preset_train("study", epochs=None)


@pytest.mark.parametrize("args,words", [
    (["train", "--loss", "nope"], "unknown loss 'nope'; choose one of: classification, l1, mse, ssim"),
    (["train", "--augment", "nope"], "unknown augmentation 'nope'; choose one of: none, study, strong, photo, flip"),
    (["compare", "--models", "cnn,loss=nope"], "unknown loss 'nope'"),
    (["train", "--precision", "fp16"], "unknown precision 'fp16'; choose one of: auto, fp32, bf16"),
])
def test_unknown_names_list_the_known_ones(tmp_path, args, words):
    r = run(*args, "--out", tmp_path / "o")
    assert r.returncode == 2 and words in one_line(r)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["colorize", "a.jpg", "--device", "cuda"], ["colorize", "a.jpg", "--device", "gpu"],
                                  ["colorize", "a.jpg", "--device", "mps"], ["evaluate", "w", "--device", "xpu"],
                                  ["evaluate", "w", "--device", "mps"], ["train", "--device", "cuda:7"],
                                  ["compare", "--device", "meta"], ["pretrain", "--device", "mps"]])
def test_a_device_this_machine_lacks_is_one_line_and_exit_2_in_every_command(tmp_path, args):
    from colorbench.hardware import _has

    device = args[-1]
    kind, _, index = device.partition(":")
    if _has(kind) > int(index or 0):
        pytest.skip(f"this machine has {device}")
    out = {"colorize": ["-o"], "evaluate": ["--json"]}.get(args[0], ["--out"]) + [tmp_path / "o"]
    r = run(*args, *out)
    line = one_line(r)
    assert r.returncode == 2 and f"device {device!r}" in line and "cpu" in line
    assert not (tmp_path / "o").exists()


def test_unknown_weights_name_the_shipped_ones(tmp_path):
    for cmd in (["colorize", tmp_path / "missing.jpg", "-o", tmp_path / "o"], ["serve", "--port", "1"]):
        r = run(*cmd, "--weights", "studdy")
        line = one_line(r)
        assert r.returncode == 2 and "unknown weights 'studdy' (did you mean 'study'?)" in line
        assert "shipped: default, study" in line
    assert not (tmp_path / "o").exists()


def test_debug_is_accepted_anywhere_on_the_line(tmp_path):
    r = run("report", tmp_path)
    assert r.returncode == 1 and "no results.json" in one_line(r)
    for args in (["--debug", "report", tmp_path], ["report", "--debug", tmp_path], ["report", tmp_path, "--debug"]):
        r = subprocess.run([sys.executable, "-m", "colorbench", *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 1 and "Traceback" in r.stderr and "no results.json" in r.stderr


@pytest.mark.parametrize("cmd,where,says", [
    ("colorize", "colorbench.files.colorize_files", "run the same command again to do the rest"),
    ("train", "colorbench.train.train", "run the same command with --resume"),
])
def test_interrupted_says_what_this_command_can_do(tmp_path, monkeypatch, capsys, cmd, where, says):
    from colorbench.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    module, _, name = where.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), name, interrupted)
    (tmp_path / "a.png").write_bytes(b"")
    argv = ["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o")] if cmd == "colorize" else \
        ["train", "--out", str(tmp_path / "o")]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("colorbench: interrupted; ") and says in err and "\n" not in err
    assert cmd != "colorize" or "--resume" not in err  # colorize has no --resume


def help_text(*args) -> str:
    r = run(*args, "--help")
    assert r.returncode == 0 and r.stderr == ""
    return " ".join(r.stdout.split())


def test_help_says_what_each_option_does():
    from colorbench.augment import AUGMENTATIONS
    from colorbench.cli import train_help
    from colorbench.objectives import list_objectives

    assert set(train_help()) == {f.name for f in dataclasses.fields(TrainConfig)}  # a new field needs its line
    text = help_text("colorize")
    assert "Colorize photos" in text and "the shipped 'default' or 'study'" in text
    assert re.search(r"--device DEVICE where to run: auto .* mps .* xpu", text)
    assert re.search(r"--port PORT port to listen on, 1 to 65535", help_text("serve"))
    text = help_text("compare")
    for opt in ("--width", "--size", "--init", "--threads", "--temperature"):  # more than "(default: ...)"
        assert re.search(rf"{opt} {opt[2:].upper()} \w[^(]+ \(", text), opt
    assert "(default: )" not in text and "--init INIT start from a pretrained encoder" in text
    assert f"the objective: {', '.join(list_objectives())}" in text
    assert f"augmentation: {', '.join(AUGMENTATIONS)}" in text
    # --val-limit: what the smoke run uses (the sample's whole 20% split holds 400; test_compare checks the run)
    assert preset_train("smoke").val_limit == 400 and "smoke 400," in text


def test_help_and_version_answer_without_importing_torch():
    """Importing torch takes seconds: --help and --version must not (benchmarks/bench_cli.py times them)."""
    for flag in ("--help", "--version"):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "colorbench", flag], capture_output=True,
                           text=True)
        assert r.returncode == 0 and "colorbench" in r.stdout
        imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "|" in line}
        assert "colorbench.cli" in imported and "torch" not in imported and "numpy" not in imported
    code = ("import sys\nfrom colorbench.cli import main\n"
            "for argv in (['colorize', '--help'], ['serve', '--help'], ['export', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "False", r.stderr


def test_readme_install_says_how_to_get_the_cpu_build_and_keeps_the_first_commands():
    first = " ".join((ROOT / "README.md").read_text().split("\n## ")[0].split())
    assert "pip install torch==2.13.0 -e . && colorbench compare --preset smoke" in first
    assert 'pip install torch==2.13.0 -e ".[test,onnx]" && pytest -n 2' in first
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in first
    assert "CUDA" in first and "With a GPU, keep the torch you have" in first
