"""Several processes: torchrun + gloo on CPU (NCCL on GPUs is the same code), and compare --jobs."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from colorbench.persist import read_json

TORCHRUN = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
# width 8: what these tests check (the same losses, one folder, a clean stop) holds at any width, and the
# study's width 64 made the dead-rank test alone 102 s on AVX2-only CPUs
SMALL = ["--preset", "smoke", "--width", "8", "--train-limit", "256", "--val-limit", "200", "--batch-size", "32",
         "--precision", "fp32", "--threads", "1", "--quiet"]


def torchrun(n: int, *args, env=None):
    cmd = [TORCHRUN, "--standalone", "--nproc_per_node", str(n), "-m", "colorbench", "train", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)


def single(*args):
    return subprocess.run([sys.executable, "-m", "colorbench", "train", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow  # seven Python processes (one run, two torchrun launches); 13 s of a 2-core suite
@pytest.mark.parametrize("term", [[], ["--label-weight", "0.5"]], ids=["colour", "with-labels"])
def test_ddp_matches_one_process_writes_one_folder_and_resumes(tmp_path, term):
    one = single(*SMALL, *term, "--epochs", "2", "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = torchrun(2, *SMALL, *term, "--epochs", "1", "--out", tmp_path / "two")
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("done:") == 1  # one process speaks for the run
    resumed = torchrun(2, *SMALL, *term, "--epochs", "2", "--out", tmp_path / "two", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = read_json(tmp_path / "one" / "metrics.json"), read_json(tmp_path / "two" / "metrics.json")
    assert b["world_size"] == 2 and a["world_size"] == 1
    for ha, hb in zip(a["history"], b["history"], strict=True):  # same global batch, same protocol
        assert hb["train_loss"] == pytest.approx(ha["train_loss"], rel=1e-4)
        assert hb["val_loss"] == pytest.approx(ha["val_loss"], rel=1e-4)
        if term:  # the classifier's gradients are averaged over the processes too
            assert hb["train_label_accuracy"] == pytest.approx(ha["train_label_accuracy"], abs=0.01)
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith(".")) == [
        "config.json", "log.jsonl", "metrics.json", "model.safetensors", "state.pt"]


def test_a_batch_the_processes_cannot_share_is_one_line(tmp_path):
    r = torchrun(3, *SMALL, "--epochs", "1", "--out", tmp_path / "r")
    lines = [x for x in r.stderr.splitlines() if x.startswith("colorbench: error")]
    assert r.returncode != 0 and len(lines) == 1 and "not divisible by the 3 processes" in lines[0]
    assert not (tmp_path / "r").exists()


def test_a_missing_rendezvous_is_one_line(tmp_path):
    env = {**os.environ, "WORLD_SIZE": "2"}
    env.pop("MASTER_ADDR", None)
    r = subprocess.run([sys.executable, "-m", "colorbench", "train", *SMALL, "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("colorbench: error: WORLD_SIZE is 2 but MASTER_ADDR")


def _rank_pid(out: Path, rank: int) -> int | None:
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(out).encode() in cmd and b"torchrun" not in b" ".join(cmd) and f"RANK={rank}".encode() in env:
            return int(d.name)
    return None


@pytest.mark.slow  # two torchrun launches of 3 processes each: wall time in process starts more than in training
@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the rank's process in /proc")
def test_a_rank_that_dies_stops_the_run_and_the_checkpoint_stays_good(tmp_path):
    out = tmp_path / "r"
    args = [*SMALL, "--train-limit", "1600", "--epochs", "6", "--out", out]
    job = subprocess.Popen([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "colorbench", "train",
                            *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not ((out / "log.jsonl").exists() and (out / "log.jsonl").read_text().count("\n") >= 1):
        assert job.poll() is None and time.time() < deadline, job.communicate()
        time.sleep(0.1)
    pid = _rank_pid(out, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _, err = job.communicate(timeout=300)
    assert job.returncode != 0
    assert "lost contact with another process" in err or "SIGKILL" in err or "Signal 9" in err
    state = torch.load(out / "state.pt", weights_only=True)  # the last checkpoint is whole
    assert 1 <= state["epoch"] < 6
    done = torchrun(2, *args, "--resume")
    assert done.returncode == 0, done.stderr
    assert read_json(out / "metrics.json")["epochs"] == 6


@pytest.mark.slow  # a compare in two worker processes beside one in this one; 14 s
def test_compare_jobs_gives_the_same_figures(tmp_path):
    from colorbench.compare import compare
    from colorbench.config import preset_compare

    # the same thread count per run: another count is another order of float sums (README, Reproducibility)
    over = {"train_limit": 128, "epochs": 1, "batch_size": 32, "val_limit": 200, "threads": 1, "width": 8}
    results, threads = {}, torch.get_num_threads()
    for jobs in (1, 2):
        c = preset_compare("smoke", arms=["cnn", "unet_noskip"], seeds=2, test_limit=60, jobs=jobs)
        torch.set_num_threads(2)  # the parent's own count must not leak into the runs' training or evaluation
        try:
            compare(c, over, tmp_path / f"j{jobs}", progress=False, log=lambda *_: None)
        finally:
            torch.set_num_threads(threads)
        results[jobs] = read_json(tmp_path / f"j{jobs}" / "results.json")
    a, b = results[1], results[2]
    for arm in a["models"]:
        for k in ("ab_mse", "psnr", "ssim", "ciede2000", "colorfulness", "auc", "val_loss", "train_loss"):
            assert a["models"][arm]["summary"][k]["values"] == b["models"][arm]["summary"][k]["values"], (arm, k)
    assert [p["p_holm"] for p in a["paired"]] == [p["p_holm"] for p in b["paired"]]


def test_jobs_zero_is_refused():
    r = subprocess.run([sys.executable, "-m", "colorbench", "compare", "--jobs", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "--jobs must be at least 1" in r.stderr and len(r.stderr.strip().splitlines()) == 1
