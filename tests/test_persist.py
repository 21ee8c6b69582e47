"""The persistence layer: atomic writes that never leave a half file or a stray temp file, and readers
that refuse damaged or crafted files in one line."""

import errno
import json
import math
import os

import pytest
import torch
from safetensors.torch import save_file

from colorbench.models import create_model, load_model, save_model
from colorbench.persist import (ReadError, WriteError, claim_folder, load_state, read_json, save_state, write_json,
                                write_text)


def test_strict_json_round_trip(tmp_path):
    write_json(tmp_path / "r.json", {"a": float("inf"), "b": [float("nan"), 1.5], "c": "x"})
    text = (tmp_path / "r.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    r = read_json(tmp_path / "r.json")
    assert r["a"] == float("inf") and math.isnan(r["b"][0]) and r["b"][1] == 1.5


def test_damaged_json_is_one_line(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ReadError, match="nested too deeply"):
        read_json(tmp_path / "deep.json")
    (tmp_path / "half.json").write_text('{"a": 1')
    with pytest.raises(ReadError, match="not valid JSON"):
        read_json(tmp_path / "half.json")


def test_a_full_disk_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    write_text(tmp_path / "f.txt", "old")

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", full)
    with pytest.raises(WriteError, match="no space left on the disk while writing .*f.txt"):
        write_text(tmp_path / "f.txt", "new")
    monkeypatch.undo()
    assert (tmp_path / "f.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_saved_weights_are_readable_as_any_new_file_is(tmp_path):
    import stat

    from colorbench.persist import save_tensors

    umask = os.umask(0)
    os.umask(umask)
    (tmp_path / "plain.txt").write_text("x")  # what Python makes of a new file under this umask (0644 for 022)
    mode = stat.S_IMODE(save_tensors(tmp_path / "w.safetensors", {"x": torch.ones(2)}).stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o666 & ~umask
    assert mode & 0o044 or umask & 0o044  # safetensors alone writes 0600: others could not load the weights


def test_unwritable_places_are_named_in_one_line_without_the_temp_file(tmp_path, monkeypatch):
    (tmp_path / "keep.bak").write_text("mine")
    with pytest.raises(WriteError) as e:
        write_text(tmp_path / "keep.bak" / "x.txt", "new")
    assert str(e.value) == (f"cannot write {tmp_path}/keep.bak/x.txt: {tmp_path}/keep.bak is a file, not a folder; "
                            "choose another place to write")
    assert (tmp_path / "keep.bak").read_text() == "mine"

    def denied(self, *a, **k):  # chmod does not stop root, who runs CI: raise as the OS would
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr("pathlib.Path.write_text", denied)
    with pytest.raises(WriteError) as e:
        write_text(tmp_path / "f.txt", "new")
    assert str(e.value) == (f"cannot write {tmp_path}/f.txt: permission denied in {tmp_path}; choose another place "
                            "to write (nothing was replaced)")
    assert ".tmp" not in str(e.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04truncated", os.urandom(4096)])
def test_damaged_checkpoints_are_refused_in_one_line(tmp_path, content):
    good = tmp_path / "good.pt"
    save_state({"epoch": 1, "x": torch.ones(3)}, good)
    assert load_state(good)["epoch"] == 1
    bad = tmp_path / "state.pt"
    bad.write_bytes(content or b"")
    with pytest.raises(ReadError) as e:
        load_state(bad)
    msg = str(e.value)
    assert "state.pt" in msg and "\n" not in msg and "weights_only=False" not in msg
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ReadError, match="damaged"):
        load_state(truncated)


def test_claim_folder_never_touches_someone_elses_files(tmp_path):
    assert claim_folder(tmp_path / "new", "config.json", "run folder", resume=False, overwrite=False) is False
    assert not (tmp_path / "new").exists()  # claiming creates nothing
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    for resume, overwrite in ((False, False), (True, False), (False, True)):
        with pytest.raises(ReadError, match="not a colorbench run folder"):
            claim_folder(mine, "config.json", "run folder", resume, overwrite)
    assert (mine / "thesis.txt").read_text() == "precious"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ReadError, match="is a file"):
        claim_folder(tmp_path / "afile", "config.json", "run folder", False, False)


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / ".state.pt.999999999.tmp").write_bytes(b"half")  # a pid that cannot be running
    (run / f".state.pt.{os.getpid()}.tmp").write_bytes(b"mine")  # ours: kept
    assert claim_folder(run, "config.json", "run folder", resume=True, overwrite=False) is True
    assert sorted(p.name for p in run.iterdir()) == sorted(["config.json", f".state.pt.{os.getpid()}.tmp"])


# ---------------------------------------------------------------------------------------------
# weights: crafted or damaged metadata and tensors


def crafted(tmp_path, meta, tensors=None):
    path = tmp_path / "w.safetensors"
    tensors = tensors if tensors is not None else create_model("cnn", width=4).state_dict()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path),
              metadata={"colorbench": meta if isinstance(meta, str) else json.dumps(meta)})
    return path


GOOD = {"model": {"name": "cnn", "kwargs": {"width": 4}}}


@pytest.mark.parametrize("meta,words", [
    ({"model": {"name": "cnn", "kwargs": {"width": 4, "wings": 2}}}, "cannot build 'cnn'"),
    ([1, 2, 3], "no model entry"),
    ({"config": {}}, "no model entry"),
    ({"model": {"name": "cnn", "kwargs": [4]}}, "not a mapping"),
    ({"model": {"name": "resnet9000", "kwargs": {}}}, "does not have"),
    ({"model": {"name": "cnn", "kwargs": {"width": 100000}}}, "far past any colorbench model"),
    ({"model": {"name": "cnn", "kwargs": {"width": 3000}}}, "far past any colorbench model"),
    ({"model": {"name": "cnn", "kwargs": {"width": 8}}}, "does not match|needs float"),
    ('{"model": ' * 50_000 + "1" + "}" * 50_000, "nested too deeply"),
])
def test_crafted_weights_metadata_is_refused_before_anything_big_is_built(tmp_path, meta, words):
    with pytest.raises(ReadError, match=words) as e:
        load_model(crafted(tmp_path, meta))
    assert "\n" not in str(e.value)


def test_missing_unexpected_and_misshapen_tensors_are_refused(tmp_path):
    state = create_model("cnn", width=4).state_dict()
    first = next(iter(state))
    with pytest.raises(ReadError, match="missing"):
        load_model(crafted(tmp_path, GOOD, {k: v for k, v in state.items() if k != first}))
    with pytest.raises(ReadError, match="unexpected"):
        load_model(crafted(tmp_path, GOOD, {**state, "net.evil": torch.zeros(1)}))
    with pytest.raises(ReadError, match="needs float"):
        load_model(crafted(tmp_path, GOOD, {**state, first: torch.zeros(3, 3)}))


def test_non_finite_weights_are_refused_not_turned_into_gray(tmp_path):
    m = create_model("cnn", width=4)
    m.net[0][0].weight.data[0, 0, 0, 0] = float("nan")
    save_model(m, tmp_path / "nan.safetensors")
    with pytest.raises(ReadError, match="NaN or infinity"):
        load_model(tmp_path / "nan.safetensors")


def test_a_truncated_weights_file_is_one_line(tmp_path):
    save_model(create_model("cnn", width=4), tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError):
        load_model(tmp_path / "cut.safetensors")
