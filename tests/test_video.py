"""Videos: tiny synthetic clips written here with PyAV (a few frames at 64x48), so no data is needed."""

import errno
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from colorbench import video  # noqa: E402
from colorbench.cli import main  # noqa: E402
from colorbench.color import uint8_to_lab  # noqa: E402
from colorbench.colorize import colorize_array, load_colorizer  # noqa: E402
from colorbench.data import DataError  # noqa: E402
from colorbench.video import Stability, Stabilizer, colorize_video, flow_back, warp  # noqa: E402
from conftest import SHARED  # noqa: E402
from helpers import photo  # noqa: E402

TIMES_MS = [0, 40, 70, 130, 160, 200, 260, 300]  # irregular: a variable frame rate


def scene(h: int = 48, w: int = 64) -> np.ndarray:
    """A wide picture to pan over: colour gradients, texture for the flow to hold on to, a little noise."""
    y, x = np.mgrid[0:h, 0:w + 40].astype(np.float32)
    noise = np.random.default_rng(1).integers(0, 8, (h, w + 40, 3))
    big = np.stack([x / (w + 40) * 160 + 60 * np.sin(x / 5), y / h * 180, 200 - x + 40 * np.cos(y / 4)], -1)
    return (big + 30 + noise).clip(0, 255).astype(np.uint8)


def write_clip(path, frames, times_ms=None, audio=False, sar=None, rotation=0, pix="yuv420p", codec="libx264",
               faststart=False, metadata=None):
    """uint8 (H, W, 3) frames at `times_ms` (default 25 fps), optionally with a second of AAC sound;
    `faststart`: the MP4 index (moov) before the frames, as streaming sites write it."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        out.metadata.update(metadata or {})
        s = out.add_stream(codec, rate=25, options={"crf": "1"} if codec == "libx264" else {})
        s.width, s.height, s.pix_fmt = w, h, pix
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        if sar:
            s.codec_context.sample_aspect_ratio = sar
        if rotation:
            s.set_display_rotation(rotation)
        a = out.add_stream("aac", rate=8000) if audio else None
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = (times_ms or [40 * k for k in range(len(frames))])[i], Fraction(1, 1000)
            out.mux(s.encode(f))
        out.mux(s.encode())
        if a is not None:
            t = np.arange(8000) / 8000
            snd = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32),
                                             format="fltp", layout="mono")
            snd.sample_rate, snd.pts = 8000, 0
            out.mux(a.encode(snd))
            out.mux(a.encode())
    return path


def pan(n: int = 8, h: int = 48, w: int = 64) -> list[np.ndarray]:
    big = scene(h, w)
    return [np.ascontiguousarray(big[:, 3 * i:3 * i + w]) for i in range(n)]


def read(path):
    """(RGB frames, frame times, SAR, rotation, audio packet bytes) of a video."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames, times, rot = [], [], None
        for f in c.decode(v):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(round(f.time * 1000))
            rot = f.rotation if rot is None else rot
        sar = v.codec_context.sample_aspect_ratio
    with av.open(str(path)) as c:
        sound = [bytes(p) for p in c.demux(c.streams.audio) if p.size] if c.streams.audio else []
    return frames, times, sar, rot, sound


def L_of(frames) -> torch.Tensor:
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
    return uint8_to_lab(x)[:, :1] * 100


