"""`colorbench serve`: a local web page to colorize one photo. Standard library server, one page,
no external URLs: the photo never leaves this computer."""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import warnings
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image, UnidentifiedImageError

from .colorize import (UsageError, at_temperature, by_colour, check_hints, colorize_strips, decodes_bins,
                       load_colorizer, network_lightness, recommended_size, suggest_colors)
from .data import to_rgb_array
from .inputs import HINT_CHANNELS

DRAIN_LIMIT = 64 << 20  # read (and drop) at most this much of a refused upload
SLOTS = 2  # photos colorized at once: each needs ~0.7 GB at 40 megapixels (measured) and shares the cores
BUSY_WAIT = 2.0  # seconds an upload waits for a free slot before it is answered 503 (not queued)
RETRY_AFTER = 5  # seconds, the Retry-After of that answer
MAX_ASPECT = 20  # the network sees the short side at `size` pixels: a 1000:1 strip would be a huge input
KEPT = 4  # photos kept in memory for their colour points (the latest uploads): each is its uint8 pixels
MAX_HINT_BYTES = 1 << 16  # a points request: JSON of at most this size (hundreds of points)
# the colour strengths the page offers (annealed-mean T, beside the weights' own): a fixed few, so that the
# copies of the weights decoding at them stay few too
STRENGTHS = (0.3, 0.45, 0.7, 0.85, 1.0)

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
.stage{position:relative;display:inline-block;max-width:100%} .stage img{cursor:crosshair}
.pt{position:absolute;width:18px;height:18px;margin:-9px 0 0 -9px;border-radius:50%;border:2px solid #fff;
 box-shadow:0 0 0 1px #000,0 1px 4px rgba(0,0,0,.5);cursor:move;touch-action:none;background:#888}
.pt.on{box-shadow:0 0 0 2px var(--accent),0 1px 4px rgba(0,0,0,.5)}
#picker{position:absolute;z-index:2;width:230px;background:#fff;border:1px solid var(--line);border-radius:8px;
 padding:10px;box-shadow:0 4px 14px rgba(0,0,0,.2);font-size:.9rem;text-align:left}
#swatches{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0} #swatches button{width:30px;height:30px;border-radius:6px;
 border:1px solid #0003;cursor:pointer;padding:0} #swatches button.on{outline:3px solid var(--accent)}
