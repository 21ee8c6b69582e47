"""Persistence: every file colorbench writes goes through here, and every file it reads back is checked.

Writes go to a temp file beside the target and `os.replace` it, so a kill or a full disk never leaves
a file that looks complete, and never a stray temp file. Readers validate what they read and fail in
one line (`ReadError`) that names the file, says what is wrong and what to do.

  write_text / write_bytes / write_json      atomic; JSON is strict (inf and nan as strings)
  read_json                                  strict JSON back, non-finite floats restored
  save_state / load_state                    torch checkpoints (tensors and plain data only)
  save_tensors / load_tensors                safetensors with a JSON metadata entry
  claim_folder                               make a run folder ours, or refuse to touch another's
"""

from __future__ import annotations

import errno
import json
import math
import os
import pickle
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

META_KEY = "colorbench"  # the safetensors metadata entry that holds our JSON
MAX_JSON_BYTES = 64 << 20  # a metadata or results file larger than this is not one of ours


class ReadError(ValueError):
    """A file colorbench cannot use, explained in one line."""


class WriteError(OSError):
    """A file colorbench could not write (the old one, if any, is untouched)."""

    def __str__(self) -> str:  # the sentence alone, without OSError's "[Errno 28]"
        return self.strerror or super().__str__()


# ---------------------------------------------------------------------------------------------
# atomic writes


_UMASK = os.umask(0)
os.umask(_UMASK)


def _temp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files left by writers that were killed (their pid no longer runs)."""
    for tmp in Path(folder).glob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(temp_path)`, then rename the temp file to `path`. On any failure the temp file is
    removed and `path` keeps its old content; a full disk becomes one clear `WriteError`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in (path.parent, *path.parent.parents) if p.exists() and not p.is_dir())
        raise WriteError(errno.ENOTDIR, f"cannot write {path}: {blocker} is a file, not a folder; choose another "
                                        "place to write") from None
    except PermissionError:
        raise WriteError(errno.EACCES, f"cannot write {path}: permission denied to make its folder; choose "
                                       "another place to write") from None
    tmp = _temp_for(path)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # as any new file: some writers (safetensors) make theirs private (0600)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, PermissionError):  # the temp file's name would only confuse
            raise WriteError(errno.EACCES, f"cannot write {path}: permission denied in {path.parent}; choose "
                                           "another place to write (nothing was replaced)") from None
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise WriteError(e.errno, f"no space left on the disk while writing {path}; free some space and "
                                      "run again (nothing was replaced)") from None
        if isinstance(e, RuntimeError) and "write" in str(e).lower() and "file" in str(e).lower():
            raise WriteError(errno.EIO, f"could not write {path} ({e}); check the disk and run again") from None
        raise
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda t: t.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda t: t.write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# strict JSON


def to_strict(x):
    """Non-finite floats as the strings "inf", "-inf", "nan", so files stay strict JSON (a browser's
    JSON.parse rejects Infinity); `from_strict` reads them back."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: to_strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_strict(v) for v in x]
    return x


