"""`colorbench serve`: the HTTP API with urllib, the page in headless Chromium."""

import base64
import http.client
import io
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.color import gray_of_lightness, rgb_to_lab
from colorbench.colorize import UsageError, at_temperature, colorize_array, colorize_strips, load_colorizer
from colorbench.models import create_model, save_model
from colorbench.serve import allowed_hosts, make_server
from helpers import fitted

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    torch.manual_seed(0)
    save_model(create_model("cnn", width=8), path)
    return path


@contextmanager
def server(**kw):
    srv = make_server(port=0, **kw)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@contextmanager
def running(**kw):
    with server(**kw) as srv:
        yield f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.fixture(scope="module")
def url(weights):
    with running(weights=weights, max_upload_mb=0.05) as u:
        yield u


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def post(url: str, body: bytes, path: str = "/colorize") -> tuple[int, dict]:
    req = urllib.request.Request(url + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def from_data_url(s: str) -> Image.Image:
    head, b64 = s.split(",", 1)
    assert head == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def lightness(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.tensor(np.array(rgb)).permute(2, 0, 1).float() / 255)[0]


def test_page_is_self_contained(url):
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        html = r.read().decode()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(//|[a-z]+:(?!,))""", html.replace('href="data:,"', ""))
    for needle in ('id="gray"', 'id="result"', 'id="download"', 'id="error"', 'accept="image/*"',
                   "it stays on this computer"):
        assert needle in html


def test_colorize_png(url):
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    status, r = post(url, png(rgb))
    assert status == 200 and (r["width"], r["height"]) == (40, 30)
    gray, color = from_data_url(r["gray"]), from_data_url(r["color"])
    assert gray.size == color.size == (40, 30) and color.mode == "RGB"
    L = lightness(rgb)
    assert torch.allclose(lightness(np.asarray(color)), L, atol=1.0)
    assert torch.allclose(lightness(np.asarray(gray.convert("RGB"))), L, atol=1.0)


def test_alpha_is_kept(url):
    rgba = np.random.default_rng(1).integers(0, 256, (30, 40, 4), dtype=np.uint8)
    status, r = post(url, png(rgba))
    color = from_data_url(r["color"])
    assert status == 200 and color.mode == "RGBA"
    assert np.array_equal(np.asarray(color)[..., 3], rgba[..., 3])


@pytest.mark.parametrize("body, codes, words", [
    (b"these are my notes, not a photo", (400, 415), "not a picture"),
    (b"", (400,), "empty"),
    (b"x" * 60_000, (413,), "limit"),
    (png(np.zeros((30, 40, 3), np.uint8))[:-40], (400,), "cannot read"),  # truncated
    (png(np.zeros((10, 400, 3), np.uint8)), (400,), "too long and narrow"),  # a huge input for the network
])
def test_bad_uploads(url, body, codes, words):
    status, r = post(url, body)
    assert status in codes and words in r["error"]


def test_decompression_bomb(url):
    buf = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buf, "PNG")  # 100 megapixels in a few KB
    assert len(buf.getvalue()) < 50_000
    status, r = post(url, buf.getvalue())
    assert status == 400 and "10000 x 10000" in r["error"]


def test_protocol_errors(url):
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/colorize")
    conn.endheaders()  # no Content-Length
    r = conn.getresponse()
    assert r.status == 411 and "error" in json.load(r)
    conn.close()
    assert post(url, b"abc", "/elsewhere")[0] == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "/nothing-here", timeout=30)
    assert e.value.code == 404 and "error" in json.load(e.value)


def test_internal_error_keeps_serving(url, monkeypatch):
    def boom(*a):
        raise RuntimeError("boom")

    monkeypatch.setattr("colorbench.serve.colorize_strips", boom)
    status, r = post(url, png(np.zeros((30, 40, 3), np.uint8)))
    assert status == 500 and r["error"] == "internal error: boom"
    monkeypatch.undo()
    assert post(url, png(np.zeros((30, 40, 3), np.uint8)))[0] == 200
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        assert r.status == 200


