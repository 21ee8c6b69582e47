"""Precision: chosen by measuring, falls back cleanly, and bf16 learns what fp32 learns."""

import numpy as np
import pytest
import torch

from colorbench import hardware
from colorbench.config import TrainConfig
from colorbench.hardware import resolve_precision


def test_explicit_precisions_are_taken_as_asked():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", cpu)


def test_auto_keeps_fp32_on_a_cpu_without_bf16_units(monkeypatch, empty_cache):
    """An AVX2-only CPU: no timing needed, no bf16 (emulated bf16 is about 11x slower there)."""
    monkeypatch.delenv("COLORBENCH_PRECISION", raising=False)
    monkeypatch.setattr(hardware, "_cpu_flags", lambda: {"avx", "avx2", "fma"})
    monkeypatch.setattr(hardware, "_time_step", lambda *a: pytest.fail("no need to time a CPU without bf16 units"))
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"


@pytest.mark.parametrize("fp32_s,bf16_s,want", [(1.0, 0.4, "bf16"), (1.0, 0.95, "fp32"), (1.0, 11.0, "fp32")])
def test_auto_follows_the_measurement_and_caches_it(monkeypatch, empty_cache, fp32_s, bf16_s, want):
    monkeypatch.delenv("COLORBENCH_PRECISION", raising=False)
    monkeypatch.setattr(hardware, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    calls = []
    monkeypatch.setattr(hardware, "_time_step", lambda bf16: calls.append(bf16) or (bf16_s if bf16 else fp32_s))
    assert resolve_precision("auto", torch.device("cpu")) == want
    assert resolve_precision("auto", torch.device("cpu")) == want
    assert sorted(calls) == [False, True]  # measured once, then read from the cache
    assert (empty_cache / "hardware.json").exists()


def test_bf16_and_fp32_training_reach_the_same_validation_loss(tmp_path):
    """Same data, 3 seeds each: the bf16 runs' mean validation loss is within seed noise of fp32's, and the
    saved weights are fp32 either way. The CNN at width 8: bf16 rounds the same at any width, and on CPUs
    without bf16 units (emulated, 7x slower) width 64 made this the suite's slowest test (296 s; width 16 ~10x
    less, width 8 about 4x less again)."""
    from colorbench.data import load_dataset
    from colorbench.models import load_model
    from colorbench.train import train

    ds = load_dataset("sample", progress=False)
    losses = {}
    for precision in ("fp32", "bf16"):
        losses[precision] = []
        for seed in range(3):
            cfg = TrainConfig(data="sample", train_limit=600, val_limit=300, epochs=2, seed=seed, precision=precision,
                              width=8)
            m = train(cfg, tmp_path / f"{precision}{seed}", dataset=ds, progress=False, log=lambda *_: None)
            assert m["precision"] == precision
            losses[precision].append(m["final_val_loss"])
    a, b = np.array(losses["fp32"]), np.array(losses["bf16"])
    spread = max(a.std(ddof=1), b.std(ddof=1), 1e-5)
    assert abs(a.mean() - b.mean()) < 3 * spread + 2e-4, losses
    model, info = load_model(tmp_path / "bf160")
    assert info["precision"] == "bf16" and all(p.dtype == torch.float32 for p in model.parameters())


def test_same_seed_same_precision_same_numbers(tmp_path):
    from colorbench.data import load_dataset
    from colorbench.train import train

    ds = load_dataset("sample", progress=False)
    cfg = TrainConfig(data="sample", train_limit=256, val_limit=200, epochs=1, precision="bf16", batch_size=32, width=8)
    a = train(cfg, tmp_path / "a", dataset=ds, progress=False, log=lambda *_: None)
    b = train(cfg, tmp_path / "b", dataset=ds, progress=False, log=lambda *_: None)
    assert a["history"][0]["curve"] == b["history"][0]["curve"] and a["final_val_loss"] == b["final_val_loss"]


@pytest.mark.parametrize("name", ["cuda", "cuda:3", "gpu", "mps", "xpu", "meta", "nonsense:x"])
def test_a_device_that_is_not_here_is_one_usage_error(name):
    """Every kind of device this machine lacks, or colorbench does not run on: one UsageError line (exit 2)."""
    from colorbench.config import UsageError

    kind = name.split(":")[0]
    if kind in ("cuda", "mps", "xpu") and hardware._has(kind) > int(name.partition(":")[2] or 0):
        pytest.skip(f"this machine has {name}")
    with pytest.raises(UsageError) as e:
        hardware.resolve_device(name)
    assert "\n" not in str(e.value) and repr(name) in str(e.value) and "cpu" in str(e.value)
    assert hardware.resolve_device("cpu") == torch.device("cpu")
    assert hardware.resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.parametrize("cl_s,nchw_s,want", [(1.0, 1.4, "channels_last"), (1.0, 0.91, "contiguous")])
def test_auto_layout_follows_the_measurement_per_model_and_caches_it(monkeypatch, empty_cache, cl_s, nchw_s, want):
    from colorbench.hardware import resolve_memory_format
    from colorbench.models import create_model

    monkeypatch.delenv("COLORBENCH_MEMORY_FORMAT", raising=False)
    calls = []
    monkeypatch.setattr(hardware, "_time_layouts",
                        lambda *a: calls.append(1) or {"channels_last": cl_s, "contiguous": nchw_s})
    cpu, x = torch.device("cpu"), torch.zeros(4, 1, 16, 16)
    cnn, unet = create_model("cnn", width=8), create_model("unet", width=8)
    assert resolve_memory_format("auto", cnn, x, cpu, "fp32") == want
    assert resolve_memory_format("auto", cnn, x, cpu, "fp32") == want and len(calls) == 1  # cached
    resolve_memory_format("auto", unet, x, cpu, "fp32")
    resolve_memory_format("auto", cnn, torch.zeros(8, 1, 32, 32), cpu, "fp32")
    assert len(calls) == 3  # another model, another batch shape: measured again
    assert resolve_memory_format("contiguous", cnn, x, cpu, "fp32") == "contiguous" and len(calls) == 3


def test_layout_timing_runs_both_layouts_on_a_copy(monkeypatch):
    from colorbench.models import create_model

    model = create_model("cnn", width=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    t = hardware._time_layouts(model, torch.rand(4, 1, 16, 16), torch.device("cpu"), "fp32", reps=1)
    assert set(t) == {"channels_last", "contiguous"} and all(0 < v < 10 for v in t.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model itself untouched


def test_a_run_records_the_layout_it_trained_in_and_an_old_config_maps(tmp_path, monkeypatch):
    from colorbench.train import train

    monkeypatch.setenv("COLORBENCH_MEMORY_FORMAT", "contiguous")
    m = train(TrainConfig(data="sample", train_limit=64, epochs=1, batch_size=32, width=8), tmp_path / "r",
              progress=False, log=lambda *_: None)
    assert m["memory_format"] == "contiguous"
    assert TrainConfig.from_dict({"channels_last": False}).memory_format == "contiguous"
    assert TrainConfig.from_dict({"channels_last": True}).memory_format == "channels_last"