def test_a_video_keeps_frames_timing_aspect_rotation_sound_and_lightness(tmp_path):
    import colorbench

    filmed = {"creation_time": "1999-05-01T10:00:00.000000Z", "title": "Picnic at the lake"}
    src = write_clip(tmp_path / "film.mp4", pan(), TIMES_MS, audio=True, sar=Fraction(4, 3), rotation=90,
                     metadata=filmed)
    dst = tmp_path / "out" / "film.mp4"
    info = colorbench.colorize_video(src, dst, progress=False)
    with av.open(str(dst)) as c:
        assert {k: c.metadata.get(k) for k in filmed} == filmed  # when and what it was, kept
    got, times, sar, rot, sound = read(dst)
    want, want_times, _, _, want_sound = read(src)
    assert info.frames == len(got) == len(want) == 8 and got[0].shape == want[0].shape == (48, 64, 3)
    assert times == want_times == TIMES_MS  # variable frame rate kept
    assert sar == Fraction(4, 3) and rot == 90
    assert sound == want_sound and len(sound) > 3  # the sound's packets, byte for byte
    # the gray picture (luma) kept: what differs is the encoder's rounding of an unchanged plane
    y = lambda p: np.stack([f.to_ndarray(format="gray") for f in av.open(str(p)).decode(video=0)]).astype(int)
    assert np.abs(y(dst) - y(src)).mean() < 1.0
    # colour from the weights: the first frame as the same weights colorize it as a photo
    model, _ = load_colorizer()
    ab = lambda fr: uint8_to_lab(torch.from_numpy(np.stack(fr)).permute(0, 3, 1, 2).contiguous())[:, 1:] * 128
    photo_ab = ab([colorize_array(want[0], model, 64)])
    assert ab(got[:1]).abs().mean() > 1  # not gray (the photo weights give this synthetic pan about 2 ab units)
    assert (ab(got[:1]) - photo_ab).abs().mean() < 1.5
    assert not list(dst.parent.glob(".*.tmp"))


def test_odd_sizes_and_webm_come_out_whole(tmp_path):
    frames = [f[:47, :63] for f in pan(4)]
    src = write_clip(tmp_path / "odd.mkv", frames, pix="yuv444p")
    dst = tmp_path / "odd.webm"
    colorize_video(src, dst, progress=False)
    got = read(dst)[0]
    assert len(got) == 4 and got[0].shape == (47, 63, 3)


