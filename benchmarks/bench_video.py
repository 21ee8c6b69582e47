"""Colorizing a 640x360 video, decoding and encoding included: stable colour vs every frame on its own.

Both are `colorbench.colorize_video` end to end (decode, network, chroma, flow and blending for the
stable one, encode, sound copied), measured in the same run on the same clip; the first run of each
is a warm-up. The issue's target: at least 10 frames/s for 640x360 on 2 cores.

    python benchmarks/bench_video.py [--clip ../shared/data/videos/airplane-field.mp4] [--frames 120]

Without the shared clip, a 640x360 pan over a synthetic picture is written first.
"""

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from colorbench.video import Stability, colorize_video

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "airplane-field.mp4"


def cut_clip(src: Path | None, dst: Path, frames: int) -> Path:
    """The first `frames` frames of `src` at 640x360 (or a synthetic pan), as an H.264 file."""
    import av

    with av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"crf": "18"})
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        if src is not None:
            with av.open(str(src)) as inp:
                for i, f in enumerate(inp.decode(video=0)):
                    if i == frames:
                        break
                    g = f.reformat(width=640, height=360, format="yuv420p")
                    g.pts, g.time_base = i, Fraction(1, 25)
                    out.mux(s.encode(g))
        else:
            y, x = np.mgrid[0:360, 0:640 + 4 * frames]
            big = np.stack([128 + 100 * np.sin(x / 37), 128 + 100 * np.cos(y / 23), 128 + 80 * np.sin((x + y) / 51)], -1)
            for i in range(frames):
                f = av.VideoFrame.from_ndarray(big[:, 4 * i:4 * i + 640].astype(np.uint8), format="rgb24")
                f.pts, f.time_base = i, Fraction(1, 25)
                out.mux(s.encode(f))
        out.mux(s.encode())
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=str(CLIP) if CLIP.exists() else None)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--weights", default=None, help="default: the shipped weights")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = cut_clip(Path(args.clip) if args.clip else None, Path(tmp) / "clip.mp4", args.frames)
        fps, cpu = {}, {}
        for name, stability in [("per-frame", None), ("stable", Stability())] * 2:  # first pass of each: warm-up
            t, c = time.perf_counter(), time.process_time()
            info = colorize_video(clip, Path(tmp) / f"{name}.mp4", args.weights, stability=stability, overwrite=True,
                                  progress=False)
            fps[name] = info.frames / (time.perf_counter() - t)
            cpu[name] = (time.process_time() - c) / info.frames  # all threads: on a shared machine, what it costs
    print(f"640x360, {info.frames} frames of {Path(args.clip).name if args.clip else 'a synthetic pan'}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    for name, v in fps.items():
        print(f"  {name:<10}{v:7.1f} frames/s   {'meets' if v >= 10 else 'misses'} the 10 frames/s target; "
              f"{cpu[name] * 1000:.0f} ms of CPU per frame")
    print(f"  stable / per-frame: {fps['stable'] / fps['per-frame']:.2f}x the speed")


if __name__ == "__main__":
    main()