def from_strict(x):
    if isinstance(x, str) and x in ("inf", "-inf", "nan"):
        return float(x)
    if isinstance(x, dict):
        return {k: from_strict(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_strict(v) for v in x]
    return x


def dumps(obj, indent: int | None = 1) -> str:
    return json.dumps(to_strict(obj), indent=indent, allow_nan=False)


def loads(text: str, where: str = "JSON"):
    """Strict JSON -> Python, non-finite floats restored; damaged or absurdly nested input is a ReadError."""
    if len(text) > MAX_JSON_BYTES:
        raise ReadError(f"{where}: {len(text) / 2**20:.0f} MB of JSON is more than colorbench ever writes; "
                        "is it the right file?")
    try:
        return from_strict(json.loads(text))
    except RecursionError:
        raise ReadError(f"{where}: JSON nested too deeply to be colorbench's; the file is damaged or crafted") from None
    except ValueError as e:
        raise ReadError(f"{where}: not valid JSON ({e}); the file is damaged, write it again") from None


def write_json(path: str | os.PathLike, obj, indent: int | None = 1) -> Path:
    return write_text(path, dumps(obj, indent))


def read_json(path: str | os.PathLike, what: str = "file"):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReadError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReadError(f"{path}: cannot read this {what} ({e})") from None
    return loads(text, str(path))


def memo(path: str | os.PathLike, key: str, compute: Callable[[], object]):
    """`compute()` once per key, remembered in a small JSON file (a cache: unreadable means empty,
    unwritable means computed again next time)."""
    try:
        known = json.loads(Path(path).read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = compute()
        try:
            write_json(path, known)
        except OSError:
            pass
    return known[key]


# ---------------------------------------------------------------------------------------------
# torch checkpoints: tensors and plain data only (weights_only), never arbitrary pickles


def rng_state(g: torch.Generator) -> dict:
    """The RNG states a resumed run restores to continue with the same bits: torch's, `g`'s, CUDA's."""
    s = {"cpu": torch.get_rng_state(), "gen": g.get_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(g: torch.Generator, s: dict) -> None:
    torch.set_rng_state(s["cpu"])
    g.set_state(s["gen"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def save_state(obj, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda t: torch.save(obj, t))


def load_state(path: str | os.PathLike, what: str = "checkpoint") -> dict:
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such {what}")
    if path.stat().st_size == 0:
        raise ReadError(f"{path}: the {what} is empty (a crash or a full disk while it was written?); "
                        "delete it, or start the run again with --overwrite")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 3" on damaged bytes: the error says it all
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError,
            struct.error, KeyError, AttributeError, TypeError, IndexError):
        # torch's own message suggests weights_only=False, i.e. running code from the file: never
        raise ReadError(f"{path}: the {what} is damaged or not colorbench's (it loads tensors and plain data "
                        "only); delete it, or start the run again with --overwrite") from None
    if not isinstance(obj, dict):
        raise ReadError(f"{path}: not a colorbench {what} (holds a {type(obj).__name__})")
    return obj


# ---------------------------------------------------------------------------------------------
# safetensors with metadata


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> Path:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    md = {META_KEY: dumps(meta or {}, indent=None)}
    return atomic_write(path, lambda t: save_file(tensors, str(t), metadata=md))


_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


def read_header(path: str | os.PathLike, what: str = "file") -> tuple[dict[str, tuple[torch.dtype, tuple]], dict]:
    """A safetensors file's tensor names, dtypes and shapes, and its colorbench metadata, from the
    header alone (nothing big is read): what a loader checks before it builds anything."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ValueError("shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n > min(size - 8, MAX_JSON_BYTES):
                raise ValueError("header length is past the end of the file")
            header = json.loads(f.read(n))
        if not isinstance(header, dict):
            raise ValueError("header is not a mapping")
        meta_raw = (header.pop("__metadata__", None) or {}).get(META_KEY)
        tensors = {}
        for k, v in header.items():
            dtype = _DTYPES.get(v.get("dtype")) if isinstance(v, dict) else None
            shape = v.get("shape") if isinstance(v, dict) else None
            if dtype is None or not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
                raise ValueError(f"tensor {k!r} has a bad dtype or shape")
            tensors[k] = (dtype, tuple(shape))
    except (OSError, ValueError, RecursionError, AttributeError, struct.error) as e:
        raise ReadError(f"{path}: not a colorbench {what} ({e})") from None
    if meta_raw is None:
        raise ReadError(f"{path}: a safetensors file without colorbench's metadata; pass one colorbench wrote")
    return tensors, loads(meta_raw, f"{path} (metadata)")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (what a recipe records of the weights a stage starts from)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_tensors(path: str | os.PathLike, what: str = "file") -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a safetensors file colorbench wrote; damage is a one-line ReadError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _, meta = read_header(path, what)
    try:
        return load_file(str(path)), meta
    except (SafetensorError, OSError, ValueError) as e:
        raise ReadError(f"{path}: a damaged safetensors {what} ({e}); write it again") from None


# ---------------------------------------------------------------------------------------------
# run folders


class FolderLock:
    """Held while a process writes a run folder: a second process (a forgotten background job, an
    orphaned worker) is refused instead of interleaving its checkpoints with ours. The operating
    system releases it when the holder exits, however it exits."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # not on this OS: no lock, as before
            return self
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(self.fd, 32).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            self.fd = None
            raise ReadError(f"{self.path.parent} is being written by another colorbench process (pid {holder}); "
                            "wait for it or stop it, then --resume") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode())
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def claim_folder(out: Path, marker: str, kind: str, resume: bool, overwrite: bool | None,
                 owned: tuple[str, ...] = ()) -> bool:
    """Decide whether colorbench may write into `out`, before anything is created.

    `marker` is the file that makes a folder ours (config.json of a run, compare.json of a
    comparison). Returns True when `out` holds an earlier run to continue. Refuses, in one line:
    a folder of someone else's files (whatever the flags), an earlier run without --resume or
    --overwrite (`overwrite=None`: the command has none). With overwrite, the files named in `owned`
    are deleted (nothing else is).
    Creates nothing: a run that fails its checks leaves no folder behind to block a retry.
    """
    if out.exists() and not out.is_dir():
        raise ReadError(f"{out} is a file, not a folder; choose another --out")
    if not out.exists() or not any(out.iterdir()):
        return False
    ours = (out / marker).exists()
    if not ours:
        raise ReadError(f"{out} holds files that are not a colorbench {kind}; refusing to write there: "
                        "choose another --out")
    if resume:
        remove_stale_temps(out)
        return True
    if not overwrite:  # None: this command offers no --overwrite
        how = "--resume to continue it, --overwrite to replace it," if overwrite is False else "--resume to continue it"
        raise ReadError(f"{out} already holds a {kind}; pass {how} or choose another --out")
    for name in owned:
        p = out / name
        if p.is_dir():
            import shutil

            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
    remove_stale_temps(out)
    return False