#picker .row{display:flex;gap:8px;align-items:center;justify-content:space-between;margin-top:4px}
#pointsinfo{color:var(--muted);font-size:.9rem;margin-top:6px;text-align:center}
#strengthrow{gap:10px} #strengthrow label{font-weight:600} .ends,#strengthinfo{color:var(--muted);font-size:.9rem}
#strength{width:220px;accent-color:var(--accent)}
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
<figure><div class="stage" id="stage"><img id="result" alt="the colorized photo"><div id="picker" hidden>
<strong>Colour at this point</strong><div id="sugtitle">Most likely here:</div><div id="swatches"></div>
<div class="row"><label>Any colour <input id="pick" type="color" value="#808080"></label>
<button id="remove" type="button">Remove</button></div></div></div>
<figcaption>Colorized: the colours are the model's guess</figcaption>
<div id="pointsinfo" hidden>Click the colorized photo to set a colour there; drag a point to move it, select it and
press Delete (or Remove) to take it away.</div></figure></div>
<div class="actions" id="strengthrow" hidden><label for="strength">Colour</label><span class="ends">less</span>
<input id="strength" type="range" min="0" max="0" step="1" value="0"><span class="ends">more</span>
<span id="strengthinfo"></span></div>
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
    photo = {id: data.id, width: data.width, height: data.height, hints: data.hints, tuned: data.tuned}; points = []; active = -1;
    strengths = data.strengths || []; $('strengthrow').hidden = strengths.length < 2;
    $('strength').max = strengths.length - 1; $('strength').value = Math.max(0, strengths.indexOf(data.temperature));
    showStrength();
    picker.hidden = true; draw(); $('pointsinfo').hidden = !data.hints;
    $('results').hidden = false; document.body.classList.add('done');
  } catch (e) {
    fail(e instanceof TypeError ? 'Cannot reach colorbench: is "colorbench serve" still running?'
                                : `Could not colorize "${file.name}": ${e.message}`);
  } finally { busy = false; document.body.classList.remove('busy'); $('status').hidden = true; $('file').value = ''; }
}
// colour points: click the result to place one, pick a suggested or any colour, drag it, delete it
let photo = null, points = [], active = -1, inflight = false, again = false, strengths = [];
const stage = $('stage'), picker = $('picker');
function coloured() { return points.filter(p => p.color).map(p => ({x: p.x, y: p.y, color: p.color})); }
function draw() {
  stage.querySelectorAll('.pt').forEach(e => e.remove());
  points.forEach((p, i) => {
    const d = document.createElement('div'); d.className = 'pt' + (i === active ? ' on' : '');
    d.style.left = (100 * (p.x + 0.5) / photo.width) + '%'; d.style.top = (100 * (p.y + 0.5) / photo.height) + '%';
    d.style.background = p.color || '#888'; d.dataset.i = i; d.title = `(${p.x}, ${p.y}) ${p.color || ''}`;
    d.addEventListener('pointerdown', grab); stage.appendChild(d);
  });
}
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({error: `the server answered ${r.status} ${r.statusText}`}));
  if (!r.ok || data.error) throw new Error(data.error || `the server answered ${r.status}`);
  return data;
}
async function refresh() {  // one request at a time; changes made meanwhile are sent right after
  if (inflight) { again = true; return; }
  inflight = true; $('status').hidden = false;
  try {
    const data = await post('/recolor', {id: photo.id, hints: coloured(), temperature: strengths[+$('strength').value]});
    urls.forEach(u => URL.revokeObjectURL(u)); urls = [];
    $('result').src = $('download').href = await blobUrl(data.color);
    $('error').hidden = true;
  } catch (e) { fail(`Could not apply the colour points: ${e.message}`); }
  finally { inflight = false; $('status').hidden = true; if (again) { again = false; refresh(); } }
}
function place(i) {  // the picker beside point i
  active = i; draw(); const p = points[i];
  picker.hidden = false;
  const fx = (p.x + 0.5) / photo.width, fy = (p.y + 0.5) / photo.height;
  picker.style.left = Math.min(Math.max(0, fx * stage.clientWidth + 14), Math.max(0, stage.clientWidth - 230)) + 'px';
  picker.style.top = Math.min(fy * stage.clientHeight + 14, Math.max(0, stage.clientHeight - 40)) + 'px';
  $('pick').value = p.color || '#808080';
  $('swatches').textContent = ''; $('sugtitle').textContent = 'Most likely here: finding\u2026';
  const others = points.filter((q, j) => j !== i && q.color).map(q => ({x: q.x, y: q.y, color: q.color}));
  post('/suggest', {id: photo.id, x: p.x, y: p.y, hints: others}).then(data => {
    if (active !== i) return;
    $('sugtitle').textContent = data.colors.length ? 'Most likely here:' : 'No suggestions from these weights.';
    data.colors.forEach(c => {
      const b = document.createElement('button'); b.type = 'button'; b.style.background = c.color;
      b.title = `${c.color}, ${(100 * c.p).toFixed(0)}%`; b.className = 'swatch' + (c.color === p.color ? ' on' : '');
      b.addEventListener('click', () => { set(c.color); }); $('swatches').appendChild(b);
    });
  }).catch(e => { $('sugtitle').textContent = `No suggestions: ${e.message}`; });
}
function set(color) {
  if (active < 0) return; points[active].color = color; $('pick').value = color;
  $('swatches').querySelectorAll('button').forEach(b => b.classList.toggle('on', b.title.startsWith(color)));
  draw(); refresh();
}
function remove() {
  if (active < 0) return; const had = points[active].color; points.splice(active, 1); active = -1;
  picker.hidden = true; draw(); if (had) refresh();
}
function at(e) {  // pixel of the photo under the pointer
  const r = $('result').getBoundingClientRect();
  return {x: Math.min(photo.width - 1, Math.max(0, Math.floor((e.clientX - r.left) / r.width * photo.width))),
          y: Math.min(photo.height - 1, Math.max(0, Math.floor((e.clientY - r.top) / r.height * photo.height)))};
}
function grab(e) {
  e.preventDefault(); e.stopPropagation();
  const i = +e.target.dataset.i, d = e.target; let moved = false;
  d.setPointerCapture(e.pointerId);
  d.onpointermove = m => { const q = at(m); Object.assign(points[i], q); moved = true;
    d.style.left = (100 * (q.x + 0.5) / photo.width) + '%'; d.style.top = (100 * (q.y + 0.5) / photo.height) + '%'; };
  d.onpointerup = () => { d.onpointermove = d.onpointerup = null; if (moved) { picker.hidden = true; active = i; draw();
    if (points[i].color) refresh(); } else place(i); };
}
$('result').addEventListener('click', e => {
  if (!photo || !photo.hints) return;
  if (!picker.hidden && active >= 0 && !points[active].color) points.splice(active, 1);  // an unused point goes
  points.push(at(e)); place(points.length - 1);
});
$('pick').addEventListener('input', e => set(e.target.value));
function showStrength() {  // the annealed-mean T of the chosen strength, and which one the weights were tuned at
  const t = strengths[+$('strength').value];
  $('strengthinfo').textContent = t === undefined ? '' : `T ${t}` + (t === photo.tuned ? ' (as tuned)' : '');
}
$('strength').addEventListener('input', showStrength);
$('strength').addEventListener('change', () => { if (photo) refresh(); });
$('remove').addEventListener('click', remove);
addEventListener('keydown', e => { if ((e.key === 'Delete' || e.key === 'Backspace') && active >= 0 &&
  e.target.tagName !== 'INPUT') remove(); if (e.key === 'Escape') { picker.hidden = true; active = -1; draw(); } });
