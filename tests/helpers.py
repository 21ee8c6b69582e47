"""What several test files build: a colourful test photo, a fitted objective of any kind, the micro
comparison's training overrides, and the command line run in this process."""

import contextlib
import io
import os
import subprocess

import numpy as np
import torch

from colorbench.objectives import create_objective

# The micro comparison (conftest's micro_compare, and the tests that resume it): the three study models at
# width 8, since what the compare and report tests check (files, counts, tests, words) holds at any width.
MICRO = {"train_limit": 64, "epochs": 1, "batch_size": 16, "eval_batch_size": 200, "width": 8}


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """An RGB uint8 photo: colour gradients plus seeded noise."""
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, 1 - x / w], -1) * 200 + g.integers(0, 55, (h, w, 3))
    return base.astype(np.uint8)


def fitted(loss: str, **kwargs):
    """An objective fitted on seeded ab values (classification: its bins and prior come from them)."""
    obj = create_objective(loss, **kwargs)
    obj.fit(torch.rand(4, 2, 16, 16, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8)
    return obj


def colorbench_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    """`colorbench ARGS` as a user runs it (exit code, stdout, stderr: what `python -m colorbench` gives), run
    in this process: a new Python with torch costs about 2 s, most of these tests' time. What needs a real
    process (the entry point, --debug tracebacks, signals, torchrun) is tested with one elsewhere."""
    from colorbench.cli import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse: --help, --version, a bad command line
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["colorbench", *map(str, args)], code, out.getvalue(), err.getvalue())
