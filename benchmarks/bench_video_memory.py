"""Peak memory of colorizing a 1080p video: flat in the film's length, and about 1 GB at most.

Each measurement is a fresh process (peak resident memory, `ru_maxrss`, cannot be reset): the floor
(torch imported and the weights loaded, nothing colorized), then `colorbench.colorize_video` on a
synthetic 1920x1080 pan of each length. Memory that grew with the length would show as a rising peak.

    python benchmarks/bench_video_memory.py [--frames 20 80] [--size 1920x1080]
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys
from pathlib import Path
import colorbench
from colorbench.colorize import load_colorizer
load_colorizer(None)
if sys.argv[1] != "0":
    colorbench.colorize_video(sys.argv[2], Path(sys.argv[2]).with_name("out.mp4"), overwrite=True, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_pan(dst: Path, frames: int, w: int, h: int) -> Path:
    """A pan over a smooth synthetic picture, H.264: every frame moves, so no frame is skipped as frozen."""
    from fractions import Fraction

    import av
    import numpy as np

    y, x = np.mgrid[0:h, 0:w + 8 * frames].astype(np.float32)
    big = np.stack([128 + 100 * np.sin(x / 97), 128 + 100 * np.cos(y / 61), 128 + 80 * np.sin((x + y) / 131)], -1)
    big = big.astype(np.uint8)
    with av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"crf": "18", "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(big[:, 8 * i:8 * i + w]), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 25)
            out.mux(s.encode(f))
        out.mux(s.encode())
    return dst


def peak_mb(frames: int, clip: Path) -> float:
    got = subprocess.run([sys.executable, "-c", CHILD, str(frames), str(clip)], capture_output=True, text=True, check=True)
    return float(got.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[20, 80])
    ap.add_argument("--size", default="1920x1080")
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    floor = peak_mb(0, Path("none"))
    print(f"peak resident memory, {w}x{h}; floor (torch and the weights loaded): {floor:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.frames:
            peak = peak_mb(n, write_pan(Path(tmp) / f"pan{n}.mp4", n, w, h))
            print(f"  {n:5d} frames: {peak:6.0f} MB peak ({peak - floor:.0f} MB above the floor); "
                  f"{'within' if peak <= 1024 else 'over'} 1 GB")


if __name__ == "__main__":
    main()