def test_temperature_sets_the_automatic_colours_t_and_weights_without_bins_refuse_it(weights):
    """serve --temperature: the shipped default decodes at the T given; the colour-point weights and the
    default loaded elsewhere keep their own; weights that predict ab directly refuse it before listening."""
    with server(temperature=0.9) as srv:
        assert float(srv.model.decode.temperature) == pytest.approx(0.9)
        assert srv.hint_model is not srv.model and float(srv.hint_model.decode.temperature) != pytest.approx(0.9)
        assert float(load_colorizer("default")[0].decode.temperature) != pytest.approx(0.9)
    with pytest.raises(UsageError, match="--temperature: the weights .* predict ab directly"):
        make_server(port=0, weights=weights, temperature=0.9)


def test_bad_weights_fail_fast(tmp_path):
    (tmp_path / "w.safetensors").write_text("not weights")
    with pytest.raises(ValueError, match="not a colorbench weights file"):
        make_server(port=0, weights=tmp_path / "w.safetensors")


# ---------------------------------------------------------------------------------------------
# hardening: bounded memory, bursts, hostile requests


def raw_request(url: str, data: bytes) -> tuple[int, dict]:
    """Send bytes no HTTP client would send; -> (status, JSON body) of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        answer = b"".join(iter(lambda: s.recv(1 << 16), b""))
    head, body = answer.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def get_with_host(url: str, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    conn.putrequest("GET", "/", skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    r = conn.getresponse()
    try:
        return r.status, r.read()
    finally:
        conn.close()


def test_strips_match_whole_image(weights):
    model, _ = load_colorizer(weights)
    rgb = np.random.default_rng(3).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    L = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[:, :1]
    want_gray = (gray_of_lightness(L)[0, 0] * 255).round().byte().numpy()
    for size in (16, 128):  # the network's input made smaller, and not
        color, gray = colorize_strips(rgb, model, size, strip_pixels=1800)  # 20 rows a strip
        assert np.abs(color.astype(int) - colorize_array(rgb, model, size)).max() <= 1
        assert np.abs(gray.astype(int) - want_gray).max() <= 1


def test_bursts_are_all_answered(weights):
    body = png(np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    with running(weights=weights) as url:
        def upload(_):
            conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
            try:
                conn.request("POST", "/colorize", body)
                r = conn.getresponse()
                return r.status, json.load(r), r.headers["Retry-After"]
            finally:
                conn.close()

        answers = []
        for _ in range(3):  # a reset connection raises here
            with ThreadPoolExecutor(20) as pool:
                answers += pool.map(upload, range(20))
        assert len(answers) == 60
        for status, r, retry in answers:
            assert (status == 200 and r["width"] == 64) or (status == 503 and "busy" in r["error"] and retry)
        assert any(status == 200 for status, _, _ in answers)
        assert post(url, body)[0] == 200
        with urllib.request.urlopen(url + "/", timeout=30) as r:
            assert r.status == 200


def test_busy_answers_503(weights, monkeypatch):
    monkeypatch.setattr("colorbench.serve.BUSY_WAIT", 0.1)
    body = png(np.zeros((30, 40, 3), np.uint8))
    with server(weights=weights) as srv:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        held = 0
        while srv.slots.acquire(blocking=False):  # every slot taken, as by photos in progress
            held += 1
        req = urllib.request.Request(url + "/colorize", data=body, method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        assert e.value.code == 503 and e.value.headers["Retry-After"]
        assert json.load(e.value)["error"].startswith("busy:")
        for _ in range(held):
            srv.slots.release()
        assert post(url, body)[0] == 200


SERVER = """
import sys
from colorbench.serve import make_server
srv = make_server(port=0)  # the shipped weights: an untrained model puts every pixel out of gamut
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def peak_rss_gb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2**20


@pytest.mark.slow  # a 6300x6300 photo through the page; 10 s
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads peak memory from Linux's /proc")
def test_big_flat_photo_in_bounded_memory():
    """40 megapixels in 130 KB: with whole-image float tensors the server peaked at 5.1 GB; in strips, at
    0.9 GB (0.65 GB over its idle size)."""
    buf = io.BytesIO()
    Image.new("RGB", (6300, 6300), (120, 110, 100)).save(buf, "PNG")
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        idle = peak_rss_gb(proc.pid)
        status, r = post(url, buf.getvalue())
        peak = peak_rss_gb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    assert status == 200 and (r["width"], r["height"]) == (6300, 6300)
    assert r["color"].startswith("data:image/png;base64,")
    assert peak < 2.5 and peak - idle < 1.2, f"peak {peak:.2f} GB, idle {idle:.2f} GB"


