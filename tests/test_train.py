import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from colorbench.data import Dataset, Split, load_dataset
from colorbench.models import create_model, load_model
from colorbench.augment import flips_and_turns as augment
from colorbench.config import TrainConfig, preset_train as preset
from colorbench.objectives import Objective
from colorbench.train import TrainingError, train
from colorbench.colorize import mirrored  # export and colorize both average the mirror image
from helpers import colorbench_cli

# width 8: what these tests check (seeds, folders, resumes, checkpoints) holds at any width, at 1/60 of the FLOPs
TINY = dict(data="sample", train_limit=256, epochs=2, batch_size=32, eval_batch_size=200, width=8)


@pytest.fixture(scope="module")
def sample():
    return load_dataset("sample", progress=False)


def test_study_preset_is_the_studys_protocol():
    cfg = preset("study")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.val_fraction, cfg.augment) == (10, 64, 1e-3, 0.2, "study")
    assert (cfg.loss, cfg.model) == ("mse", "cnn")
    assert cfg == TrainConfig()
    assert preset("quick").epochs == 3 and preset("quick").train_limit == 10_000
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")


def test_what_a_resume_or_an_arm_may_change_is_said_by_the_fields_themselves():
    from colorbench.config import ARM_FIXED, RESUMABLE_CHANGES

    assert RESUMABLE_CHANGES == {"epochs", "lr", "device", "precision", "threads", "compile", "eval_batch_size",
                                 "memory_format", "precise_bn", "colour_target"}
    assert ARM_FIXED == {"seed", "data", "classes", "size", "val_fraction", "split_seed", "device", "threads", "val_limit"}


def test_augment_gives_the_eight_symmetries_of_a_square():
    x = torch.rand(512, 3, 5, 5)
    out = augment(x, torch.Generator().manual_seed(0))
    syms = []
    for t in (False, True):
        for fh in (False, True):
            for fw in (False, True):
                y = x.flip(-1) if fw else x
                y = y.flip(-2) if fh else y
                syms.append(y.transpose(-1, -2) if t else y)
    match = torch.stack([(out == s).flatten(1).all(1) for s in syms])  # (8, B)
    assert match.any(0).all(), "every image is one of the 8 symmetries, channels moved together"
    assert (match.float().sum(1) > 30).all(), "all 8 occur"
    assert augment(torch.rand(4, 3, 4, 6), torch.Generator()).shape == (4, 3, 4, 6)  # non-square: flips only


def test_photo_augment_keeps_the_sky_up():
    """photo: left-right flips and mild crops, never turned or flipped upside down (photos have an up)."""
    from colorbench.augment import get_augment

    rows = torch.linspace(1, 0, 32).view(1, 1, 32, 1)  # bright top, dark bottom, as sky over ground
    cols = torch.linspace(0, 1, 32).view(1, 1, 1, 32)
    x = torch.cat([rows.expand(256, 1, 32, 32), cols.expand(256, 2, 32, 32)], 1)
    out = get_augment("photo")(x, torch.Generator().manual_seed(0))
    top, bottom = out[:, 0, :8].mean((1, 2)), out[:, 0, -8:].mean((1, 2))
    assert (top > bottom + 0.3).all(), "no image turned or upside down"
    slope = out[:, 1, :, -8:].mean((1, 2)) - out[:, 1, :, :8].mean((1, 2))  # left-right: either way
    assert (slope > 0.3).sum() > 80 and (slope < -0.3).sum() > 80, "flipped left-right about half the time"
    assert out.shape == x.shape and not torch.equal(out[:, 0], x[:, 0]), "cropped: the rows moved"


def test_flip_augment_is_lossless_left_right():
    """flip: each image is itself or its mirror, every pixel kept exactly (no resampling), channels together."""
    from colorbench.augment import get_augment

    x = torch.rand(64, 3, 8, 8)
    out = get_augment("flip")(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all(), "only the identity or the mirror, to the bit"
    assert 16 < mirrored.sum() < 48, "about half mirrored"


def test_same_seed_same_losses_to_the_last_digit(tmp_path, sample):
    a = train(TrainConfig(**TINY), tmp_path / "a", dataset=sample, progress=False, log=lambda *_: None)
    b = train(TrainConfig(**TINY), tmp_path / "b", dataset=sample, progress=False, log=lambda *_: None)
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    assert [h["val_loss"] for h in a["history"]] == [h["val_loss"] for h in b["history"]]
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = train(TrainConfig(**TINY, seed=1), tmp_path / "c", dataset=sample, progress=False, log=lambda *_: None)
    assert c["history"][-1]["train_loss"] != a["history"][-1]["train_loss"]
    # the run folder holds what it promises
    assert len((tmp_path / "a" / "log.jsonl").read_text().splitlines()) == 2
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train_limit"] == 256
    # hand count at width 8: 3x3 convs 1->8->16->16->8->2, 9*cin*cout weights and cout biases each
    assert a["final_val_loss"] < 0.05 and a["params"] == 9 * (8 + 8 * 16 + 16 * 16 + 16 * 8 + 8 * 2) + 8 + 16 + 16 + 8 + 2


def test_never_overwrites_another_run(tmp_path, sample):
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "r", **kw)
    with pytest.raises(TrainingError, match="already holds a run.*--resume.*--overwrite"):
        train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "r", **kw)
    with pytest.raises(TrainingError, match="different config.*batch_size"):
        train(TrainConfig(**{**TINY, "epochs": 1, "batch_size": 16}), tmp_path / "r", resume=True, **kw)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(TrainingError, match="not a colorbench run folder"):
        train(TrainConfig(**TINY), tmp_path / "mine", overwrite=True, **kw)
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"


