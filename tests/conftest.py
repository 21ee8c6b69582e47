import os
import shutil
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
# the layout is timed per model and batch shape: tests train dozens of tiny ones, so the suite pins it
# (test_hardware.py checks the measured choice)
os.environ.setdefault("COLORBENCH_MEMORY_FORMAT", "channels_last")
# and "auto" precision, for the same reason and one more: two runs (or a run and its resume) that
# measured differently would differ in bits. Tests that want bf16 ask for it; test_hardware.py unpins.
os.environ.setdefault("COLORBENCH_PRECISION", "fp32")
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


@pytest.fixture(scope="session")
def artifacts():
    """Screenshots and other things a person may want to look at after a test run."""
    d = Path(os.environ.get("COLORBENCH_ARTIFACTS", ROOT / "artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def browser(tmp_path):
    """A factory of headless Chromium drivers (Debian's chromium + chromedriver), quit by the caller."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    for exe in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not shutil.which(exe):
            pytest.skip(f"{exe} is not installed (apt-get install chromium chromium-driver)")

    def make(width: int = 1280, height: int = 1000):
        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", f"--window-size={width},{height}",
                    f"--user-data-dir={tmp_path / 'chromium-profile'}"):
            opts.add_argument(arg)
        opts.binary_location = "/usr/bin/chromium"
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see blocked loads and script errors
        return webdriver.Chrome(options=opts, service=Service(executable_path="/usr/bin/chromedriver"))

    return make


@pytest.fixture(scope="session")
def micro_compare(tmp_path_factory):
    """A 2-seed comparison of the three study models on the shipped sample, small enough for CI."""
    from colorbench.compare import compare
    from colorbench.config import preset_compare

    from helpers import MICRO

    out = tmp_path_factory.mktemp("cmp") / "run"
    report = compare(preset_compare("smoke", seeds=2, test_limit=60), MICRO, out, progress=False, log=lambda *_: None)
    return out, report
