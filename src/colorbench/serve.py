"""`colorbench serve`: a local web page to colorize one photo. Standard library server, one page,
no external URLs: the photo never leaves this computer."""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .color import lab_to_rgb, rgb_to_lab
from .colorize import colorize_lightness, load_colorizer, recommended_size, to_float, to_uint8
from .data import to_rgb_array

DRAIN_LIMIT = 64 << 20  # read (and drop) at most this much of a refused upload

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>colorbench: colorize a photo</title><link rel="icon" href="data:,">
<style>
:root{--ink:#222;--muted:#666;--line:#d9d5cd;--accent:#2f6a88}
*{box-sizing:border-box} [hidden]{display:none!important}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:#f6f5f2}
main{max-width:1100px;margin:0 auto;padding:32px 20px}
h1{font-size:1.6rem;margin:0 0 4px} .lead{color:var(--muted);margin:0 0 20px}
#drop{display:block;border:2px dashed var(--line);border-radius:12px;background:#fff;padding:36px 20px;text-align:center;cursor:pointer}
#drop.over{border-color:var(--accent);background:#eef5f8} #drop:focus-within{outline:3px solid #9cc3d5}
#drop strong{display:block;font-size:1.2rem;margin-bottom:10px} .hint{display:block;color:var(--muted);font-size:.9rem;margin-top:10px}
.button{display:inline-block;padding:10px 18px;border-radius:8px;background:var(--accent);color:#fff;font-weight:600;text-decoration:none}
#file{position:absolute;width:1px;height:1px;opacity:0}
.busy #drop{opacity:.5;pointer-events:none} /* with a result on screen, the drop zone shrinks to one line */
.done #drop{padding:12px 20px} .done #drop strong{display:inline;font-size:1rem;margin-right:14px} .done .hint{display:none}
#status{color:var(--muted)} .spin{display:inline-block;width:1em;height:1em;margin-right:8px;vertical-align:-2px;
 border:2px solid var(--line);border-top-color:var(--accent);border-radius:50%;animation:spin 1s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
#error{padding:12px 16px;border-radius:8px;background:#fdecea;color:#8a1c12;border:1px solid #f1b7ae}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:20px;margin-top:24px} @media(max-width:700px){.pair{grid-template-columns:1fr}}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:12px;padding:12px}
figure img{display:block;max-width:100%;max-height:70vh;margin:0 auto;border-radius:4px}
figcaption{margin-top:8px;color:var(--muted);font-size:.95rem;text-align:center}
.actions{margin-top:20px;display:flex;gap:16px;align-items:center;flex-wrap:wrap} #info{color:var(--muted)}
</style></head><body><main>
<h1>Colorize a photo</h1>
<p class="lead">Drop a photo here or choose one; it stays on this computer.
Black-and-white photos work best; a colour photo is turned gray first.</p>
<label id="drop" for="file"><strong>Drop a photo here</strong><span class="button">Choose a photo&hellip;</span>
<input id="file" type="file" accept="image/*"><span class="hint">JPEG, PNG, TIFF, WebP&hellip; up to __MAX_MB__ MB</span></label>
<p id="status" role="status" hidden><span class="spin"></span>Working&hellip; a large photo can take a minute.</p>
<p id="error" role="alert" hidden></p>
<section id="results" hidden><div class="pair">
<figure><img id="gray" alt="the photo as the model sees it"><figcaption>What the model sees: lightness only</figcaption></figure>
<figure><img id="result" alt="the colorized photo"><figcaption>Colorized: the colours are the model's guess</figcaption></figure></div>
<div class="actions"><a id="download" class="button" href="#" download="photo-colorized.png">Download the colorized photo</a>
<span id="info"></span></div></section>
</main><script>
const $ = id => document.getElementById(id), MAX = __MAX_BYTES__, drop = $('drop');
let urls = [], busy = false;
function fail(msg) { $('error').textContent = msg; $('error').hidden = false; }
async function blobUrl(dataUrl) {  // blob: URLs, because Chrome refuses to download big data: URLs
  const u = URL.createObjectURL(await (await fetch(dataUrl)).blob()); urls.push(u); return u;
}
async function send(file) {
  if (!file || busy) return;
  $('error').hidden = $('results').hidden = true; document.body.classList.remove('done');
  urls.forEach(u => URL.revokeObjectURL(u)); urls = [];
  if (file.size > MAX) return fail(`"${file.name}" is ${(file.size / 1048576).toFixed(1)} MB; the limit is __MAX_MB__ MB.`);
  busy = true; document.body.classList.add('busy'); $('status').hidden = false;
  try {
    const r = await fetch('/colorize', {method: 'POST', body: file});
    const data = await r.json().catch(() => ({error: `the server answered ${r.status} ${r.statusText}`}));
    if (!r.ok || data.error) throw new Error(data.error || `the server answered ${r.status}`);
    const name = (file.name.replace(/\\.[^.]*$/, '') || 'photo') + '-colorized.png';
    $('gray').src = await blobUrl(data.gray);
    $('result').src = $('download').href = await blobUrl(data.color);
    $('download').download = name;
    $('info').textContent = `${name}, ${data.width} \\u00d7 ${data.height} pixels`;
    $('results').hidden = false; document.body.classList.add('done');
  } catch (e) {
    fail(e instanceof TypeError ? 'Cannot reach colorbench: is "colorbench serve" still running?'
                                : `Could not colorize "${file.name}": ${e.message}`);
  } finally { busy = false; document.body.classList.remove('busy'); $('status').hidden = true; $('file').value = ''; }
}
$('file').addEventListener('change', e => send(e.target.files[0]));
// drops anywhere on the page count (a near miss must not make the browser open the file instead)
addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
addEventListener('dragleave', e => { if (!e.relatedTarget) drop.classList.remove('over'); });
addEventListener('drop', e => { e.preventDefault(); drop.classList.remove('over'); send(e.dataTransfer.files[0]); });
</script></body></html>
"""
# the page may load nothing from anywhere: a browser-enforced promise that the photo stays here
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data: blob:; "
       "connect-src 'self' data:; base-uri 'none'; form-action 'none'")


class Refused(Exception):
    """A bad upload: Refused(HTTP status, a one-line reason for the person who sent it)."""


def decode(data: bytes, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Upload bytes -> (RGB, alpha or None); the pixel count is checked before anything is decoded."""
    try:
        with Image.open(io.BytesIO(data)) as img:  # lazy: reads the header only
            w, h = img.size
            if w * h > max_pixels:
                raise Refused(400, f"the image is {w} x {h} pixels ({w * h / 1e6:.0f} megapixels); "
                                   f"the limit is {max_pixels / 1e6:g} megapixels")
            img.load()
            return to_rgb_array(img)
    except Image.DecompressionBombError as e:
        raise Refused(400, f"the image is too large: {e}") from None
    except UnidentifiedImageError:
        raise Refused(415, "this file is not a picture this program can read (try a JPEG, PNG or TIFF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise Refused(400, f"cannot read this image; is the file complete? ({e})") from None


def colorize_with_gray(rgb: np.ndarray, model: torch.nn.Module, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (H, W, 3) -> (colorized uint8 (H, W, 3), its L channel as uint8 gray (H, W): what the
    network is given); L is computed once for both."""
    L = rgb_to_lab(to_float(rgb))[:, :1]
    gray = lab_to_rgb(torch.cat([L, torch.zeros_like(L).expand(-1, 2, -1, -1)], 1))[:, :1]
    return to_uint8(colorize_lightness(L, model, size)), to_uint8(gray)[..., 0]


def png_data_url(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=3)  # a big photo: speed over a few % of size
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class Handler(BaseHTTPRequestHandler):
    server_version = "colorbench"
    timeout = 60  # a client that stalls mid-upload does not hold a thread forever

    def log_request(self, code="-", size="-"):
        print(f"colorbench serve: {self.command} {self.path} -> {code}", file=sys.stderr)

    def log_message(self, format, *args):
        print(f"colorbench serve: {format % args}", file=sys.stderr)

    def reply(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in {"Content-Type": ctype, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                     "X-Content-Type-Options": "nosniff", **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, obj: dict) -> None:
        self.reply(status, json.dumps(obj).encode(), "application/json")

    def do_GET(self):
        if self.path.split("?")[0] != "/":
            return self.reply_json(404, {"error": f"no such page: {self.path}"})
        page = PAGE.replace("__MAX_MB__", f"{self.server.max_upload_mb:g}").replace("__MAX_BYTES__", str(self.server.max_bytes))
        self.reply(200, page.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": CSP})

    def do_POST(self):
        try:
            if self.path.split("?")[0] != "/colorize":
                self.close_connection = True  # the body is not read
                return self.reply_json(404, {"error": f"no such page: {self.path}"})
            self.reply_json(200, self.colorize(self.read_body()))
        except Refused as e:
            self.reply_json(e.args[0], {"error": e.args[1]})
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away: nobody to answer
        except Exception as e:  # a bug, or out of memory: say so, and keep serving
            print(f"colorbench serve: {type(e).__name__}: {e}", file=sys.stderr)
            self.reply_json(500, {"error": f"internal error: {str(e) or type(e).__name__}"})

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise Refused(411, "the upload has no Content-Length")
        n = int(length) if length.strip().isdigit() else -1
        if n < 0:
            raise Refused(400, f"bad Content-Length: {length!r}")
        if n == 0:
            raise Refused(400, "the upload is empty: send the image file's bytes")
        if n > self.server.max_bytes:
            self.discard(n)
            raise Refused(413, f"the file is {n / 2**20:.1f} MB; the limit is {self.server.max_upload_mb:g} MB")
        data = self.rfile.read(n)
        if len(data) < n:
            raise Refused(400, f"the upload stopped after {len(data)} of {n} bytes")
        return data

    def discard(self, n: int) -> None:
        """Read a refused body without keeping it: a client still sending when we close would see a
        connection reset instead of our answer. Past DRAIN_LIMIT, just close."""
        self.close_connection = True
        n = min(n, DRAIN_LIMIT)
        while n > 0 and (chunk := self.rfile.read(min(n, 1 << 16))):
            n -= len(chunk)

    def colorize(self, data: bytes) -> dict:
        srv = self.server
        rgb, alpha = decode(data, srv.max_pixels)
        with srv.lock:  # one photo at a time: memory stays bounded, the cores go to that photo
            color, gray = colorize_with_gray(rgb, srv.model, srv.size)
        if alpha is not None:  # transparency is kept, as in `colorbench colorize`
            color, gray = np.dstack([color, alpha]), np.dstack([gray, alpha])
        h, w = rgb.shape[:2]
        return {"gray": png_data_url(gray), "color": png_data_url(color), "width": w, "height": h}


class Server(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a photo in progress

    def handle_error(self, request, client_address):  # one line, not a traceback
        print(f"colorbench serve: request from {client_address[0]} failed: {sys.exc_info()[1]!r}", file=sys.stderr)


def make_server(host: str = "127.0.0.1", port: int = 8000, weights=None, size: int | None = None,
                max_upload_mb: float = 20.0, max_pixels: int = 40_000_000) -> Server:
    """A server ready to `serve_forever()`; the model is loaded now, so bad weights fail here."""
    model, info = load_colorizer(weights)
    try:
        srv = Server((host, port), Handler)
    except OSError as e:
        raise ValueError(f"cannot listen on {host}:{port} ({e.strerror or e}); try another --port") from None
    srv.model, srv.size, srv.lock = model, size or recommended_size(info), threading.Lock()
    srv.max_upload_mb, srv.max_bytes, srv.max_pixels = max_upload_mb, int(max_upload_mb * 2**20), max_pixels
    return srv


def serve(host: str = "127.0.0.1", port: int = 8000, weights=None, size: int | None = None,
          max_upload_mb: float = 20.0) -> None:
    """Serve until Ctrl-C."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we refuse those with a message anyway
    srv = make_server(host, port, weights, size, max_upload_mb)
    h, p = srv.server_address[:2]
    print(f"colorbench serve: open http://{h}:{p}/ (Ctrl-C to stop)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        print("colorbench serve: stopped", file=sys.stderr)
    finally:
        srv.server_close()
