import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CIFAR_JPEG = SHARED / "cifar10-jpeg.tar.gz"
IMAGENET = SHARED / "imagenet-sample-1000.tar"

# Decoded datasets are cached here, shared by xdist workers and kept between local runs; tests that
# need an empty cache point COLORBENCH_CACHE at their own tmp_path.
os.environ.setdefault("COLORBENCH_CACHE", str(ROOT / ".pytest_cache" / "colorbench"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # two workers on two cores: don't oversubscribe


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("COLORBENCH_CACHE", str(d))
    return d


@pytest.fixture(scope="session")
def cifar_jpeg():
    if not CIFAR_JPEG.exists():
        pytest.skip(f"{CIFAR_JPEG} not present (../shared/data beside the repo)")
    from colorbench.data import load_dataset

    return load_dataset(CIFAR_JPEG, progress=False)