def test_max_megapixels(weights):
    with running(weights=weights, max_megapixels=0.001) as url:
        status, r = post(url, png(np.zeros((30, 40, 3), np.uint8)))
    assert status == 400 and "the limit is 0.001 megapixels" in r["error"]


def test_bad_request_lines_are_answered(url):
    for line, code in [(b"GET /" + b"a" * 100_000 + b" HTTP/1.1", 414), (b"GARBAGE", 400),
                       (b"GET / HTTP/1.1 extra", 400)]:
        status, r = raw_request(url, line + b"\r\nHost: 127.0.0.1\r\n\r\n")
        assert status == code and r["error"]
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        assert r.status == 200


def test_duplicate_content_length(url):
    host, port = url.removeprefix("http://").split(":")
    status, r = raw_request(url, b"POST /colorize HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: 3\r\n"
                                 b"Content-Length: 30\r\n\r\nabc" % (host.encode(), port.encode()))
    assert status == 400 and "Content-Length" in r["error"]


def test_foreign_host_is_refused(url):
    port = int(url.rsplit(":", 1)[1])
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}"):
        assert get_with_host(url, host)[0] == 200
    for host in (f"evil.example:{port}", "evil.example", f"localhost:{port + 1}"):  # DNS rebinding
        status, body = get_with_host(url, host)
        assert status == 421 and "answers only to" in json.loads(body)["error"]
    assert allowed_hosts("0.0.0.0", 8000) is None  # all addresses: any name (the README says so)
    assert "192.168.1.5:8000" in allowed_hosts("192.168.1.5", 8000)


def test_page_cannot_be_framed(url):
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"


def test_head_is_answered_like_get_without_a_body(url):
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    conn.request("GET", "/")
    get = conn.getresponse()
    page = get.read()
    for path, status in (("/", 200), ("/nothing", 404)):
        conn.request("HEAD", path)
        head = conn.getresponse()
        assert head.status == status and head.read() == b""
        if path == "/":
            assert {k: v for k, v in head.getheaders() if k != "Date"} == \
                   {k: v for k, v in get.getheaders() if k != "Date"}
            assert int(head.headers["Content-Length"]) == len(page)
    conn.close()