def test_classes_train_on_those_folders_only(tmp_path, sample):
    only = [sample.classes.index("cat"), sample.classes.index("ship")]
    r = colorbench_cli("train", "--data", "sample", "--classes", "cat,ship", "--width", "8", "--epochs", "1",
                       "--val-fraction", "0.5", "--out", tmp_path / "r", "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["train_images"] + m["val_images"] == sum(int((sample.train.labels == c).sum()) for c in only)
    assert json.loads((tmp_path / "r" / "config.json").read_text())["classes"] == "cat,ship"
    r = colorbench_cli("evaluate", tmp_path / "r")  # on the test images of those classes only
    n_test = sum(int((sample.test.labels == c).sum()) for c in only)
    assert r.returncode == 0 and f"on {n_test:,} test images" in r.stdout, r.stdout + r.stderr
    r = colorbench_cli("train", "--data", "sample", "--classes", "cats", "--out", tmp_path / "bad")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "no class 'cats'" in r.stderr, r.stderr
    assert not (tmp_path / "bad").exists()


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, sample):
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "r", **kw)
    before = load_file(tmp_path / "r" / "model.safetensors")
    with pytest.raises(TrainingError, match=r"loss became (nan|inf).*last good checkpoint: epoch 1.*lower --lr"):
        train(TrainConfig(**{**TINY, "epochs": 2, "lr": 1e12}), tmp_path / "r", resume=True, **kw)
    after = load_file(tmp_path / "r" / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    model, info = load_model(tmp_path / "r")
    assert info["epoch"] == 1 and all(torch.isfinite(p).all() for p in model.parameters())
    assert len((tmp_path / "r" / "log.jsonl").read_text().splitlines()) == 1


def _cli_train(out, *extra):
    args = ["--preset", "smoke", "--width", "8", "--train-limit", "800", "--epochs", "6", "--threads", "1", "--quiet",
            "--out", str(out)]
    return subprocess.Popen([sys.executable, "-m", "colorbench.cli", "train", *args, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    full = _cli_train(tmp_path / "full")
    victim = _cli_train(tmp_path / "killed")
    log = tmp_path / "killed" / "log.jsonl"
    deadline = time.time() + 120
    while not (log.exists() and log.read_text().count("\n") >= 1):
        assert victim.poll() is None and time.time() < deadline, victim.communicate()
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)  # in epoch 2 (or saving it): 4 more epochs were still to come
    victim.wait()
    state = torch.load(tmp_path / "killed" / "state.pt", weights_only=True)
    assert state["epoch"] < 6, "killed mid-run"
    resumed = _cli_train(tmp_path / "killed", "--resume")
    out, err = resumed.communicate()
    assert resumed.returncode == 0, err
    assert "resuming" in out
    assert full.wait() == 0, full.stderr.read()
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "bitwise equal weights"
    la = [json.loads(x)["val_loss"] for x in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["val_loss"] for x in log.read_text().splitlines()]
    assert la == lb and len(la) == 6


def test_resuming_with_another_objective_is_refused(tmp_path, sample):
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "r", **kw)
    with pytest.raises(TrainingError, match="another objective.*loss: 'mse' -> 'classification'"):
        train(TrainConfig(**{**TINY, "epochs": 2, "loss": "classification"}), tmp_path / "r", resume=True, **kw)


@pytest.mark.parametrize("damage", ["empty", "truncated", "random", "pickle-like"])
def test_a_damaged_checkpoint_on_resume_is_one_line(tmp_path, sample, damage):
    train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "r", dataset=sample, progress=False, log=lambda *_: None)
    state = tmp_path / "r" / "state.pt"
    data = state.read_bytes()
    noise = torch.randint(0, 256, (len(data),), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    state.write_bytes({"empty": b"", "truncated": data[: len(data) // 3], "random": noise.numpy().tobytes(),
                       # a pickle protocol opcode first: torch warns of the protocol before it fails (seen in CI as
                       # a flaky second line when os.urandom happened to start so)
                       "pickle-like": b"\x80\x03" + noise.numpy().tobytes()}[damage])
    r = subprocess.run([sys.executable, "-m", "colorbench", "train", "--preset", "smoke", "--width", "8",
                        "--train-limit", "256", "--val-limit", "0", "--epochs", "2", "--batch-size", "32",
                        "--eval-batch-size", "200", "--out", str(tmp_path / "r"), "--resume", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "state.pt" in r.stderr and "weights_only" not in r.stderr


def test_a_full_disk_during_training_is_one_line_and_a_retry_works(tmp_path, sample, monkeypatch):
    import errno

    import colorbench.persist as persist

    real = persist.torch.save
    calls = {"n": 0}

    def failing_save(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *a, **k)

    monkeypatch.setattr(persist.torch, "save", failing_save)
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    with pytest.raises(OSError, match="no space left on the disk while writing .*state.pt"):
        train(TrainConfig(**{**TINY, "epochs": 3}), tmp_path / "r", **kw)
    assert not list((tmp_path / "r").glob(".*.tmp"))  # no stale temp file
    monkeypatch.undo()
    m = train(TrainConfig(**{**TINY, "epochs": 3}), tmp_path / "r", resume=True, **kw)
    assert len(m["history"]) == 3 and torch.load(tmp_path / "r" / "state.pt", weights_only=True)["epoch"] == 3


def _dark_and_lit(n: int = 192) -> Dataset:
    """Two classes anyone tells apart from L alone: dark images and bright ones, in random colours."""
    labels = torch.arange(n) % 2
    noise = torch.randint(0, 100, (n, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    train_split = Split(noise + (150 * labels).to(torch.uint8)[:, None, None, None], labels)
    return Dataset("dark and lit", "dark-and-lit", "0", ["dark", "lit"], train_split, train_split.take(torch.arange(8)))


def test_label_term_learns_the_classes_resumes_and_is_not_shipped(tmp_path):
    kw = dict(dataset=_dark_and_lit(), progress=False, log=lambda *_: None)
    base = {**TINY, "data": "dark-and-lit", "train_limit": 0, "val_fraction": 0.25, "deterministic": True,
            "epochs": 4, "lr": 1e-2}
    labelled = TrainConfig(**base, label_weight=1.0)
    m = train(labelled, tmp_path / "l", **kw)
    plain = train(TrainConfig(**base), tmp_path / "p", **kw)
    assert m["history"][-1]["train_label_accuracy"] > 0.9 and "train_label_accuracy" not in plain["history"][-1]
    assert 0 < m["history"][-1]["train_label_loss"] < 0.5  # apart from train_loss, the colour objective's
    wl, wp = load_file(tmp_path / "l" / "model.safetensors"), load_file(tmp_path / "p" / "model.safetensors")
    assert {k: v.shape for k, v in wl.items()} == {k: v.shape for k, v in wp.items()}  # no classifier shipped
    assert not all(torch.equal(wl[k], wp[k]) for k in wl)  # but the term changed what was learnt
    # stopped after epoch 2 and resumed: the classifier and its optimiser state come back, so the same bits
    train(TrainConfig(**{**base, "epochs": 2}, label_weight=1.0), tmp_path / "r", **kw)
    assert torch.load(tmp_path / "r" / "state.pt", weights_only=True)["label_term"]["classifier.weight"].shape == (2, 16)
    train(labelled, tmp_path / "r", resume=True, **kw)
    wr = load_file(tmp_path / "r" / "model.safetensors")
    assert all(torch.equal(wl[k], wr[k]) for k in wl)


def test_label_term_needs_two_classes(tmp_path):
    r = colorbench_cli("train", "--data", "sample", "--classes", "cat", "--label-weight", "0.1", "--out",
                       tmp_path / "r")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "has one class" in r.stderr, r.stderr
    assert not (tmp_path / "r").exists()


def test_deterministic_runs_are_bitwise_equal_and_single_threaded(tmp_path, sample):
    cfg = TrainConfig(**{**TINY, "epochs": 1, "deterministic": True})
    threads = torch.get_num_threads()
    a = train(cfg, tmp_path / "a", dataset=sample, progress=False, log=lambda *_: None)
    b = train(cfg, tmp_path / "b", dataset=sample, progress=False, log=lambda *_: None)
    assert a["threads"] == 1 and torch.get_num_threads() == threads  # restored afterwards
    assert a["history"][0]["curve"] == b["history"][0]["curve"]
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_pretrained_encoder_initialises_the_colorizer(tmp_path, sample):
    """init=pretrain: the encoder is trained on the training split's labels first, then copied in."""
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    from colorbench.persist import read_header
    from colorbench.pretrain import load_encoder

    m = train(TrainConfig(**{**TINY, "epochs": 1, "init": "pretrain", "pretrain_epochs": 1}), tmp_path / "p", **kw)
    pre_file = tmp_path / "p" / "pretrain.safetensors"
    assert m["pretext"]["tensors"] == 6  # cnn: 3 convs x (w, b)
    info = read_header(pre_file, "encoder")[1]
    assert m["pretext"]["val_accuracy"] == info["val_accuracy"]  # the file's own
    assert m["pretext"]["sha256"] == __import__("hashlib").sha256(pre_file.read_bytes()).hexdigest()  # the card's link
    # what the card's stage table says of the pretext: how many images, how fast, on what
    assert info["train_images"] == m["train_images"] and info["threads"] == m["threads"]
    assert info["train_images"] / info["time_s"] <= info["images_per_s"] < 10 * info["train_images"] / info["time_s"]
    # copied: after a few small Adam steps the encoder is still near the pretrained one, far from a fresh init
    pre, trained = load_file(pre_file), load_model(tmp_path / "p")[0].state_dict()
    torch.manual_seed(0)
    scratch = create_model("cnn", width=8).state_dict()
    assert len(pre) == 6 and all((trained[k] - v).abs().max() < (trained[k] - scratch[k]).abs().max() / 4
                                 for k, v in pre.items() if k.endswith("weight"))
    with pytest.raises(ValueError, match="not for 'unet'"):
        load_encoder(create_model("unet"), pre_file)


def test_pretext_cosine_schedule_decays_its_lr_and_leaves_the_colour_runs_alone(tmp_path, sample, monkeypatch):
    """pretrain_schedule cosine: the pretext's lr follows lr * (1 + cos(pi * step / steps)) / 2 over its own
    steps; the colour run after it keeps its own (constant) schedule; the encoder's file names its schedule."""
    from colorbench.persist import read_header

    lrs = []

    class Spy(torch.optim.Adam):
        def step(self, *a, **k):
            lrs.append(self.param_groups[0]["lr"])
            return super().step(*a, **k)

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    cfg = TrainConfig(**{**TINY, "epochs": 1, "init": "pretrain", "pretrain_epochs": 2, "pretrain_schedule": "cosine"})
    train(cfg, tmp_path / "p", dataset=sample, progress=False, log=lambda *_: None)
    steps = len(lrs) // 3  # the same split and batch: two pretext epochs, then one colour epoch
    assert len(lrs) == 3 * steps and steps > 2
    want = [cfg.lr * 0.5 * (1 + math.cos(math.pi * k / (2 * steps))) for k in range(2 * steps)]
    assert lrs[: 2 * steps] == pytest.approx(want, rel=1e-12) and lrs[2 * steps - 1] < cfg.lr * 0.01
    assert lrs[2 * steps :] == [cfg.lr] * steps
    assert read_header(tmp_path / "p" / "pretrain.safetensors", "encoder")[1]["schedule"] == "cosine"


def test_pretext_weight_decay_and_label_smoothing_reach_its_optimiser_and_loss(tmp_path, sample, monkeypatch):
    """pretrain_weight_decay: AdamW with that decay (0: plain Adam, as before); pretrain_label_smoothing: the
    cross-entropy's; the encoder's file records both and its accuracy on training images beside validation."""
    import colorbench.pretrain as pretrain
    from colorbench.persist import read_header
    from colorbench.train import UsageError, pretrain_only, validate

    made, smoothing, ce = [], [], pretrain.F.cross_entropy

    class Adam(torch.optim.Adam):
        def __init__(self, *a, **k):
            made.append(("Adam", k))
            super().__init__(*a, **k)

    class AdamW(torch.optim.AdamW):
        def __init__(self, *a, **k):
            made.append(("AdamW", k))
            super().__init__(*a, **k)

    monkeypatch.setattr(torch.optim, "Adam", Adam)
    monkeypatch.setattr(torch.optim, "AdamW", AdamW)
    monkeypatch.setattr(pretrain.F, "cross_entropy", lambda *a, **k: smoothing.append(k["label_smoothing"]) or ce(*a, **k))
    kw = dict(progress=False, log=lambda *_: None)
    plain = pretrain_only(TrainConfig(**{**TINY, "pretrain_epochs": 1}), tmp_path / "plain", **kw)
    assert made == [("Adam", {"lr": 1e-3})] and set(smoothing) == {0.0}
    made.clear(), smoothing.clear()
    cfg = TrainConfig(**{**TINY, "pretrain_epochs": 1, "pretrain_weight_decay": 0.05, "pretrain_label_smoothing": 0.1})
    info = read_header(pretrain_only(cfg, tmp_path / "reg", **kw), "encoder")[1]
    assert made == [("AdamW", {"lr": 1e-3, "weight_decay": 0.05})] and set(smoothing) == {0.1}
    assert info["weight_decay"] == 0.05 and info["label_smoothing"] == 0.1 and 0 <= info["train_accuracy"] <= 1
    a, b = load_file(plain), load_file(tmp_path / "reg" / "encoder.safetensors")
    assert a.keys() == b.keys() and any(not torch.equal(a[k], b[k]) for k in a)  # the same start, other training
    for bad, flag in (({"pretrain_weight_decay": -0.1}, "weight-decay"), ({"pretrain_label_smoothing": 1.0}, "smoothing")):
        with pytest.raises(UsageError, match=flag):
            validate(TrainConfig(**{**TINY, **bad}))


def test_a_pretext_cut_short_resumes_to_the_same_bits(tmp_path, sample, monkeypatch):
    """`colorbench pretrain` checkpoints every epoch: killed after epoch 1 of 2, --resume gives the encoder an
    uninterrupted run gives; without --resume the unfinished pretext is neither lost nor silently restarted."""
    import colorbench.pretrain as pretrain
    from colorbench.persist import ReadError, read_header
    from colorbench.train import pretrain_only

    cfg = TrainConfig(**{**TINY, "pretrain_epochs": 2, "pretrain_schedule": "cosine"})
    kw = dict(progress=False, log=lambda *_: None)
    whole = load_file(pretrain_only(cfg, tmp_path / "whole", **kw))
    save = pretrain.save_state

    def killed_after_saving(obj, path):
        save(obj, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrain, "save_state", killed_after_saving)
    with pytest.raises(KeyboardInterrupt):
        pretrain_only(cfg, tmp_path / "cut", **kw)
    monkeypatch.setattr(pretrain, "save_state", save)
    checkpoint = tmp_path / "cut" / "encoder.state.pt"
    assert checkpoint.exists() and not (tmp_path / "cut" / "encoder.safetensors").exists()
    with pytest.raises(FileExistsError, match="unfinished pretext.*--resume"):
        pretrain_only(cfg, tmp_path / "cut", **kw)
    with pytest.raises(ReadError, match="another config \\(lr\\)"):
        pretrain_only(TrainConfig(**{**cfg.__dict__, "lr": 1e-4}), tmp_path / "cut", resume=True, **kw)
    path = pretrain_only(cfg, tmp_path / "cut", resume=True, **kw)
    resumed = load_file(path)
    assert resumed.keys() == whole.keys() and all(torch.equal(resumed[k], whole[k]) for k in whole)
    assert not checkpoint.exists() and read_header(path, "encoder")[1]["epochs"] == 2
    assert pretrain_only(cfg, tmp_path / "cut", resume=True, **kw) == path  # finished: left as it is


def test_encoder_lr_freezes_or_slows_the_pretrained_encoder_and_resumes_alike(tmp_path, sample):
    """--encoder-lr 0: the encoder copied from the pretext trains not at all, the rest does (under a cosine
    schedule); a fraction keeps its own group through a resume (the same bits as one run)."""
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    base = {**TINY, "epochs": 1, "init": "pretrain", "pretrain_epochs": 1}
    train(TrainConfig(**base, encoder_lr=0.0, schedule="cosine"), tmp_path / "f", **kw)
    pre, trained = load_file(tmp_path / "f" / "pretrain.safetensors"), load_file(tmp_path / "f" / "model.safetensors")
    assert len(pre) == 6 and all(torch.equal(trained[k], v) for k, v in pre.items())
    assert any(not torch.equal(trained[k], v) for k, v in create_model("cnn", width=8).state_dict().items()
               if k not in pre)
    slow = {**base, "epochs": 2, "encoder_lr": 0.25}
    train(TrainConfig(**slow), tmp_path / "a", **kw)
    train(TrainConfig(**{**slow, "epochs": 1}), tmp_path / "b", **kw)
    train(TrainConfig(**slow), tmp_path / "b", resume=True, **kw)
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    groups = torch.load(tmp_path / "b" / "state.pt", weights_only=True)["optimizer"]["param_groups"]
    assert [g["scale"] for g in groups] == [1.0, 0.25] and len(groups[1]["params"]) == 6
    r = colorbench_cli("train", "--data", "sample", "--encoder-lr", "-1", "--out", tmp_path / "bad")
    assert r.returncode == 2 and "--encoder-lr is a fraction of --lr" in r.stderr and not (tmp_path / "bad").exists()


def test_finding_the_encoder_moves_no_batch_norm_statistics():
    """The probe that finds the encoder's parameters (for --encoder-lr, and the pretext's file) runs in eval
    mode: weights in training keep their batch-norm statistics and their mode."""
    from colorbench.pretrain import encoder_parameters

    m = create_model("photo_unet", width=8, blocks=1)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    enc = encoder_parameters(m)
    assert m.training and all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())
    assert 0 < len(enc) < len(list(m.parameters())) and all(q.grad is None for q in m.parameters())


class _Scores(torch.nn.Module):
    """A stand-in classifier: fixed bin scores, decoded by the real annealed mean."""

    def __init__(self, scores):
        super().__init__()
        from colorbench.objectives import AnnealedMean

        self.scores, self.decode, self.in_channels = scores, AnnealedMean(2), 1
        self.decode.bins.copy_(torch.tensor([[0.0, 0.0], [0.5, 0.0]]))  # gray, and a = 64

    def raw(self, L):
        return self.scores


def _truth_and_scores(margin):
    """8 images of 4x4: half colour (a = 64), half gray; scores favour the right bin by `margin` (< 0: wrong)."""
    ab = torch.zeros(8, 2, 4, 4)
    ab[:4, 0] = 0.5
    right = torch.stack([ab[:, 0] == 0, ab[:, 0] > 0], 1).float()  # (8, 2 bins, 4, 4)
    return torch.full((8, 1, 4, 4), 0.5), ab, margin * (2 * right - 1)


def test_annealed_mean_temperature_choice_on_held_out_data():
    from colorbench.objectives import choose_temperature

    # right and sure: the coldest T is near the truth (error < 1 ab unit), the most vivid, and chosen
    L, ab, scores = _truth_and_scores(2.0)
    d = choose_temperature(_Scores(scores), L, ab)
    assert d["gray_ab_mse"] == pytest.approx(1024.0)  # hand count: half the pixels 64 off in a, b exact: 64^2 / 4
    coldest = d["grid"][0]
    assert d["chosen"] == coldest["temperature"] == 0.2 and coldest["ab_mse"] < 1
    assert coldest["colorfulness"] == pytest.approx(d["truth_colorfulness"], rel=0.01)

    # confidently wrong: no T beats gray, so the least harmful (hottest, lowest ab MSE) is chosen
    L, ab, scores = _truth_and_scores(-5.0)
    d = choose_temperature(_Scores(scores), L, ab)
    assert all(r["ab_mse"] > d["gray_ab_mse"] for r in d["grid"])
    assert d["chosen"] == 2.0 == min(d["grid"], key=lambda r: r["ab_mse"])["temperature"]

    # wrong by a little: the swapped colours are as vivid as the truth at every T, but only the hottest T
    # beat gray (hand count: T > 1.14), so a vivid cold T is never chosen
    L, ab, scores = _truth_and_scores(-0.5)
    d = choose_temperature(_Scores(scores), L, ab)
    beats = [r["temperature"] for r in d["grid"] if r["ab_mse"] < d["gray_ab_mse"]]
    assert beats == [1.2, 1.5, 2.0] and d["chosen"] == 2.0
    # no T reaches the colour asked for: the lowest ab MSE of all, not the most colourful T under gray's (1.2)
    d = choose_temperature(_Scores(scores), L, ab, colour_target=2.0)
    useful = [r for r in d["grid"] if r["ab_mse"] < d["gray_ab_mse"]]
    assert max(useful, key=lambda r: r["colorfulness"])["temperature"] == 1.2 and d["chosen"] == 2.0
    # each T's mean per-image ab PSNR, and gray's by hand: gray images exact (the floor, 2 ab units rms),
    # colour ones 64 off in a: mean MSE (0.5^2 + 0) / 2 in (ab/128)^2
    floor = (2 / 128) ** 2
    assert d["gray_ab_psnr"] == pytest.approx((-10 * math.log10(floor) - 10 * math.log10(0.125 + floor)) / 2)
    assert all(r["ab_psnr"] < d["gray_ab_psnr"] for r in d["grid"])  # swapped colours cost the gray images most


def test_precise_batch_norm_is_the_plain_mean_and_variance_of_its_images():
    """precise_batch_norm: each batch norm's running mean and (unbiased) variance become those of its input over
    the chosen images, unaugmented, by hand through a hook; momentum and mode are restored; no batch norm: 0."""
    from colorbench.train import precise_batch_norm

    torch.manual_seed(0)
    model = create_model("photo_unet", width=4).eval()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    first.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    images = torch.rand(10, 3, 32, 32) * torch.tensor([100.0, 40.0, 40.0])[:, None, None] - torch.tensor([0.0, 20, 20])[:, None, None]
    images = images / torch.tensor([100.0, 128, 128])[:, None, None]  # normalised LAB, as training holds it
    assert precise_batch_norm(model, images, 6, batch_size=64) == 6
    x = torch.cat(seen)  # one batch of the 6 evenly spaced images: 0, 2, 4, 5, 7, 9
    assert len(x) == 6 and not model.training and first.momentum == 0.1
    torch.testing.assert_close(first.running_mean, x.mean((0, 2, 3)))
    torch.testing.assert_close(first.running_var, x.var((0, 2, 3), unbiased=True))
    seen.clear()
    precise_batch_norm(model, images, 6, batch_size=4)  # two batches: the running figures average the two
    a, b = seen
    torch.testing.assert_close(first.running_mean, (a.mean((0, 2, 3)) + b.mean((0, 2, 3))) / 2)
    assert precise_batch_norm(create_model("cnn", width=4), images, 6, batch_size=4) == 0


def test_precise_bn_changes_only_the_statistics_and_colour_target_reaches_the_t_rule(tmp_path, sample, monkeypatch):
    """train precise_bn: the same run's weights to the bit, other batch-norm statistics, and the validation loss
    recorded is the saved weights'; colour_target goes to choose_temperature (0: the least ab MSE)."""
    import colorbench.objectives as objectives

    asked = []
    choose = objectives.choose_temperature
    monkeypatch.setattr(objectives, "choose_temperature", lambda *a, **k: asked.append(a[3]) or choose(*a, **k))
    base = {**TINY, "model": "photo_unet", "epochs": 1, "loss": "classification", "deterministic": True}
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    m0 = train(TrainConfig(**base), tmp_path / "a", **kw)
    m1 = train(TrainConfig(**{**base, "precise_bn": 100, "colour_target": 0.0}), tmp_path / "b", **kw)
    assert asked == [0.7, 0.0] and m1["decoding"]["colour_target"] == 0.0
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    stats = [k for k in a if k.endswith(("running_mean", "running_var"))]
    weights = [k for k in a if k.startswith("net.") and k not in stats and not k.endswith("num_batches_tracked")]
    assert stats and weights and all(torch.equal(a[k], b[k]) for k in weights)
    assert all(not torch.equal(a[k], b[k]) for k in stats)
    from colorbench.train import evaluate_loss, prepare
    data = prepare(TrainConfig(**base), torch.device("cpu"), dataset=sample)
    model = load_model(tmp_path / "b")[0]
    assert m1["final_val_loss"] == pytest.approx(evaluate_loss(model, data.val, 200), rel=1e-6)
    assert m0["final_val_loss"] != m1["final_val_loss"]


def test_all_temperatures_at_once_equal_the_decoder_at_each():
    """annealed_means (calibration's fast path) is AnnealedMean at every T, chunked or not."""
    from colorbench.objectives import AnnealedMean, annealed_means

    torch.manual_seed(0)
    raw, dec = torch.randn(3, 7, 5, 6) * 3, AnnealedMean(7)
    dec.bins.copy_(torch.rand(7, 2) * 2 - 1)
    Ts = (0.2, 0.38, 1.0, 2.0)
    for chunk in (0, 4, 1000):
        got = annealed_means(raw, dec.bins, Ts, chunk=chunk)
        for T, g in zip(Ts, got):
            dec.temperature.fill_(T)
            torch.testing.assert_close(g, dec(raw), atol=1e-6, rtol=0)


def test_temperature_is_chosen_on_a_fixed_subset():
    """Past max_images, an evenly spaced subset decides: the same images, so the same choice."""
    from colorbench.objectives import choose_temperature

    L, ab, scores = _truth_and_scores(2.0)
    d = choose_temperature(_Scores(scores[::2]), L, ab, max_images=4)
    assert d["images"] == 4 and d["chosen"] == 0.2


def test_a_network_seeing_more_than_L_trains_evaluates_colorizes_and_exports(tmp_path, sample):
    """in_channels=4 (L, then three channels network_input fills: zeros for now) goes through the same
    code as the study's models; weights with another number of inputs are refused in one line."""
    import numpy as np

    from colorbench.colorize import colorize
    from colorbench.config import UsageError
    from colorbench.compare import evaluate_checkpoint
    from colorbench.models import network_input
    from helpers import photo

    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    cfg = TrainConfig(**{**TINY, "epochs": 1, "in_channels": 4, "width": 8})
    m = train(cfg, tmp_path / "r", **kw)
    model, info = load_model(tmp_path / "r")
    assert model.in_channels == 4 and info["model"]["kwargs"]["in_channels"] == 4 and m["final_val_loss"] < 1
    r = evaluate_checkpoint(tmp_path / "r", test_limit=50, device="cpu", precision="fp32", progress=False)
    assert r["test_images"] == 50 and 0 < r["summary"]["ab_mse"] < 1000
    assert colorize(photo(), weights=tmp_path / "r").shape == (48, 64, 3)
    with pytest.raises(UsageError, match="seeing 4 input channels, this run's sees 1"):
        train(TrainConfig(**{**cfg.__dict__, "in_channels": 1, "init": str(tmp_path / "r")}), tmp_path / "b", **kw)
    ort = pytest.importorskip("onnxruntime")
    from colorbench.export import export_onnx

    sess = ort.InferenceSession(str(export_onnx(tmp_path / "r", tmp_path / "m.onnx")))
    assert [i.name for i in sess.get_inputs()] == ["L", "hint_ab", "hint_mask"]  # 4 inputs: colour hints
    x = network_input(torch.rand(2, 1, 20, 27), 4)
    got = sess.run(None, {"L": x[:, :1].numpy(), "hint_ab": x[:, 1:3].numpy(), "hint_mask": x[:, 3:].numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - mirrored(model, x).numpy()).max() < 1e-4


class _Shrunk(Objective):
    """A small objective registered by this test alone: L1 of tanh outputs (decoded by the base
    class's tanh); `fit` notes the training ab's spread and `calibrate` reports it."""

    name = "shrunk_test"
    spread = 0.0

    def fit(self, train_ab):
        self.spread = float(train_ab.abs().mean())

    def loss(self, raw, ab, L):
        return (torch.tanh(raw.float()) - ab).abs().mean()

    def calibrate(self, model, val, batch_size, log=print):
        log(f"fitted spread {self.spread:.3f}")
        return {"chosen": 1.0, "images": len(val), "spread": self.spread}


def test_an_objective_is_one_class_that_trains_evaluates_and_exports(tmp_path, sample, monkeypatch):
    """Registered here, in the test file: the loop calls its hooks (fit, loss, calibrate) without asking
    which objective it holds, and evaluate and ONNX export need nothing more."""
    import numpy as np

    from colorbench.compare import evaluate_checkpoint
    from colorbench.objectives import OBJECTIVES

    monkeypatch.setitem(OBJECTIVES, _Shrunk.name, _Shrunk)
    lines = []
    kw = dict(dataset=sample, progress=False, log=lines.append)
    m = train(TrainConfig(**{**TINY, "epochs": 1, "width": 8, "loss": "shrunk_test"}), tmp_path / "r", **kw)
    assert m["loss"] == "shrunk_test" and m["decoding"]["images"] == m["val_images"] and 0 < m["decoding"]["spread"] < 1
    assert any("fitted spread" in line for line in lines)
    model, info = load_model(tmp_path / "r")
    assert info["model"]["objective"]["name"] == "shrunk_test" and info["decoding"]["chosen"] == 1.0
    r = evaluate_checkpoint(tmp_path / "r", test_limit=50, device="cpu", precision="fp32", progress=False)
    assert 0 < r["summary"]["ab_mse"] < 1000
    ort = pytest.importorskip("onnxruntime")
    from colorbench.export import export_onnx

    sess = ort.InferenceSession(str(export_onnx(tmp_path / "r", tmp_path / "m.onnx")))
    x = torch.rand(2, 1, 20, 27)
    with torch.no_grad():
        assert np.abs(sess.run(None, {"L": x.numpy()})[0] - mirrored(model, x).numpy()).max() < 1e-4


def test_going_on_from_weights_starts_where_they_stopped(tmp_path, sample):
    """init=<weights>: a stage of a longer training starts from another run's whole model (bins
    included), so its first validation loss before any step equals the weights' own."""
    from colorbench.train import evaluate_loss, prepare

    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    cfg = TrainConfig(**{**TINY, "epochs": 1, "loss": "classification", "temperature": 0.38, "head_stride": 2,
                          "precision": "fp32"})  # auto may pick bf16 on one run: the reference below is fp32
    train(cfg, tmp_path / "a", **kw)
    first, _ = load_model(tmp_path / "a")
    data = prepare(cfg, torch.device("cpu"), sample, progress=False)
    before = evaluate_loss(first, data.val, 200)
    m = train(TrainConfig(**{**cfg.__dict__, "init": str(tmp_path / "a" / "model.safetensors"), "lr": 1e-12}),
              tmp_path / "b", **kw)
    assert m["pretext"]["sha256"] == __import__("hashlib").sha256((tmp_path / "a" / "model.safetensors")
                                                                  .read_bytes()).hexdigest()
    assert m["final_val_loss"] == pytest.approx(before, rel=1e-4)  # lr ~0: the same model, bins and all
    second, _ = load_model(tmp_path / "b")
    assert torch.equal(second.decode.bins, first.decode.bins)
    with pytest.raises(ValueError, match="not of this --model unet"):
        train(TrainConfig(**{**cfg.__dict__, "model": "unet", "init": str(tmp_path / "a")}), tmp_path / "c", **kw)


def test_cosine_schedule_decays_to_zero_by_the_last_step(tmp_path, sample):
    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    cfg = TrainConfig(**{**TINY, "schedule": "cosine", "lr": 2e-3})  # 256 images / 32 = 8 steps an epoch
    train(TrainConfig(**{**TINY, "schedule": "cosine", "lr": 2e-3, "epochs": 1}), tmp_path / "r", **kw)
    state = torch.load(tmp_path / "r" / "state.pt", weights_only=False)
    # after epoch 1 of a 1-epoch run, the last of its 8 steps ran at 2e-3 * (1 + cos(pi * 7/8)) / 2
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2e-3 * (1 + math.cos(math.pi * 7 / 8)) / 2)
    whole = train(cfg, tmp_path / "whole", **kw)
    state = torch.load(tmp_path / "whole" / "state.pt", weights_only=False)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2e-3 * (1 + math.cos(math.pi * 15 / 16)) / 2)
    constant = train(TrainConfig(**{**TINY, "lr": 2e-3}), tmp_path / "constant", **kw)
    assert whole["history"][-1]["train_loss"] != constant["history"][-1]["train_loss"]


def test_a_deeper_or_wider_photo_unet_goes_on_from_smaller_weights_as_the_same_function(tmp_path, sample):
    """--blocks more than the --init weights have: the new residual blocks start as the identity, so the
    grown network colours exactly as the weights did; fewer blocks, or blocks on a model without them, is one line."""
    from colorbench.train import _warm_start

    kw = dict(dataset=sample, progress=False, log=lambda *_: None)
    cfg = TrainConfig(**{**TINY, "model": "photo_unet", "width": 4, "epochs": 1, "train_limit": 64,
                         "loss": "classification", "head_stride": 4})
    train(cfg, tmp_path / "a", **kw)
    shallow, info = load_model(tmp_path / "a")  # its T chosen on the validation split, and said so in its spec
    assert shallow.spec["objective"]["kwargs"]["temperature"] == info["decoding"]["chosen"] \
        == pytest.approx(float(shallow.decode.temperature))
    deep_cfg = TrainConfig(**{**cfg.__dict__, "blocks": 2, "init": str(tmp_path / "a")})
    warm, _ = _warm_start(deep_cfg, None)
    deep = create_model("photo_unet", shallow.spec["objective"], width=4, blocks=2)
    assert set(deep.state_dict()) - set(warm) and all(".blocks." in k for k in set(deep.state_dict()) - set(warm))
    deep.load_state_dict({**deep.state_dict(), **warm})
    x = torch.rand(3, 1, 32, 48)
    with torch.no_grad():
        assert torch.equal(deep.eval()(x), shallow(x))
    train(deep_cfg, tmp_path / "b", **kw)  # and it trains, its blocks recorded with the weights
    grown, _ = load_model(tmp_path / "b")
    assert grown.spec["kwargs"] == {"width": 4, "blocks": 2}
    assert grown.net.bottleneck.blocks[1].body[-1].weight.abs().max() > 0  # the new blocks learn
    with pytest.raises(ValueError, match="weights with 2 residual blocks, this run asks for 1"):
        train(TrainConfig(**{**deep_cfg.__dict__, "blocks": 1, "init": str(tmp_path / "b")}), tmp_path / "c", **kw)
    with pytest.raises(ValueError, match="--blocks: cnn has no residual blocks"):
        train(TrainConfig(**{**TINY, "blocks": 1}), tmp_path / "d", **kw)
    # wider too (--width above the weights'): the same function, the new channels grown by training
    wide_cfg = TrainConfig(**{**deep_cfg.__dict__, "width": 6, "init": str(tmp_path / "b")})
    warm, _ = _warm_start(wide_cfg, None)
    wide = create_model("photo_unet", grown.spec["objective"], width=6, blocks=2)
    wide.load_state_dict(warm)
    with torch.no_grad():
        torch.testing.assert_close(wide.eval()(x), grown.eval()(x), atol=1e-5, rtol=0)
    train(wide_cfg, tmp_path / "e", **kw)
    widened, _ = load_model(tmp_path / "e")
    assert widened.spec["kwargs"] == {"width": 6, "blocks": 2}
    assert widened.net.head[-1].weight[:, 4:].abs().max() > 0  # the head reads the new channels now
    with pytest.raises(ValueError, match="as wide as --width or narrower"):
        train(TrainConfig(**{**wide_cfg.__dict__, "width": 4, "init": str(tmp_path / "e")}), tmp_path / "f", **kw)
