"""Colorize videos with colour that stays put, and measure how well it stays (needs `colorbench[video]`).

  colorbench colorize film.mp4 -o out/                 out/film.mp4: same frames, timing, sound
  colorbench evaluate-video clip.mp4 ... --out runs/v   scores against the clips' own colour, and a page

Frames are streamed (decode, colorize, encode, one at a time), so memory does not grow with the length.
Each frame is colorized as a photo is (`colorize.predict_ab` at the network's small size, chroma
upsampled, L kept); then the `Stabilizer` carries the previous frame's colour along the optical flow
(OpenCV's DIS on L at a reduced size) and blends it with the new prediction where the motion is
reliable (the flow agrees forwards and backwards, and the pixel looks like where it came from). A frame
whose motion explains too little of it starts a new shot: its colour is the per-frame prediction, so no
colour crosses a cut. A frame that equals the last one (frozen frames) repeats the last output exactly.
The encoder is given the input's own luma plane (Y') byte for byte beside the new chroma: a round trip
through RGB and 4:2:0 chroma would move a frame's lightness by about a level even with no colour added.

The warping error (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018) scores stability:
the mean squared ab difference between each output frame and the previous output frame warped to it by
the flow of the TRUE video, over the pixels the forward-backward check marks as not occluded. Pairs of
frames across a cut of the true video (fewer than half the pixels within `TRUE_CUT_LEVELS` of where its
flow says they came from) are left out: there, any two colorizations differ by whole shots.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .color import AB_SCALE, L_SCALE, uint8_to_lab
from .colorize import (_fit_lab, _net_hw, _strip_lightness, load_colorizer, mirrored, recommended_size, shrink,
                       to_uint8)
from .data import VIDEO_SUFFIXES, DataError
from .hardware import autocast, resolve_device, resolve_precision
from .models import network_input
from .persist import atomic_write, write_json, write_text

FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
HINT = "videos need PyAV and OpenCV (pip install 'colorbench[video]')"
CRF = 10  # x264/VP9 quality: the re-encoded luma stays within a level of the input's on average (16: 1.5)


def require_video():
    """PyAV, after checking that it and OpenCV can be imported: one line saying what to install if not."""
    try:
        import av
        import cv2  # noqa: F401  (the optical flow)
    except ImportError:
        raise DataError(HINT) from None
    return av


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


# ---------------------------------------------------------------------------------------------
# optical flow and warping (numpy, OpenCV), shared by the stabilizer and the warping error


def _dis(preset: str):
    import cv2

    return cv2.DISOpticalFlow_create({"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                                      "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset])


def warp(x: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """x (h, w[, c]) float32 sampled at p + flow(p) (bilinear, edges repeated): the previous frame brought
    to the current one when `flow` maps current pixels to where they were."""
    import cv2

    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(x, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_back(dis, cur: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 gray frames (h, w) -> (flow (h, w, 2) from each current pixel to where it was in `prev`, mask
    (h, w) of pixels the forward-backward check keeps (Sundaram et al. 2010, as Lai et al. 2018 use it):
    going back and then forward again must return near the start."""
    back = dis.calc(cur, prev, None)
    fwd = dis.calc(prev, cur, None)
    fwd_there = warp(fwd, back)  # the forward flow at where each pixel came from
    err = ((back + fwd_there) ** 2).sum(-1)
    return back, err < 0.01 * ((back**2).sum(-1) + (fwd_there**2).sum(-1)) + 0.5


def warping_error(ab: np.ndarray, ab_prev: np.ndarray, back: np.ndarray, ok: np.ndarray) -> float:
    """ab and the previous frame's ab (H, W, 2), the flow back (H, W, 2) and the pixels to count (H, W) ->
    mean over those pixels of |ab - ab_prev warped|^2 (a and b squared differences summed; Lai et al. 2018)."""
    return float(((ab - warp(ab_prev, back)) ** 2).sum(-1)[ok].mean()) if ok.any() else 0.0


def gray8(L: torch.Tensor) -> np.ndarray:
    """L (1, 1, h, w) in LAB units -> uint8 (h, w) for the flow."""
    return (L[0, 0] * (255 / L_SCALE)).round().clamp(0, 255).to(torch.uint8).numpy()


# ---------------------------------------------------------------------------------------------
# temporal stability