@pytest.mark.parametrize("port", [99999, 65536, -1])
def test_bad_port(port, capsys):
    with pytest.raises(ValueError, match=f"^--port must be between 1 and 65535, not {port}$"):
        make_server(port=port)
    from colorbench.cli import main

    with pytest.raises(SystemExit) as e:  # a bad command line: exit 2
        main(["serve", "--port", str(port)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "between 1 and 65535" in err


# ---------------------------------------------------------------------------------------------
# the page in a real browser


DROP_PNG = """
const c = document.createElement('canvas'); c.width = 64; c.height = 48;
const g = c.getContext('2d'); g.fillStyle = '#777'; g.fillRect(0, 0, 64, 48);
c.toBlob(b => { const dt = new DataTransfer(); dt.items.add(new File([b], 'dropped.png', {type: 'image/png'}));
  document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); });
"""


def test_page_in_browser(weights, tmp_path, browser, artifacts):
    skdata = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "chelsea.jpg"
    Image.fromarray(skdata.chelsea()).convert("L").save(photo, quality=90)  # an old black-and-white print
    not_photo = tmp_path / "notes.jpg"
    not_photo.write_text("these are my notes, not a photo")
    art = artifacts

    driver = browser()
    try:
        with running(weights=weights) as url:
            driver.get(url + "/")
            driver.find_element(By.ID, "file").send_keys(str(photo))
            wait = WebDriverWait(driver, 60)
            wait.until(lambda d: d.execute_script("return document.getElementById('result').naturalWidth") > 0)
            js = "const i = document.getElementById('result'); return [i.naturalWidth, i.naturalHeight]"
            assert driver.execute_script(js) == list(Image.open(photo).size)
            assert driver.find_element(By.ID, "download").get_attribute("download") == "chelsea-colorized.png"
            assert driver.find_element(By.ID, "result").is_displayed()
            assert not driver.find_element(By.ID, "error").is_displayed()
            driver.save_screenshot(str(art / "serve.png"))
            assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]

            driver.find_element(By.ID, "file").send_keys(str(not_photo))
            error = driver.find_element(By.ID, "error")
            wait.until(lambda d: error.is_displayed() and error.text)
            assert "notes.jpg" in error.text and "not a picture" in error.text
            driver.save_screenshot(str(art / "serve-error.png"))

            driver.execute_script(DROP_PNG)  # the drop zone, with a 64 x 48 PNG drawn in the page
            wait.until(lambda d: d.execute_script("return document.getElementById('result').naturalWidth") == 64)
            assert not error.is_displayed()
            assert driver.find_element(By.ID, "download").get_attribute("download") == "dropped-colorized.png"
    finally:
        driver.quit()


def test_a_classification_model_serves_photos(tmp_path):
    """A model trained with the colour-classification objective, decode step and all, behind the page."""
    torch.manual_seed(0)
    save_model(create_model("cnn", fitted("classification", head_stride=2), width=8), tmp_path / "cls.safetensors")
    rgb = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    with running(weights=tmp_path / "cls.safetensors") as u:
        status, body = post(u, png(rgb))
    assert status == 200 and (body["width"], body["height"]) == (56, 40)
    assert np.asarray(from_data_url(body["color"]).convert("RGB")).shape == (40, 56, 3)



def chroma(body: dict) -> float:
    rgb = np.asarray(from_data_url(body["color"]).convert("RGB"), dtype=np.float32) / 255
    return float(rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[:, 1:].norm(dim=1).mean())


def test_colour_strength_recolours_the_kept_photo_at_the_t_chosen():
    """/recolor at one of the offered strengths (least colour first): the kept photo colorized again by the
    weights decoding at that T, as `colorize_strips` gives; the first strength gives the first result; a T
    not offered is a one-line 400, and weights that predict ab directly offer none."""
    skdata = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
    rgb = np.asarray(Image.fromarray(skdata.astronaut()).resize((96, 96)))
    with server() as srv:  # the shipped default
        u = f"http://127.0.0.1:{srv.server_address[1]}"
        status, first = post(u, png(rgb))
        strengths = first["strengths"]
        assert status == 200 and len(strengths) >= 5 and first["temperature"] == first["tuned"] in strengths
        assert first["temperature"] == pytest.approx(float(srv.model.decode.temperature), abs=1e-4)
        least, most = (post_json(u, "/recolor", {"id": first["id"], "temperature": t})[1] for t in
                       (strengths[0], strengths[-1]))
        assert chroma(least) < chroma(first) < chroma(most)  # less ... more, on this photo too
        want, _ = colorize_strips(rgb, at_temperature(srv.model, strengths[-1]), srv.size)
        assert np.array_equal(np.asarray(from_data_url(most["color"]).convert("RGB")), want)
        status, again = post_json(u, "/recolor", {"id": first["id"], "hints": [], "temperature": first["temperature"]})
        assert status == 200 and again["color"] == first["color"]
        for bad in (0.123, True, "0.55"):
            status, answer = post_json(u, "/recolor", {"id": first["id"], "temperature": bad})
            assert status == 400 and "not one of the colour strengths offered" in answer["error"]
        assert float(srv.model.decode.temperature) == pytest.approx(first["temperature"])  # its own T kept


def test_weights_without_bins_offer_no_strength(url):
    status, first = post(url, png(np.full((20, 30, 3), 128, np.uint8)))
    assert status == 200 and first["strengths"] == [] and first["temperature"] is None
    status, again = post_json(url, "/recolor", {"id": first["id"], "hints": []})
    assert status == 200 and again["color"] == first["color"]
    status, answer = post_json(url, "/recolor", {"id": first["id"], "temperature": 0.55})
    assert status == 400 and "none: these weights predict ab directly" in answer["error"]
    status, answer = post_json(url, "/recolor", {"id": first["id"], "hints": [{"x": 1, "y": 1, "color": "#ff0000"}]})
    assert status == 409 and "take no colour points" in answer["error"]


# colour points on the page's photo


@pytest.fixture(scope="module")
def hint_weights(tmp_path_factory):
    """A tiny network of colour hints with a colour distribution (classification), hint weights non-zero."""
    path = tmp_path_factory.mktemp("hw") / "hints.safetensors"
    torch.manual_seed(0)
    m = create_model("cnn", fitted("classification", head_stride=2), 4, width=8)
    with torch.no_grad():
        first = next(w for w in m.parameters() if w.dim() == 4)
        first[:, 1:] = torch.randn_like(first[:, 1:]) * 3
    save_model(m, path)
    return path


def post_json(url: str, path: str, obj) -> tuple[int, dict]:
    return post(url, json.dumps(obj).encode(), path)


def test_points_recolour_the_kept_photo_and_suggest_colours_at_its_lightness(hint_weights):
    from skimage.color import rgb2lab

    from colorbench.colorize import check_hints

    rgb = (np.random.default_rng(1).random((40, 56, 3)) * 255).astype(np.uint8)
    points = [{"x": 10, "y": 30, "color": "#c03020"}, {"x": 50, "y": 2, "color": "#2050d0"}]
    with server(weights=hint_weights) as srv:
        u = f"http://127.0.0.1:{srv.server_address[1]}"
        status, first = post(u, png(rgb))
        assert status == 200 and first["hints"] is True
        status, body = post_json(u, "/hints", {"id": first["id"], "hints": points})
        assert status == 200
        got = np.asarray(from_data_url(body["color"]).convert("RGB"))
        want, _ = colorize_strips(rgb, srv.hint_model, srv.size, hints=check_hints(points, 56, 40))
        assert np.array_equal(got, want)
        assert not np.array_equal(got, np.asarray(from_data_url(first["color"]).convert("RGB")))  # points matter
        status, none = post_json(u, "/hints", {"id": first["id"], "hints": []})  # all removed: the first result
        assert status == 200 and none["color"] == first["color"]
        status, sug = post_json(u, "/suggest", {"id": first["id"], "x": 20, "y": 12, "hints": points})
    assert status == 200 and 1 <= len(sug["colors"]) <= 6
    p = [c["p"] for c in sug["colors"]]
    assert p == sorted(p, reverse=True) and 0 < sum(p) <= 1.0001
    L_here = rgb2lab(rgb[12:13, 20:21] / 255)[0, 0, 0]
    for c in sug["colors"]:
        swatch = np.array([[[int(c["color"][i:i + 2], 16) for i in (1, 3, 5)]]]) / 255
        assert abs(rgb2lab(swatch)[0, 0, 0] - L_here) < 1.5  # offered at the photo's own lightness there


@pytest.mark.parametrize("body, code, words", [
    ({"id": "nope", "hints": []}, 410, "no longer here"),
    ({"id": "{id}", "hints": [{"x": 99, "y": 1, "color": "#ffffff"}]}, 400, "outside the photo"),
    ({"id": "{id}", "hints": [{"x": 1, "y": 1, "color": "white"}]}, 400, "not an sRGB hex colour"),
    ([1, 2], 400, "not a JSON object"),
])
def test_bad_points_are_one_line_answers(hint_weights, body, code, words):
    with running(weights=hint_weights) as u:
        _, first = post(u, png(np.full((20, 30, 3), 128, np.uint8)))
        if isinstance(body, dict):
            body = {k: (first["id"] if v == "{id}" else v) for k, v in body.items()}
        status, answer = post_json(u, "/hints", body)
    assert status == code and words in answer["error"]


def test_weights_without_points_say_so(url):
    _, first = post(url, png(np.full((20, 30, 3), 128, np.uint8)))
    assert first["hints"] is False
    status, answer = post_json(url, "/hints", {"id": first["id"], "hints": []})
    assert status == 409 and "take no colour points" in answer["error"]


def test_colour_points_in_browser_with_real_clicks(hint_weights, tmp_path, browser, artifacts):
    """A photo, a click on it (suggested colours appear), a swatch clicked (the result changes there), the
    point dragged, then deleted (the first result back): real pointer events in headless Chromium."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    rgb = np.tile(np.linspace(60, 200, 240, dtype=np.uint8)[None, :, None], (160, 1, 3))  # a gray ramp
    Image.fromarray(rgb).save(tmp_path / "ramp.png")
    driver = browser()
    src = "return document.getElementById('result').src"
    try:
        with running(weights=hint_weights) as url:
            driver.get(url + "/")
            driver.find_element(By.ID, "file").send_keys(str(tmp_path / "ramp.png"))
            wait = WebDriverWait(driver, 60)
            wait.until(lambda d: d.execute_script("return document.getElementById('result').naturalWidth") == 240)
            assert driver.find_element(By.ID, "pointsinfo").is_displayed()
            first = driver.execute_script(src)
            driver.save_screenshot(str(artifacts / "serve-points-1-photo.png"))
            result = driver.find_element(By.ID, "result")
            w = result.size["width"]
            # a click a quarter of the way across, mid-height: the offset is from the element's centre
            ActionChains(driver).move_to_element_with_offset(result, -w // 4, 0).click().perform()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#swatches button"))
            assert driver.find_element(By.ID, "picker").is_displayed()
            swatches = driver.find_elements(By.CSS_SELECTOR, "#swatches button")
            assert 1 <= len(swatches) <= 6
            driver.save_screenshot(str(artifacts / "serve-points-2-suggestions.png"))
            point = driver.execute_script("return points[0]")
            assert abs(point["x"] - 60) <= 2 and abs(point["y"] - 80) <= 2  # where the click was, in photo pixels
            swatches[-1].click()
            wait.until(lambda d: d.execute_script(src) != first)
            chosen = driver.execute_script("return points[0].color")
            assert re.fullmatch(r"#[0-9a-f]{6}", chosen)
            driver.save_screenshot(str(artifacts / "serve-points-3-result.png"))
            after_click = driver.execute_script(src)
            # drag the point to the right: it moves there and the result is made again
            marker = driver.find_element(By.CSS_SELECTOR, ".pt")
            ActionChains(driver).click_and_hold(marker).move_by_offset(w // 4, 0).release().perform()
            wait.until(lambda d: d.execute_script(src) != after_click)
            moved = driver.execute_script("return points[0]")
            assert moved["x"] > point["x"] + 40 and moved["color"] == chosen
            driver.save_screenshot(str(artifacts / "serve-points-4-dragged.png"))
            # select it and delete it: no points, the first result again
            driver.find_element(By.CSS_SELECTOR, ".pt").click()
            wait.until(lambda d: d.find_element(By.ID, "picker").is_displayed())
            ActionChains(driver).send_keys(Keys.DELETE).perform()
            wait.until(lambda d: d.execute_script("return points.length") == 0 and not d.execute_script(
                "return inflight"))
            wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".pt"))
            got = driver.execute_script("""const i = document.getElementById('result'), c = document.createElement('canvas');
                c.width = i.naturalWidth; c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0);
                return Array.from(g.getImageData(0, 0, c.width, c.height).data.filter((v, k) => k % 4 != 3)).slice(0, 3000)""")
            with urllib.request.urlopen(urllib.request.Request(url + "/colorize", data=png(rgb), method="POST")) as r:
                want = np.asarray(from_data_url(json.load(r)["color"]).convert("RGB")).reshape(-1)[:3000]
            assert np.abs(np.array(got) - want).max() <= 1  # the automatic result (canvas may round)
            assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()


def test_colour_strength_slider_in_browser(tmp_path, browser, artifacts):
    """The shipped weights behind the page: the colour slider starts at the weights' own T, and moving it
    to "more" (the End key, as a keyboard user does) colours the same photo again, more strongly."""
    skdata = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    Image.fromarray(skdata.astronaut()).convert("L").resize((256, 256)).save(tmp_path / "astronaut.png")
    driver = browser()
    src = "return document.getElementById('result').src"
    try:
        with running() as url:
            driver.get(url + "/")
            driver.find_element(By.ID, "file").send_keys(str(tmp_path / "astronaut.png"))
            wait = WebDriverWait(driver, 60)
            wait.until(lambda d: d.execute_script("return document.getElementById('result').naturalWidth") == 256)
            slider = driver.find_element(By.ID, "strength")
            assert slider.is_displayed() and "(as tuned)" in driver.find_element(By.ID, "strengthinfo").text
            first, strengths = driver.execute_script(src), driver.execute_script("return strengths")
            assert int(slider.get_attribute("value")) == strengths.index(driver.execute_script("return photo.tuned"))
            driver.save_screenshot(str(artifacts / "serve-strength-1-tuned.png"))
            slider.send_keys(Keys.END)
            wait.until(lambda d: d.execute_script(src) != first and not d.execute_script("return inflight"))
            assert int(slider.get_attribute("value")) == len(strengths) - 1
            assert driver.find_element(By.ID, "strengthinfo").text == f"T {strengths[-1]:g}"
            driver.save_screenshot(str(artifacts / "serve-strength-2-more.png"))
            assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
