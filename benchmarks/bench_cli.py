"""How fast the command answers `--help` and `--version`: wall time of each against `python -c pass` (the
interpreter's own start-up), and the same with torch imported first (what the command cost while the
package imported torch on start-up), all measured in this run.

    python benchmarks/bench_cli.py [--n 10]

Each figure is the median of n runs after one warm-up (the first run reads files from disk). Runs the
`colorbench` package importable by this Python (set PYTHONPATH=src for a checkout without installing).
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(cmd: list[str], n: int) -> float:
    """Median seconds of n runs of `cmd`, after one warm-up; every run must succeed."""
    times = []
    for i in range(n + 1):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10, help="runs per command (default: 10)")
    args = ap.parse_args()
    py = sys.executable
    script = Path(py).with_name("colorbench")  # the console script pip installed beside this Python, if any
    base = wall([py, "-c", "pass"], args.n)
    torch_import = wall([py, "-c", "import torch"], args.n)
    print(f"{'python -c pass':<32}{base * 1000:7.0f} ms")
    print(f"{'python -c import torch':<32}{torch_import * 1000:7.0f} ms  (what --help took while it imported torch)")
    for name, cmd in ([("colorbench", [str(script)])] if script.exists() else []) + [
            ("python -m colorbench", [py, "-m", "colorbench"])]:
        for flag in ("--help", "--version"):
            t = wall(cmd + [flag], args.n)
            print(f"{name + ' ' + flag:<32}{t * 1000:7.0f} ms  {t / base:4.1f}x python -c pass ({t - base:+.3f} s); "
                  f"importing torch takes {torch_import / t:.0f}x as long")


if __name__ == "__main__":
    main()
