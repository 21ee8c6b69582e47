"""Are runs with the same seed the same to the last digit? Trains one small config N times in fresh
processes (optionally with CPU-heavy processes beside them, or after killing a run mid-way) and
counts the distinct (validation loss, training loss) pairs.

    python recipes/reproducibility.py [--runs 12] [--hog 2] [--precision auto] [--deterministic]
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from colorbench.persist import read_json


def train(out: Path, args, extra=()) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "colorbench", "train", "--preset", "smoke", "--train-limit", "800", "--val-limit",
           "400", "--epochs", "2", "--precision", args.precision, "--out", str(out), "--quiet", *extra]
    if args.deterministic:
        cmd.append("--deterministic")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--hog", type=int, default=0, help="CPU-burning processes running beside the runs")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--deterministic", action="store_true")
    args = ap.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hog)]
    seen = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                if i % 3 == 2:  # every third run starts right after another run was killed mid-way
                    victim = train(Path(tmp) / f"killed{i}", args)
                    time.sleep(4)
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                p = train(Path(tmp) / f"r{i}", args)
                _, err = p.communicate()
                if p.returncode:
                    raise SystemExit(err)
                m = read_json(Path(tmp) / f"r{i}" / "metrics.json")
                key = (m["final_val_loss"], m["final_train_loss"])
                seen.setdefault(key, []).append(i)
                print(f"run {i}: val {key[0]!r} train {key[1]!r} ({m['precision']}, {m['threads']} threads)", flush=True)
    finally:
        for h in hogs:
            h.kill()
    print(f"{args.runs} runs, {len(seen)} distinct result(s); hogs beside them: {args.hog}; "
          f"{'deterministic' if args.deterministic else 'default threads'}; CPU: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