$('file').addEventListener('change', e => send(e.target.files[0]));
// drops anywhere on the page count (a near miss must not make the browser open the file instead)
addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
addEventListener('dragleave', e => { if (!e.relatedTarget) drop.classList.remove('over'); });
addEventListener('drop', e => { e.preventDefault(); drop.classList.remove('over'); send(e.dataTransfer.files[0]); });
</script></body></html>
"""
# the page may load nothing from anywhere, nor be framed by another page: a browser-enforced promise
# that the photo stays here, and no clickjacking
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data: blob:; "
       "connect-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
ANY_ADDRESS = ("", "0.0.0.0", "::")


class Refused(Exception):
    """A refused request: Refused(HTTP status, a one-line reason for the person who sent it, extra headers)."""

    def __init__(self, status: int, reason: str, headers: dict | None = None):
        super().__init__(status, reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


def decode(data: bytes, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Upload bytes -> (RGB, alpha or None); the pixel count and shape are checked before anything is decoded."""
    try:
        with Image.open(io.BytesIO(data)) as img:  # lazy: reads the header only
            w, h = img.size
            if w * h > max_pixels:
                raise Refused(400, f"the image is {w} x {h} pixels ({w * h / 1e6:.0f} megapixels); "
                                   f"the limit is {max_pixels / 1e6:g} megapixels")
            if max(w, h) > MAX_ASPECT * min(w, h):
                raise Refused(400, f"the image is {w} x {h} pixels: too long and narrow to colorize "
                                   f"(at most {MAX_ASPECT}:1)")
            img.load()
            return to_rgb_array(img)
    except Image.DecompressionBombError as e:
        raise Refused(400, f"the image is too large: {e}") from None
    except UnidentifiedImageError:
        raise Refused(415, "this file is not a picture this program can read (try a JPEG, PNG or TIFF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise Refused(400, f"cannot read this image; is the file complete? ({e})") from None


def png_data_url(a: np.ndarray) -> list[bytes]:
    """The data: URL as two pieces, so that a big photo's PNG is not copied once more to join them."""
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=3)  # a big photo: speed over a few % of size
    return [b"data:image/png;base64,", base64.b64encode(buf.getbuffer())]