@dataclass(frozen=True)
class Stability:
    """How colour is carried from frame to frame (the defaults were chosen on the clips in
    ../shared/data/videos; see the README's video section)."""

    carry: float = 0.8        # share of the carried colour where the motion is reliable (0: per frame)
    size: int = 128           # short side, in pixels, at which the flow is computed and colour carried
    keep_chroma: bool = True  # blend hue, and chroma magnitude separately: averaging never grays colour
    colour_gain: float = 0.1  # each carried frame, its chroma times a gain that follows (this much a frame) the
    #                           per-frame / stable ratio of mean chroma: every warp resamples, so carried colour fades
    #                           (0: no gain; a gain set anew each frame flickers: webcam-wave 0.66x warping error)
    photo_tol: float = 8.0    # L units: a carried pixel must look like where it came from (after the mean shift)
    check_fb: bool = False    # also ask the flow to agree forwards and backwards: it fails on plain sky and
    #                           water, where carrying is safe (warping error on bikes 0.59x with it, 0.26x without)
    cut: float = 0.6          # fewer pixels than this share looking like where they came from: a new shot
    frozen: float = 3.0       # 8-bit levels: a frame whose pixels (99.9%) all moved less repeats the last output


@dataclass
class Step:
    """One frame's colour: L and both ab (1, *, H, W) in LAB units, and what the stabilizer did."""

    L: torch.Tensor
    ab_frame: torch.Tensor  # per-frame prediction
    ab: torch.Tensor        # stable
    event: str              # "first", "cut", "frozen" or "carried"
    reliable: float         # share of pixels whose colour was carried


class Stabilizer:
    """Carries colour along the motion, frame after frame; holds only the last frame's small state."""

    def __init__(self, cfg: Stability = Stability()):
        self.cfg, self.prev, self.dis, self.gain = cfg, None, _dis("ultrafast"), 1.0

    def step(self, L_small: torch.Tensor, ab_small: torch.Tensor, frozen: bool = False
             ) -> tuple[torch.Tensor, str, float]:
        """L (1, 1, h, w), per-frame ab (1, 2, h, w) at the working size -> (stable ab at that size, event,
        share of pixels carried). `frozen`: the frame is the last one again (see `is_frozen`)."""
        cfg, g = self.cfg, gray8(L_small)
        if self.prev is None:
            event, out, share = "first", ab_small, 0.0
        elif frozen:
            return self.prev[1], "frozen", 1.0
        else:
            back, ok = flow_back(self.dis, g, self.prev[0].astype(np.uint8))
            was = warp(self.prev[0].astype(np.float32), back)
            diff = g.astype(np.float32) - was
            alike = np.abs(diff - diff.mean()) < cfg.photo_tol * 255 / L_SCALE  # a fade shifts every pixel alike
            # the flow's own check fails on plain sky and water, where any flow looks right: cuts by looks alone
            ok = alike & ok if cfg.check_fb else alike
            share = float(ok.mean())
            if alike.mean() < cfg.cut:  # a new shot: its own colour, and a gain that owes nothing to the last one
                event, out, self.gain = "cut", ab_small, 1.0
            else:
                carried = torch.from_numpy(warp(self.prev[1][0].permute(1, 2, 0).numpy(), back)).permute(2, 0, 1)[None]
                w = torch.from_numpy(ok.astype(np.float32) * cfg.carry)[None, None]
                out = w * carried + (1 - w) * ab_small
                if cfg.keep_chroma:  # the blend's hue, with the blend of the chroma magnitudes
                    mag = w * carried.norm(dim=1, keepdim=True) + (1 - w) * ab_small.norm(dim=1, keepdim=True)
                    out = out * (mag / out.norm(dim=1, keepdim=True).clamp(min=1e-6))
                if cfg.colour_gain:
                    ratio = (ab_small.norm(dim=1).mean() / out.norm(dim=1).mean().clamp(min=1e-6)).item()
                    self.gain += cfg.colour_gain * (ratio - self.gain)
                    out = out * self.gain
                event = "carried"
        self.prev = (g.astype(np.int16), out)
        return out, event, share