def test_full_size_colour_is_made_in_strips_with_the_whole_frames_values(monkeypatch):
    rgb = pan(1)[0]
    whole_L = uint8_to_lab(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[:, :1] * 100
    ab = torch.from_numpy(np.random.default_rng(0).normal(0, 40, (1, 2, *rgb.shape[:2])).astype(np.float32))
    whole = video.to_rgb8(whole_L, ab)  # 3,072 pixels: one strip
    monkeypatch.setattr(video, "STRIP_PIXELS", 64 * 5)  # strips of 5 rows, the last one of 3
    assert torch.equal(video.lightness(rgb), whole_L)
    assert np.array_equal(video.to_rgb8(whole_L, ab), whole)


def shifted(g: np.ndarray, dx: int) -> np.ndarray:
    return np.ascontiguousarray(np.roll(g, dx, axis=1))


def test_flow_finds_a_known_shift_and_warp_undoes_it():
    g = (L_of([scene(48, 64)])[0, 0] * 2.55).round().to(torch.uint8).numpy()
    cur = shifted(g, 3)  # content moved 3 px right: each pixel came from 3 px to its left
    back, ok = flow_back(video._dis("medium"), cur, g)
    inner = (slice(8, -8), slice(10, -10))
    assert np.abs(back[inner][..., 0] + 3).mean() < 0.5 and np.abs(back[inner][..., 1]).mean() < 0.5
    assert ok[inner].mean() > 0.9
    err = np.abs(warp(g.astype(np.float32), back) - cur)[inner]
    assert err.mean() < 4


def test_warping_error_by_hand():
    ab0 = np.random.default_rng(0).normal(0, 20, (16, 20, 2)).astype(np.float32)
    ab = np.ascontiguousarray(np.roll(ab0, 2, axis=1))  # moved 2 px right: each pixel came from 2 px left
    back = np.zeros((16, 20, 2), np.float32)
    back[..., 0] = -2
    ok = np.ones((16, 20), bool)
    ok[:, :2] = False  # what came in at the left edge has no past
    assert video.warping_error(ab, ab0, back, ok) == pytest.approx(0, abs=1e-9)
    shifted_colour = ab + np.array([3, -4], np.float32)  # 5 ab units away everywhere: 25
    assert video.warping_error(shifted_colour, ab0, back, ok) == pytest.approx(25, rel=1e-5)
    assert video.warping_error(ab, ab0, np.zeros_like(back), ok) > 100  # the wrong flow: no match


def test_stabilizer_carries_colour_along_motion_resets_at_cuts_and_repeats_frozen_frames():
    g = torch.Generator().manual_seed(0)
    L0 = L_of([np.ascontiguousarray(scene()[:, :64])])
    colour = torch.stack([torch.linspace(-40, 40, 64).expand(48, 64), torch.full((48, 64), 20.0)])[None]
    stab = Stabilizer(Stability(carry=0.8, size=48))
    outs = []
    for i in range(6):  # the scene and its true colour move 1 px a frame; each prediction is noisy
        L = torch.roll(L0, i, dims=-1)
        noisy = torch.roll(colour, i, dims=-1) + torch.randn(1, 2, 48, 64, generator=g) * 10
        out, event, share = stab.step(L, noisy)
        assert event == ("first" if i == 0 else "carried") and (i == 0 or share > 0.5)
        outs.append((out, noisy, torch.roll(colour, i, dims=-1)))
    inner = (..., slice(6, -6), slice(8, -8))
    err = lambda k, j: (outs[-1][k] - outs[-1][2])[inner].norm(dim=1).mean()
    assert err(0, 0) < 0.6 * err(1, 0)  # closer to the true colour than the last noisy prediction
    same, event, _ = stab.step(torch.roll(L0, 5, dims=-1), torch.zeros(1, 2, 48, 64), frozen=True)
    assert event == "frozen" and torch.equal(same, outs[-1][0])
    other = L_of([np.ascontiguousarray(scene()[::-1, -64:])])  # a new shot: nothing moves from the last one
    fresh = torch.randn(1, 2, 48, 64, generator=g) * 20
    out, event, _ = stab.step(other, fresh)
    assert event == "cut" and torch.equal(out, fresh)


def test_carried_colour_is_lifted_back_by_a_slow_gain():
    """colour_gain: a still scene whose per-frame colour doubles (a = 10, then 20). Carried 80%, the blend is 12;
    its mean chroma is 20 / 12 of it short, and the gain moves a tenth of the way from 1 there: 12 x (1 + 0.1 x
    (20 / 12 - 1)) = 12.8 by hand, and the gain goes on from there next frame (0: the blend alone)."""
    L = L_of([np.ascontiguousarray(scene()[:, :64])])
    ab = lambda a: torch.stack([torch.full((48, 64), a), torch.zeros(48, 64)])[None]
    for gain, want in ((0.0, 12.0), (0.1, 12.8)):
        stab = Stabilizer(Stability(carry=0.8, size=48, colour_gain=gain))
        stab.step(L, ab(10.0))
        out, event, share = stab.step(L, ab(20.0))
        assert event == "carried" and share == 1.0
        torch.testing.assert_close(out[0, 0], torch.full((48, 64), want), atol=1e-3, rtol=0)
        assert out[0, 1].abs().max() < 1e-4 and stab.gain == pytest.approx(1 + gain * (20 / 12 - 1), rel=1e-4)
    # a new shot starts from gain 1, so its second frame is 12.8 again (13.5 with the last shot's gain kept)
    other = L_of([np.ascontiguousarray(scene()[::-1, -64:])])
    assert stab.step(other, ab(10.0))[1] == "cut" and stab.gain == 1.0
    out, event, _ = stab.step(other, ab(20.0))
    assert event == "carried"
    torch.testing.assert_close(out[0, 0], torch.full((48, 64), 12.8), atol=1e-3, rtol=0)


def test_a_frozen_frame_is_the_last_picture_up_to_codec_noise_and_a_still_shot_still_moves():
    g = np.random.default_rng(0).integers(0, 256, (48, 64)).astype(np.uint8)
    noisy = (g.astype(np.int16) + np.random.default_rng(1).integers(-2, 3, g.shape)).clip(0, 255).astype(np.uint8)
    assert video.is_frozen(noisy, g, 3.0) and not video.is_frozen(g, None, 3.0)
    moved = g.copy()
    moved[10:20, 10:20] = 255 - moved[10:20, 10:20]  # a small object moves: 3% of the picture
    assert not video.is_frozen(moved, g, 3.0)


def test_frozen_frames_come_out_identical_and_a_cut_starts_from_the_per_frame_colour(tmp_path):
    a, b = pan(4), [np.ascontiguousarray(f[::-1]) for f in pan(3)]  # b: a new shot (the scene upside down)
    frames = a + [a[-1]] * 3 + b
    src = write_clip(tmp_path / "cut.mp4", frames)
    info = colorize_video(src, tmp_path / "out.mp4", progress=False)
    assert info.frozen == [4, 5, 6] and info.cuts == [7]
    model, _ = load_colorizer()
    steps = list(video.colour_frames(iter(read(src)[0]), model, 64))
    assert [s.event for s in steps][4:8] == ["frozen", "frozen", "frozen", "cut"]
    assert torch.equal(steps[7].ab, steps[7].ab_frame)
    # the encoder is given the last frame as played back, so nothing is left to touch up: identical
    got = read(tmp_path / "out.mp4")[0]
    assert all(np.array_equal(got[i], got[3]) for i in (4, 5, 6))


def test_warping_error_of_the_truth_and_the_page(tmp_path, capsys):
    from colorbench.persist import read_json

    src = write_clip(tmp_path / "clip.mp4", pan(6))
    assert main(["evaluate-video", str(src), "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "stable vs per-frame, overall: warping error" in said and "page: " in said
    r = read_json(tmp_path / "ev" / "results.json")
    s = r["clips"][0]["summary"]
    assert r["clips"][0]["frames"] == 6 and len(r["clips"][0]["per_frame"]["stable"]["warp"]) == 5
    assert s["gray"]["warp"] < 0.05 and s["gray"]["colorfulness"] < 1  # gray: no colour, nothing to flicker
    assert s["stable"]["warp"] <= s["per-frame"]["warp"]
    page = (tmp_path / "ev" / "page.html").read_text()
    assert page.count("<img") == 4 * 6 and "<svg" in page and "http" not in page.replace("http://www.w3.org", "")


# ---------------------------------------------------------------------------------------------
# bad input: one line, exit code, and never a file under the final name


def run(argv, capsys):
    """(exit code, the lines said: a skipped file's reason on stdout, then the summary; an error on stderr)."""
    code = main(argv)
    said = capsys.readouterr()
    return code, [line for line in (said.out + said.err).splitlines() if line.strip()]


def moov_end(data: bytes) -> int:
    """Where an MP4's index box ends (top-level boxes: 4-byte size, 4-byte type)."""
    at = 0
    while data[at + 4:at + 8] != b"moov":
        at += int.from_bytes(data[at:at + 4], "big")
    return at + int.from_bytes(data[at:at + 4], "big")


@pytest.mark.parametrize("case", ["text", "cut-index", "truncated", "audio-only", "no-frames", "missing"])
def test_bad_videos_are_one_line_and_leave_nothing(tmp_path, capsys, case):
    src = tmp_path / "film.mp4"
    if case == "text":
        src.write_text("not a video at all\n")
    elif case == "cut-index":  # the index comes last and is lost
        data = write_clip(tmp_path / "whole.mp4", pan(8)).read_bytes()
        src.write_bytes(data[: len(data) // 2])
    elif case in ("truncated", "no-frames"):  # the index first, then half the frames, or none
        data = write_clip(tmp_path / "whole.mp4", pan(8), faststart=True).read_bytes()
        end = moov_end(data)
        src.write_bytes(data[: (end + len(data)) // 2 if case == "truncated" else end])
    elif case == "audio-only":
        with av.open(str(src), "w") as out:
            a = out.add_stream("aac", rate=8000)
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 8000, 0
            out.mux(a.encode(f))
            out.mux(a.encode())
    code, err = run(["colorize", str(src), "-o", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 1 and len(err) <= 2 and not any("Traceback" in e for e in err)  # a reason, and the summary
    want = {"text": "not a video", "cut-index": "truncated", "truncated": "truncated", "audio-only": "no video stream",
            "no-frames": "no frames", "missing": "no such file"}[case]
    assert want in err[0] and str(src) in err[0], err
    assert not (tmp_path / "out" / "film.mp4").exists() and not list((tmp_path / "out").glob(".*"))


def test_a_corrupt_middle_gives_a_whole_output_or_one_line(tmp_path, capsys):
    data = bytearray(write_clip(tmp_path / "whole.mp4", pan(8)).read_bytes())
    mid = len(data) // 2
    data[mid:mid + 200] = bytes(range(200))
    src = tmp_path / "film.mp4"
    src.write_bytes(bytes(data))
    code, err = run(["colorize", str(src), "-o", str(tmp_path / "out"), "--quiet"], capsys)
    assert not any("Traceback" in e for e in err)
    out = tmp_path / "out" / "film.mp4"
    if code == 0:
        assert len(read(out)[0]) == 8
    else:
        assert code == 1 and not out.exists() and "truncated or corrupt" in err[0] and len(err) == 2


def test_a_full_disk_or_ctrl_c_midway_leaves_no_output(tmp_path, capsys, monkeypatch):
    src = write_clip(tmp_path / "film.mp4", pan(8))
    calls = []

    def failing(out, packets, what=OSError(errno.ENOSPC, "No space left on device")):
        calls.append(1)
        if len(calls) > 2:
            raise what
        out.mux(packets)

    monkeypatch.setattr(video, "_mux", failing)
    code, err = run(["colorize", str(src), "-o", str(tmp_path / "out")], capsys)
    assert code == 1 and "no space left" in err[-1] and len(calls) == 3
    assert not (tmp_path / "out" / "film.mp4").exists() and not list((tmp_path / "out").glob(".*"))
    calls.clear()
    monkeypatch.setattr(video, "_mux", lambda out, p: failing(out, p, KeyboardInterrupt()))
    code, err = run(["colorize", str(src), "-o", str(tmp_path / "out")], capsys)
    assert code == 130 and not (tmp_path / "out" / "film.mp4").exists() and not list((tmp_path / "out").glob(".*"))


def test_without_pyav_one_line_says_what_to_install(tmp_path, capsys, monkeypatch):
    src = write_clip(tmp_path / "film.mp4", pan(2))
    monkeypatch.setitem(sys.modules, "av", None)  # import av now fails, as where it is not installed
    with pytest.raises(DataError, match=r"pip install 'colorbench\[video\]'"):
        colorize_video(src, tmp_path / "x.mp4", progress=False)
    code, err = run(["colorize", str(src), "-o", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 1 and "colorbench[video]" in err[0] and len(err) == 2


def test_a_folder_of_photos_and_videos(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "family"
    folder.mkdir()
    write_clip(folder / "film.mp4", pan(3))
    Image.fromarray(photo()).save(folder / "photo.png")
    code = main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--quiet"])
    assert code == 0 and "done 2, skipped 0" in capsys.readouterr().out
    assert len(read(tmp_path / "out" / "film.mp4")[0]) == 3 and (tmp_path / "out" / "photo.png").is_file()


CLIP = SHARED / "videos" / "plant-pan.mp4"


@pytest.mark.slow  # a real clip at full size through evaluate-video; 12 s (the synthetic clips test the same code)
@pytest.mark.skipif(not CLIP.exists(), reason=f"{CLIP} not present (../shared/data beside the repo)")
def test_on_a_real_pan_stable_colour_flickers_less_at_equal_colour():
    model, _ = load_colorizer()
    r = video.evaluate_clip(CLIP, model, 64, progress=False)
    q = video.ratios(r["summary"])
    assert q["warp"] <= 0.6 and q["colorfulness"] >= 0.95 and abs(q["psnr_delta"]) <= 0.2, q


def test_a_video_is_decoded_at_the_temperature_given(tmp_path, capsys):
    """colorize --temperature reaches a video's frames as it reaches photos: the same clip at another T
    comes out in other colours, its lightness kept."""
    write_clip(tmp_path / "film.mp4", pan(3))
    for name, more in (("own", []), ("hot", ["--temperature", "1.5"])):
        assert main(["colorize", str(tmp_path / "film.mp4"), "-o", str(tmp_path / f"{name}.mp4"), "--quiet", *more]) == 0
    own, hot = read(tmp_path / "own.mp4")[0], read(tmp_path / "hot.mp4")[0]
    lab_own, lab_hot = (uint8_to_lab(torch.from_numpy(np.stack(f)).permute(0, 3, 1, 2)) for f in (own, hot))
    assert (lab_own[:, 0] - lab_hot[:, 0]).abs().mean() * 100 < 1  # L within a level, in LAB units
    assert (lab_own[:, 1:] - lab_hot[:, 1:]).abs().mean() * 128 > 1  # ab over a unit apart on average
