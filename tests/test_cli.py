"""The command line as a user meets it: one-line errors, the exit-code rule, nothing left to block a retry."""

import subprocess
import sys

import pytest

import colorbench
from colorbench.config import PRESETS, preset_compare, preset_train


def run(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "colorbench", *map(str, args)], capture_output=True, text=True, cwd=cwd)
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
])
def test_usage_errors_are_one_line_and_exit_2(args, words):
    r = run(*args)
    assert r.returncode == 2
    line = one_line(r)
    assert words in line and "--help" in line and "usage:" not in r.stderr


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
    (["train", "--augment", "nope"], "unknown augmentation 'nope'; choose one of: none, study, strong, photo"),
    (["compare", "--models", "cnn,loss=nope"], "unknown loss 'nope'"),
    (["train", "--precision", "fp16"], "unknown precision 'fp16'; choose one of: auto, fp32, bf16"),
])
def test_unknown_names_list_the_known_ones(tmp_path, args, words):
    r = run(*args, "--out", tmp_path / "o")
    assert r.returncode == 2 and words in one_line(r)
    assert not (tmp_path / "o").exists()