def is_frozen(g: np.ndarray, prev: np.ndarray | None, levels: float) -> bool:
    """uint8 gray frames (H, W) at full size: is `g` the picture `prev` again, up to codec noise (99.9% of
    pixels within `levels`)? A nearly still shot still moves somewhere, by more than that."""
    return prev is not None and float(np.percentile(np.abs(g.astype(np.int16) - prev), 99.9)) <= levels


def _small(x: torch.Tensor, hw: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode=mode, **({} if mode == "area" else {"align_corners": False}))


@torch.no_grad()
def colour_frames(frames: Iterator[np.ndarray], model: torch.nn.Module, size: int, precision: str = "fp32",
                  stability: Stability | None = Stability()) -> Iterator[Step]:
    """uint8 RGB frames (H, W, 3) -> one `Step` per frame. The network sees each frame as `predict_ab`
    would (`shrink` to short side `size`); the stable ab is the per-frame ab plus the upsampled
    correction the stabilizer made at its working size, so a reset frame is exactly the per-frame one."""
    p = next(model.parameters())
    stab = Stabilizer(stability) if stability is not None else None
    last = None  # the last frame's full-size gray, for the frozen-frame check
    for rgb in frames:
        L = lightness(rgb)
        H, W = L.shape[-2:]
        h, w = _net_hw(H, W, size)
        with autocast(p.device, precision):
            x = network_input(shrink(L / L_SCALE, (h, w)).to(p.device, p.dtype), model.in_channels)
            ab_net = mirrored(model, x).float().cpu() * AB_SCALE
        ab_frame = _small(ab_net, (H, W), "bilinear")
        if stab is None:
            yield Step(L, ab_frame, ab_frame, "per-frame", 0.0)
            continue
        hw = _net_hw(H, W, stab.cfg.size)
        pred = _small(ab_net, hw, "bilinear")
        cur = gray8(L)
        stable, event, share = stab.step(_small(L, hw, "area"), pred, is_frozen(cur, last, stab.cfg.frozen))
        last = cur
        ab = ab_frame if event in ("first", "cut") else ab_frame + _small(stable - pred, (H, W), "bilinear")
        yield Step(L, ab_frame, ab, event, share)


STRIP_PIXELS = 1 << 18  # full-size colour work is done in strips of rows this big: a 1080p frame's
#                         float LAB and its conversions, whole, would cost hundreds of MB at once