def printable(s: str, limit: int = 200) -> str:
    """A client's text for one log or error line: control characters escaped, at most `limit` characters."""
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s[:limit + 1])
    return s if len(s) <= limit else s[:limit] + "..."


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The Host headers answered: the names of the address served, so that a page from another site
    cannot drive this server through DNS rebinding. None (any) when listening on all addresses."""
    if host in ANY_ADDRESS:
        return None
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host.lower()}
    return {f"{n}:{port}" for n in names} | (names if port == 80 else set())  # port 80 may go unsaid


class Handler(BaseHTTPRequestHandler):
    server_version = "colorbench"
    default_request_version = "HTTP/1.0"  # a malformed request line is answered with a status line too
    timeout = 60  # a client that stalls mid-upload does not hold a thread forever

    # the request line may be malformed or over-long: then there is no path (nor command) to log
    def log_request(self, code="-", size="-"):
        what = f"{getattr(self, 'command', None) or '?'} {getattr(self, 'path', '(no path)')}"
        print(f"colorbench serve: {printable(what)} -> {code}", file=sys.stderr)

    def log_message(self, format, *args):
        print(f"colorbench serve: {printable(format % args)}", file=sys.stderr)

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (an over-long or malformed request line, huge headers): one line of
        JSON like every other error here."""
        self.close_connection = True
        self.reply_json(code, {"error": printable(message or HTTPStatus(code).phrase)}, {"Connection": "close"})

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        try:
            self.check_host()
        except Refused as e:
            self.close_connection = True
            self.reply_json(e.status, {"error": e.reason})
            return False
        return True

    def check_host(self) -> None:
        hosts = self.headers.get_all("Host") or []  # none: not a browser, so not a rebinding attack
        if len(hosts) > 1:
            raise Refused(400, "the request has more than one Host header")
        allowed = self.server.allowed_hosts
        if hosts and allowed is not None and hosts[0].strip().lower() not in allowed:
            raise Refused(421, f"this server answers only to {' or '.join(sorted(allowed))}, "
                               f"not to {printable(hosts[0], 80)!r}")

    def reply(self, status: int, body: bytes | list[bytes], ctype: str, headers: dict | None = None) -> None:
        parts = [body] if isinstance(body, bytes) else body
        self.send_response(status)
        for k, v in {"Content-Type": ctype, "Content-Length": str(sum(map(len, parts))), "Cache-Control": "no-store",
                     "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            for p in parts:
                self.wfile.write(p)

    def reply_json(self, status: int, obj: dict, headers: dict | None = None) -> None:
        self.reply(status, json.dumps(obj).encode(), "application/json", headers)

    def do_GET(self):
        if self.path.split("?")[0] != "/":
            return self.reply_json(404, {"error": f"no such page: {printable(self.path)}"})
        page = PAGE.replace("__MAX_MB__", f"{self.server.max_upload_mb:g}").replace("__MAX_BYTES__", str(self.server.max_bytes))
        self.reply(200, page.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": CSP})

    def do_HEAD(self):  # what GET would answer, headers only (reply() sends no body to a HEAD)
        self.do_GET()

    def do_POST(self):
        try:
            route = self.path.split("?")[0]
            if route not in ("/colorize", "/recolor", "/hints", "/suggest"):
                self.close_connection = True  # the body is not read
                return self.reply_json(404, {"error": f"no such page: {printable(self.path)}"})
            n = self.body_length()
            if route != "/colorize":
                return self.points(route, n)
            # a few photos at a time, the others told to come back: memory stays bounded under any burst
            if not self.server.slots.acquire(timeout=BUSY_WAIT):
                self.discard(n)
                raise Refused(503, "busy: another photo is being colorized; retry in a moment",
                              {"Retry-After": str(RETRY_AFTER)})
            try:
                self.reply(200, self.colorize(self.read_body(n)), "application/json")
            finally:
                self.server.slots.release()
        except Refused as e:
            self.close_connection = True
            self.reply_json(e.status, {"error": e.reason}, e.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away: nobody to answer
        except Exception as e:  # a bug, or out of memory: say so, and keep serving
            print(f"colorbench serve: {type(e).__name__}: {e}", file=sys.stderr)
            self.reply_json(500, {"error": f"internal error: {str(e) or type(e).__name__}"})

    def body_length(self) -> int:
        """The upload's size, from its headers; a refused upload over the limit is drained."""
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise Refused(411, "the upload has no Content-Length")
        if len(lengths) > 1:  # which one frames the body? Proxies may disagree: refuse
            raise Refused(400, f"the upload has {len(lengths)} Content-Length headers; send one")
        length = lengths[0]
        n = int(length) if length.strip().isdigit() else -1
        if n < 0:
            raise Refused(400, f"bad Content-Length: {printable(length, 40)!r}")
        if n == 0:
            raise Refused(400, "the upload is empty: send the image file's bytes")
        if n > self.server.max_bytes:
            self.discard(n)
            raise Refused(413, f"the file is {n / 2**20:.1f} MB; the limit is {self.server.max_upload_mb:g} MB")
        return n

    def read_body(self, n: int) -> bytes:
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

    def colorize(self, data: bytes) -> list[bytes]:
        """Upload bytes -> the JSON answer, in pieces: only uint8 images and PNGs are full size. The photo
        is kept (the latest KEPT) under an id, for colour points placed on it later."""
        import secrets

        srv = self.server
        rgb, alpha = decode(data, srv.max_pixels)
        h, w = rgb.shape[:2]
        color, gray = colorize_strips(rgb, srv.model, srv.size)
        photo = secrets.token_hex(8)
        with srv.lock:
            srv.photos[photo] = (rgb, alpha)
            while len(srv.photos) > KEPT:
                srv.photos.pop(next(iter(srv.photos)))
        del rgb
        if alpha is not None:  # transparency is kept, as in `colorbench colorize`
            color, gray = np.dstack([color, alpha]), np.dstack([gray, alpha])
        gray_url = png_data_url(gray)
        del gray
        about = {"width": w, "height": h, "id": photo, "hints": srv.hint_model is not None,
                 "strengths": srv.strengths, "temperature": srv.temperature, "tuned": srv.tuned}
        # the object's JSON without its closing brace, then the two big PNGs appended in pieces (never joined)
        return [json.dumps(about)[:-1].encode(), b', "gray": "', *gray_url,
                b'", "color": "', *png_data_url(color), b'"}']

    def points(self, route: str, n: int) -> None:
        """/recolor {"id", "hints": [{"x", "y", "color"}], "temperature": T} -> {"color": the kept photo colorized
        again with those points (none: the automatic colour) at that colour strength (one of "strengths");
        /hints: the same, for weights that take colour points; /suggest {"id", "x", "y", "hints"} ->
        {"colors": [{"color", "p"}]}, the likeliest colours at (x, y)."""
        srv = self.server
        if n > MAX_HINT_BYTES:
            self.discard(n)
            raise Refused(413, f"a points request is at most {MAX_HINT_BYTES // 1024} KB")
        if srv.hint_model is None and route != "/recolor":
            self.discard(n)
            raise Refused(409, NO_POINTS)
        try:
            req = json.loads(self.read_body(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Refused(400, "the request is not JSON") from None
        if not isinstance(req, dict):
            raise Refused(400, "the request is not a JSON object")
        with srv.lock:
            photo = srv.photos.get(str(req.get("id")))
        if photo is None:
            raise Refused(410, "this photo is no longer here (the server keeps the latest few): drop it again")
        rgb, alpha = photo
        h, w = rgb.shape[:2]
        t = req.get("temperature")
        if t is not None and (isinstance(t, bool) or t not in srv.strengths):
            offered = ", ".join(f"{v:g}" for v in srv.strengths) or "none: these weights predict ab directly"
            raise Refused(400, f"temperature {printable(str(t), 20)} is not one of the colour strengths offered ({offered})")
        try:
            hints = check_hints(req.get("hints", []), w, h, "points")
            if len(hints) and srv.hint_model is None:
                raise Refused(409, NO_POINTS)
            if route == "/suggest":
                x, y = req.get("x"), req.get("y")
                check_hints([(x, y, "#000000")], w, h, "point")
        except UsageError as e:
            raise Refused(400, str(e)) from None
        if not srv.slots.acquire(timeout=BUSY_WAIT):
            raise Refused(503, "busy: another photo is being colorized; retry in a moment", {"Retry-After": str(RETRY_AFTER)})
        try:
            if route == "/suggest":
                small = network_lightness(rgb, srv.size) / 100
                light = float(network_lightness(rgb[int(y):int(y) + 1, int(x):int(x) + 1], 1)[0, 0, 0, 0])
                colors = suggest_colors(srv.hint_model, small, light, (x + 0.5) / w, (y + 0.5) / h, hints)
                return self.reply_json(200, {"colors": colors})
            # no points: the automatic colour; at the first strength, the result first shown
            model = srv.variant("hints" if len(hints) else "auto", srv.temperature if t is None else t)
            color, _ = colorize_strips(rgb, model, srv.size, hints=hints if len(hints) else None)
        finally:
            srv.slots.release()
        if alpha is not None:
            color = np.dstack([color, alpha])
        self.reply(200, [b'{"color": "', *png_data_url(color), b'"}'], "application/json")


NO_POINTS = "these weights take no colour points; start colorbench serve with weights that do (--weights hints)"


class Server(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a photo in progress
    request_queue_size = 128  # a burst of uploads waits to be accepted instead of being reset

    def variant(self, which: str, temperature: float | None):
        """The automatic ("auto") or colour-point ("hints") weights decoding at one of the offered
        strengths: made once each (a copy of the weights, a few MB), kept while the server runs."""
        base = self.model if which == "auto" else self.hint_model
        if temperature is None or temperature == self.temperature or not decodes_bins(base):
            return base  # the first strength: each weights at their own (the colour points' as trained)
        with self.lock:
            key = (which, temperature)
            if key not in self.variants:
                self.variants[key] = at_temperature(base, temperature)
            return self.variants[key]

    def handle_error(self, request, client_address):  # one line, not a traceback
        print(f"colorbench serve: request from {client_address[0]} failed: {sys.exc_info()[1]!r}", file=sys.stderr)


def make_server(host: str = "127.0.0.1", port: int = 8000, weights=None, size: int | None = None,
                max_upload_mb: float = 20.0, max_megapixels: float = 40.0, temperature: float | None = None) -> Server:
    """A server ready to `serve_forever()`; the model is loaded now, so bad weights fail here. temperature:
    the automatic colour's annealed-mean T (`load_colorizer`); colour points keep their weights' own."""
    if not 0 <= port <= 65535:  # 0 (any free port) is for tests
        raise ValueError(f"--port must be between 1 and 65535, not {port}")
    for option, value in (("--max-upload-mb", max_upload_mb), ("--max-megapixels", max_megapixels)):
        if not value > 0:
            raise ValueError(f"{option} must be positive, not {value:g}")
    model, info = load_colorizer(weights, temperature=temperature)
    hint_model = model if model.in_channels == HINT_CHANNELS else None
    if hint_model is None and weights in (None, "default"):  # the shipped weights that take colour points
        try:
            hint_model, _ = load_colorizer(None, hints=True)
        except (OSError, ValueError):  # none shipped: the page offers no points
            hint_model = None
    try:
        srv = Server((host, port), Handler)
    except OSError as e:
        raise ValueError(f"cannot listen on {host}:{port} ({e.strerror or e}); try another --port") from None
    srv.model, srv.size, srv.slots = model, size or recommended_size(info), threading.BoundedSemaphore(SLOTS)
    srv.hint_model, srv.photos, srv.lock, srv.variants = hint_model, {}, threading.Lock(), {}
    # the colour strengths offered, least colour first (measured: its direction depends on the weights)
    srv.tuned = round(float(load_colorizer(weights)[0].decode.temperature), 4) if decodes_bins(model) else None
    srv.temperature = round(float(model.decode.temperature), 4) if decodes_bins(model) else None
    srv.strengths = by_colour(model, {*STRENGTHS, srv.tuned, srv.temperature}) if decodes_bins(model) else []
    srv.max_upload_mb, srv.max_bytes = max_upload_mb, int(max_upload_mb * 2**20)
    srv.max_pixels = int(max_megapixels * 1e6)
    srv.allowed_hosts = allowed_hosts(host, srv.server_address[1])
    return srv


def serve(host: str = "127.0.0.1", port: int = 8000, weights=None, size: int | None = None,
          max_upload_mb: float = 20.0, max_megapixels: float = 40.0, temperature: float | None = None) -> None:
    """Serve until Ctrl-C."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we refuse those with a message anyway
    srv = make_server(host, port, weights, size, max_upload_mb, max_megapixels, temperature)
    h, p = srv.server_address[:2]
    print(f"colorbench serve: open http://{h}:{p}/ (Ctrl-C to stop)", flush=True)
    if srv.allowed_hosts is None:
        print("colorbench serve: listening on all addresses, so requests for any host name are answered: "
              "use this on a network you trust", file=sys.stderr)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        print("colorbench serve: stopped", file=sys.stderr)
    finally:
        srv.server_close()
