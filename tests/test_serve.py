"""`colorbench serve`: the HTTP API with urllib, the page in headless Chromium."""

import base64
import http.client
import io
import json
import re
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench.color import rgb_to_lab
from colorbench.models import create_model, save_model
from colorbench.serve import make_server

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    torch.manual_seed(0)
    save_model(create_model("cnn", width=8), path)
    return path


@contextmanager
def running(**kw):
    srv = make_server(port=0, **kw)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


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

    monkeypatch.setattr("colorbench.serve.colorize_lightness", boom)
    status, r = post(url, png(np.zeros((30, 40, 3), np.uint8)))
    assert status == 500 and r["error"] == "internal error: boom"
    monkeypatch.undo()
    assert post(url, png(np.zeros((30, 40, 3), np.uint8)))[0] == 200
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        assert r.status == 200


def test_bad_weights_fail_fast(tmp_path):
    (tmp_path / "w.safetensors").write_text("not weights")
    with pytest.raises(ValueError, match="not a colorbench weights file"):
        make_server(port=0, weights=tmp_path / "w.safetensors")


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