def _rows(H: int, W: int) -> range:
    return range(0, H, max(1, STRIP_PIXELS // W))


def lightness(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> L (1, 1, H, W) in LAB units, strip by strip."""
    rows = _rows(*rgb.shape[:2])
    return torch.cat([_strip_lightness(rgb[r:r + rows.step]) for r in rows], dim=2)


def to_rgb8(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """L (1, 1, H, W), ab (1, 2, H, W) -> uint8 (H, W, 3), chroma fitted to the gamut so L is kept;
    strip by strip."""
    H, W = L.shape[-2:]
    out = np.empty((H, W, 3), np.uint8)
    for r in (rows := _rows(H, W)):
        out[r:r + rows.step] = to_uint8(_fit_lab(torch.cat([L[..., r:r + rows.step, :], ab[..., r:r + rows.step, :]], 1),
                                                 8).clamp(0, 1))
    return out


# ---------------------------------------------------------------------------------------------
# reading and writing


@dataclass
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float
    audio: int           # audio streams copied
    cuts: list[int]      # frames that started a new shot
    frozen: list[int]    # frames that repeated the last output
    seconds: float


def open_video(src: Path):
    """(container, its first video stream), or one line saying why not."""
    av = require_video()
    if not src.is_file():
        raise DataError(f"{src}: no such video file")
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise DataError(f"{src}: not a video PyAV can read, or truncated ({_why(e)}); check the file") from None
    if not inp.streams.video:
        inp.close()
        raise DataError(f"{src}: has no video stream (audio or data only); nothing to colorize")
    vin = inp.streams.video[0]
    if not vin.codec_context.width or not vin.codec_context.height:
        inp.close()
        raise DataError(f"{src}: its video stream has no frame size (corrupt header?); check the file")
    vin.thread_type = "AUTO"
    return inp, vin


def _why(e: Exception) -> str:
    return (getattr(e, "strerror", None) or str(e)).rstrip(".").split(";")[0]


def _reading(src: Path, items, count: Callable[[], int]) -> Iterator:
    """Iterate `items` (an iterable, or a function returning one), turning FFmpeg's errors into one line
    that says how far it got."""
    av = require_video()
    try:
        yield from (items() if callable(items) else items)
    except av.FFmpegError as e:
        raise DataError(f"{src}: truncated or corrupt: reading failed after {count()} frames ({_why(e)}); "
                        "nothing written") from None


def decode_rgb(src: Path, inp, vin) -> Iterator:
    """The video frames of `vin`, decoded: (av frame, uint8 RGB (H, W, 3)). A decoding error is one line."""
    n = 0
    for frame in _reading(src, lambda: inp.decode(vin), lambda: n):
        n += 1
        yield frame, frame.to_ndarray(format="rgb24")
    _check_count(src, vin, n)


def _check_count(src: Path, vin, n: int) -> None:
    if n == 0:
        raise DataError(f"{src}: its video stream has no frames that decode (empty or truncated); nothing to colorize")
    if vin.frames and n < vin.frames:
        raise DataError(f"{src}: truncated or corrupt: {n} of the {vin.frames} frames its header lists decode; "
                        "nothing written (re-copy the file, or remux it with ffmpeg)")


def _encoder(fmt: str, w: int, h: int) -> tuple[str, str, dict]:
    """(codec, pixel format, options) the output container can hold. 4:2:0 halves both sides: odd sizes
    keep full chroma (4:4:4) instead of losing a row or column."""
    pix = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
    # zerolatency (x264) and lag 0 (VP9): no B-frames, no lookahead, so each packet comes out as its frame
    # goes in and `_Played` can decode it before the next frame (a frozen frame needs the last as played)
    if fmt == "webm":
        return "libvpx-vp9", pix, {"crf": str(CRF), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                                   "lag-in-frames": "0"}
    return "libx264", pix, {"crf": str(CRF), "preset": "veryfast", "tune": "zerolatency"}


class _Played:
    """The output as a player will see it: each packet the encoder writes, decoded. A frozen frame is given
    to the encoder as the last frame *decoded*, so the encoder finds nothing to correct and it plays back
    identical (given the planes it was given last, H.264 at CRF 10 touches a still picture up by a few levels).
    VP9 (.webm) still filters the first repeat once: the repeats after it are identical."""

    DECODERS = {"libx264": "h264", "libvpx-vp9": "vp9"}

    def __init__(self, stream, pix: str):
        self.stream, self.pix, self.ctx, self.count, self.last = stream, pix, None, 0, None

    def add(self, packet) -> None:
        if self.ctx is None:
            self.ctx = require_video().CodecContext.create(self.DECODERS[self.stream.codec_context.name], "r")
            self.ctx.extradata = self.stream.codec_context.extradata  # mp4's avcC: the parameter sets
            self.ctx.thread_count = 1  # frame threads would hold frames back
        for f in self.ctx.decode(packet):
            self.count += 1
            self.last = _planes(f, self.pix)

    def frame(self, i: int) -> np.ndarray | None:
        """Frame i's planes as played back, if the decoder has given it (None: the encoder holds frames back)."""
        return self.last if self.count == i + 1 else None


def _planes(frame, pix: str) -> np.ndarray:
    """A frame as the encoder's planar Y'UV array: (H * 3 / 2, W) for yuv420p, (3, H, W) for yuv444p."""
    return frame.reformat(format=pix).to_ndarray()


def _luma(planes: np.ndarray) -> np.ndarray:
    """The Y' plane (H, W) of `_planes`' array, as a view."""
    return planes[0] if planes.ndim == 3 else planes[: planes.shape[0] * 2 // 3]


def _mux(out, packets) -> None:
    """One place where encoded bytes reach the disk (the tests make it fail like a full disk)."""
    out.mux(packets)


def colorize_video(src: str | os.PathLike, dst: str | os.PathLike, weights=None, size: int | None = None,
                   stability: Stability | None = Stability(), device: str = "cpu", precision: str = "fp32",
                   overwrite: bool = False, progress: bool = True, temperature: float | None = None) -> VideoInfo:
    """Colorize the video `src` into `dst` (the container named by its suffix: .mp4, .mov, .mkv, .webm,
    .avi): the same frame size, count and timestamps (variable frame rates kept), pixel aspect and
    rotation; audio streams copied unchanged; each frame's luma (its gray picture) passed to the encoder
    unchanged, only the chroma new. `stability=None`: each frame on its own. temperature: as `colorize`'s.
    Written to a temporary name and renamed when complete: an interrupted run leaves no `dst`.

    >>> import colorbench
    >>> colorbench.colorize_video("film.mp4", "film-colour.mp4")  # doctest: +SKIP
    """
    import time

    from tqdm import tqdm

    src, dst = Path(src), Path(dst)
    fmt = FORMATS.get(dst.suffix.lower())
    if fmt is None:
        raise DataError(f"{dst}: cannot write a {dst.suffix or 'suffix-less'} video; name a "
                        f"{', '.join(sorted(VIDEO_SUFFIXES))} file")
    if dst.exists() and dst.resolve() == src.resolve():
        raise DataError(f"{dst} is the input video itself, and an input is never replaced: choose another output")
    if dst.exists() and not overwrite:
        raise DataError(f"{dst} exists; pass --overwrite to replace it")
    model, meta = load_colorizer(weights, device, temperature=temperature)
    size = size or recommended_size(meta)
    precision = resolve_precision(precision, resolve_device(device))
    av = require_video()
    inp, vin = open_video(src)
    start = time.perf_counter()
    with inp, one_torch_thread():
        audio = [s for s in inp.streams.audio]
        cc = vin.codec_context
        info = VideoInfo(0, cc.width, cc.height, float(vin.average_rate or vin.guessed_rate or 0), len(audio), [], [], 0)

        def write(tmp: Path) -> None:
            out = av.open(str(tmp), "w", format=fmt)
            try:
                _transcode(src, inp, vin, audio, out, fmt, model, size, precision, stability, info,
                           tqdm(total=vin.frames or None, desc=src.name, unit="frame", disable=not progress,
                                leave=False))
            finally:
                out.close()

        try:
            atomic_write(dst, write)  # a full disk: one WriteError line, and nothing under dst
        except av.FFmpegError as e:
            raise DataError(f"{src}: could not be colorized ({_why(e)}); nothing written under {dst}") from None
    info.seconds = time.perf_counter() - start
    return info


def _transcode(src, inp, vin, audio, out, fmt, model, size, precision, stability, info, bar) -> None:
    av = require_video()
    cc = vin.codec_context
    codec, pix, options = _encoder(fmt, cc.width, cc.height)
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    vout = out.add_stream(codec, rate=rate, options=options)
    vout.width, vout.height, vout.pix_fmt = cc.width, cc.height, pix
    vout.time_base = vin.time_base
    vout.codec_context.time_base = vin.time_base  # timestamps pass through as they are: variable rates kept
    if cc.sample_aspect_ratio:
        vout.codec_context.sample_aspect_ratio = cc.sample_aspect_ratio
    aout = {a.index: out.add_stream_from_template(a) for a in audio}
    for key, value in inp.metadata.items():  # the film's date, title, place; not what the old muxer wrote of itself
        if key not in ("encoder", "major_brand", "minor_version", "compatible_brands"):
            out.metadata[key] = value

    packets = inp.demux(vin, *audio)
    pending = []  # audio packets read before the first frame: muxed once the header (with rotation) is written

    def frames():
        n = 0
        for packet in _reading(src, packets, lambda: n):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    packet.stream = aout[packet.stream.index]
                    if n == 0:
                        pending.append(packet)
                    else:
                        _mux(out, packet)
                continue
            for frame in _reading(src, packet.decode, lambda: n):
                if n == 0 and frame.rotation:
                    vout.set_display_rotation(frame.rotation)
                n += 1
                meta.append((frame.pts, _planes(frame, pix)))
                yield frame.to_ndarray(format="rgb24")
        _check_count(src, vin, n)

    meta: list = []  # (pts, Y'UV planes) of frames decoded and not yet colorized: one at most
    last, played = None, _Played(vout, pix)

    def encode(frame) -> None:
        for p in vout.encode(frame):
            played.add(p)
            _mux(out, p)

    for i, step in enumerate(colour_frames(frames(), model, size, precision, stability)):
        pts, planes = meta.pop(0)
        if step.event == "frozen" and last is not None:
            shown = played.frame(i - 1)
            planes = last if shown is None else shown  # the same picture, exactly
            info.frozen.append(i)
        else:
            colour = _planes(av.VideoFrame.from_ndarray(to_rgb8(step.L, step.ab), format="rgb24"), pix)
            _luma(colour)[...] = _luma(planes)  # the input's own luma, byte for byte: only the chroma is new
            planes = colour
            if step.event == "cut":
                info.cuts.append(i)
        last = planes
        frame = av.VideoFrame.from_ndarray(planes, format=pix)
        frame.pts = pts if pts is not None else round(i / rate / vin.time_base)
        frame.time_base = vin.time_base
        encode(frame)
        if i == 0:
            for p in pending:
                _mux(out, p)
            pending.clear()
        info.frames += 1
        bar.update()
    encode(None)
    bar.close()


# ---------------------------------------------------------------------------------------------
# measured: colour clips colorized from their lightness, scored against their own colour

METHODS = ("gray", "per-frame", "stable")
TRUE_CUT_LEVELS = 25  # gray levels: a pixel this far from where the true flow says it came from is new
STRIP = 6  # frames shown per clip on the page


def _lab(rgb8: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> LAB (1, 3, H, W) in LAB units."""
    lab = uint8_to_lab(torch.from_numpy(np.ascontiguousarray(rgb8.transpose(2, 0, 1)))[None])
    return torch.cat([lab[:, :1] * L_SCALE, lab[:, 1:] * AB_SCALE], 1)


def _thumb(rgb8: np.ndarray, side: int = 200) -> str:
    from PIL import Image

    img = Image.fromarray(rgb8)
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def evaluate_clip(src: str | os.PathLike, model: torch.nn.Module, size: int, precision: str = "fp32",
                  stability: Stability = Stability(), progress: bool = True) -> dict:
    """One colour clip: per-frame figures of gray, per-frame and stable colorization against the truth,
    the warping error of each (and of the truth itself) under the true video's flow, the stabilizer's
    events, and a strip of frames."""
    from tqdm import tqdm

    from .evaluate import PSNR_CAP, colorfulness, picture_metrics

    src = Path(src)
    inp, vin = open_video(src)
    dis = _dis("medium")
    names = ("truth", *METHODS)
    per = {m: {"psnr": [], "ssim": [], "ciede2000": [], "colorfulness": [], "warp": [], "ab_change": []} for m in names}
    events, vs_frame, strip, true_cuts = [], [], [], []
    every = max(1, (vin.frames or 100) // STRIP)
    truth_frames: list[np.ndarray] = []

    def frames():
        for _, rgb in decode_rgb(src, inp, vin):
            truth_frames.append(rgb)
            yield rgb

    prev: dict = {}
    with inp:
        bar = tqdm(colour_frames(frames(), model, size, precision, stability), total=vin.frames or None,
                   desc=src.name, unit="frame", disable=not progress, leave=False)
        for i, step in enumerate(bar):
            truth = truth_frames.pop(0)
            outs = {"truth": truth, "gray": to_rgb8(step.L, torch.zeros_like(step.ab)),
                    "per-frame": to_rgb8(step.L, step.ab_frame),
                    "stable": prev["out"]["stable"] if step.event == "frozen" else to_rgb8(step.L, step.ab)}
            labs = {m: _lab(o) for m, o in outs.items()}
            t = torch.from_numpy(truth).permute(2, 0, 1)[None].double()
            for m in names:
                o = torch.from_numpy(outs[m]).permute(2, 0, 1)[None].double()
                # the truth against itself needs no computing
                scores = ({"psnr": PSNR_CAP, "ssim": 1.0, "ciede2000": 0.0, "colorfulness": colorfulness(o).item()}
                          if m == "truth" else {k: v.item() for k, v in picture_metrics(o, t, labs[m], labs["truth"]).items()})
                scores["psnr"] = min(scores["psnr"], PSNR_CAP)
                for k, v in scores.items():
                    per[m][k].append(v)
            gray = gray8(labs["truth"][:, :1])
            if prev:
                back, ok = flow_back(dis, gray, prev["gray"])
                # a pair across a cut of the true video says nothing about flicker: left out (nan)
                same = np.abs(gray.astype(np.float32) - warp(prev["gray"].astype(np.float32), back)) < TRUE_CUT_LEVELS
                if same.mean() < 0.5:
                    true_cuts.append(i)
                for m in names:
                    ab, ab0 = (x[0, 1:].permute(1, 2, 0).numpy() for x in (labs[m], prev["lab"][m]))
                    per[m]["warp"].append(float("nan") if true_cuts[-1:] == [i] else warping_error(ab, ab0, back, ok))
                    per[m]["ab_change"].append(float(np.abs(ab - ab0).mean()))
            events.append(step.event)
            vs_frame.append(float((step.ab - step.ab_frame).norm(dim=1).mean()))
            if i % every == 0 and len(strip) < STRIP:
                strip.append((i, [_thumb(outs[m]) for m in ("gray", "per-frame", "stable", "truth")]))
            prev = {"gray": gray, "lab": labs, "out": outs}
    n = len(events)
    summary = {m: {k: float(np.nanmean(v)) if v else float("nan") for k, v in per[m].items()} for m in names}
    return {"clip": src.name, "frames": n, "size": [vin.codec_context.width, vin.codec_context.height],
            "summary": summary, "per_frame": per, "events": events, "stable_vs_per_frame_ab": vs_frame,
            "cuts": [i for i, e in enumerate(events) if e == "cut"], "true_cuts": true_cuts,
            "frozen": [i for i, e in enumerate(events) if e == "frozen"], "strip": strip}


def evaluate_video(clips: list[str], out: str | os.PathLike, weights=None, size: int | None = None,
                   stability: Stability = Stability(), precision: str = "fp32", progress: bool = True) -> dict:
    """`colorbench evaluate-video`: each clip colorized from its lightness, per frame and stable, scored
    against its own colour (see `evaluate_clip`); results.json and page.html in `out`. Overall figures
    are means over clips (each clip counts once, whatever its length)."""
    import time

    require_video()
    model, meta = load_colorizer(weights)
    size = size or recommended_size(meta)
    precision = resolve_precision(precision, resolve_device("cpu"))
    t0 = time.perf_counter()
    with one_torch_thread():
        results = [evaluate_clip(c, model, size, precision, stability, progress) for c in clips]
    overall = {m: {k: float(np.mean([r["summary"][m][k] for r in results]))
                   for k in ("psnr", "ssim", "ciede2000", "colorfulness", "warp")} for m in ("truth", *METHODS)}
    result = {"weights": meta["path"], "size": size, "stability": asdict(stability), "clips": results,
              "overall": overall, "ratios": ratios(overall), "seconds": time.perf_counter() - t0}
    out = Path(out)
    saved = {**result, "clips": [{k: v for k, v in r.items() if k != "strip"} for r in results]}
    write_json(out / "results.json", saved)
    write_text(out / "page.html", _page(result))
    return result


def ratios(s: dict) -> dict:
    """The issue's targets, stable against per-frame with the same weights."""
    f, st = s["per-frame"], s["stable"]
    return {"warp": st["warp"] / f["warp"] if f["warp"] else float("nan"),
            "colorfulness": st["colorfulness"] / f["colorfulness"] if f["colorfulness"] else float("nan"),
            "psnr_delta": st["psnr"] - f["psnr"]}


class one_torch_thread:
    """Torch on one thread while video runs: the decoder and encoder keep the other cores busy, and a
    frame's small tensors gain nothing from a second torch thread (on a loaded machine they lose 20x
    waiting for it)."""

    def __enter__(self):
        self.n = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.n)


COLOURS = {"truth": "#222", "per-frame": "#d62728", "stable": "#1f77b4"}


def _plot(r: dict, w: int = 720, h: int = 160) -> str:
    """Inline SVG: mean |ab change| from the previous frame, per frame, for truth, per-frame and stable;
    cuts the stabilizer found as gray lines."""
    series = {m: r["per_frame"][m]["ab_change"] for m in COLOURS}
    top = max([max(v) for v in series.values() if v] + [1e-6])
    n = max(2, r["frames"])
    x = lambda i: 40 + (w - 50) * i / (n - 1)
    y = lambda v: h - 20 - (h - 30) * v / top
    lines = "".join(f'<line x1="{x(c):.1f}" x2="{x(c):.1f}" y1="10" y2="{h - 20}" stroke="#bbb"/>' for c in r["cuts"])
    for m, v in series.items():
        pts = " ".join(f"{x(i + 1):.1f},{y(a):.1f}" for i, a in enumerate(v))
        lines += f'<polyline fill="none" stroke="{COLOURS[m]}" stroke-width="1.3" points="{pts}"/>'
    legend = "".join(f'<text x="{60 + 110 * k}" y="14" fill="{c}" font-size="12">{m}</text>'
                     for k, (m, c) in enumerate(COLOURS.items()))
    return (f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-label="ab change per frame">{lines}{legend}'
            f'<line x1="40" x2="40" y1="10" y2="{h - 20}" stroke="#888"/>'
            f'<line x1="40" x2="{w - 10}" y1="{h - 20}" y2="{h - 20}" stroke="#888"/>'
            f'<text x="2" y="{y(top) + 4:.0f}" font-size="11">{top:.1f}</text><text x="30" y="{h - 6}" '
            f'font-size="11">0</text><text x="{w - 60}" y="{h - 6}" font-size="11">frame {n - 1}</text></svg>')


def _page(result: dict) -> str:
    def row(name: str, s: dict, ratio: dict | None = None) -> str:
        cells = "".join(f"<td>{s[m]['psnr']:.2f}</td><td>{s[m]['ciede2000']:.2f}</td>"
                        f"<td>{s[m]['colorfulness']:.1f}</td><td>{s[m]['warp']:.2f}</td>" for m in ("truth", *METHODS)
                        if m != "truth") + f"<td>{s['truth']['colorfulness']:.1f}</td><td>{s['truth']['warp']:.2f}</td>"
        r = ratio or ratios(s)
        return (f"<tr><th>{html.escape(name)}</th>{cells}<td>{r['warp']:.2f}x</td><td>{r['colorfulness']:.2f}x</td>"
                f"<td>{r['psnr_delta']:+.2f}</td></tr>")

    head = ("<tr><th rowspan=2>clip</th>" + "".join(f"<th colspan=4>{m}</th>" for m in METHODS)
            + "<th colspan=2>truth</th><th colspan=3>stable vs per-frame</th></tr><tr>"
            + "<th>PSNR dB</th><th>CIEDE2000</th><th>colourful.</th><th>warp err.</th>" * 3
            + "<th>colourful.</th><th>warp err.</th><th>warp err.</th><th>colourful.</th><th>PSNR</th></tr>")
    rows = "".join(row(r["clip"], r["summary"]) for r in result["clips"]) + row("overall (mean of clips)",
                                                                                  result["overall"], result["ratios"])
    clips = []
    for r in result["clips"]:
        strip = "".join(f"<tr><th>frame {i}</th>" + "".join(f'<td><img src="{p}" alt="frame {i}: {m}"></td>'
                                                            for p, m in zip(pics, ("gray", "per-frame", "stable", "truth")))
                        + "</tr>" for i, pics in r["strip"])
        clips.append(f"<h2>{html.escape(r['clip'])}</h2><p>{r['frames']} frames, {r['size'][0]}x{r['size'][1]}; "
                     f"new shots found at {r['cuts'] or 'none'}; {len(r['frozen'])} frozen frames repeated.</p>"
                     f"<p>Mean |ab change| from the previous frame (LAB units; gray lines: cuts found)</p>{_plot(r)}"
                     f"<table><tr><th></th><th>gray input</th><th>per-frame</th><th>stable</th><th>truth</th></tr>"
                     f"{strip}</table>")
    css = ("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
           "td,th{padding:3px 6px;text-align:center}.sum{font-size:.8em}.sum td,.sum th{border:1px solid #ccc}img{display:block;"
           "max-width:200px}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>colorbench video evaluation'
            f"</title><style>{css}</style></head><body><h1>Video colorization, measured</h1>"
            f"<p>Weights {html.escape(Path(result['weights']).name)} at size {result['size']}. Each clip colorized "
            f"from its own lightness, every frame on its own (per-frame) and with colour carried along the motion "
            f"(stable). Warping error (Lai et al. 2018): mean squared ab difference between each frame and the "
            f"previous one warped to it by the true video's flow, on pixels not occluded (pairs across the true video's cuts "
            f"left out); lower is steadier, but a "
            f"gray output scores 0, so it counts only at equal colourfulness.</p>"
            f'<table class="sum">{head}{rows}</table>{"".join(clips)}</body></html>\n')
