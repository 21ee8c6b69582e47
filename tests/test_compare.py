import pytest
import torch

from colorbench import compare as compare_mod
from colorbench.compare import compare
from colorbench.config import CompareConfig, preset_compare
from colorbench.persist import read_json
from colorbench.train import TrainingError
from helpers import MICRO



def cfg(**kw) -> CompareConfig:
    return preset_compare("smoke", **{"seeds": 2, "test_limit": 60, **kw})


@pytest.fixture(scope="module")
def done(micro_compare):
    return micro_compare


def test_compare_writes_everything(done):
    out, report = done
    assert report == out / "report.html" and report.exists()
    for name in ("report.md", "results.json", "compare.json", "samples.safetensors", "figures/losses.png"):
        assert (out / name).exists(), name
    r = read_json(out / "results.json")  # strict JSON: no Infinity or NaN tokens
    assert set(r["models"]) == {"cnn", "unet", "unet_noskip"} and set(r["baselines"]) == {"gray", "mean_color"}
    assert r["data"]["test_images"] == 60 and r["data"]["digest_md5"]
    assert r["versions"]["torch"] == torch.__version__ and r["precision"] in ("fp32", "bf16")
    for m in r["models"].values():
        assert len(m["summary"]["ab_mse"]["values"]) == 2 and len(m["histories"]) == 2
        assert len(m["per_class"]["ab_mse"]) == 10 and len(m["curve"]) == 151
        assert m["precision"] in ("fp32", "bf16")
        assert len(m["histories"][0][0]["curve"]) >= 2  # a running loss several times per epoch
    assert len(r["paired"]) == 3 * 4  # 3 pairs x 4 metrics
    assert all(0 <= p["p"] <= p["p_holm"] <= 1 for p in r["paired"])
    assert (out / "runs" / "unet-s1" / "model.safetensors").exists()


def test_compare_records_what_was_trained_on(done):
    """The counts in results.json are the ones training used (the run's own metrics say so)."""
    out, _ = done
    r = read_json(out / "results.json")
    trained = read_json(out / "runs" / "cnn-s0" / "metrics.json")
    assert r["data"]["train_images"] == trained["train_images"] == 64
    assert r["data"]["val_images"] == trained["val_images"] == 400  # the sample's whole 20%, smoke's val_limit


def test_resume_redoes_nothing(done, monkeypatch):
    out, _ = done

    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(compare_mod, "train", boom)
    compare(cfg(), MICRO, out, resume=True, progress=False, log=lambda *_: None)
    compare(cfg(jobs=2), MICRO, out, resume=True, progress=False, log=lambda *_: None)  # jobs may change
    with pytest.raises(TrainingError, match="another config"):
        compare(cfg(test_limit=50), MICRO, out, resume=True, progress=False)
    asked = []

    def record(run_cfg, folder, **k):
        asked.append(folder.name)
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_mod, "train", record)
    with pytest.raises(KeyboardInterrupt):  # a third seed adds runs, keeping the two done
        compare(cfg(seeds=3), MICRO, out, resume=True, progress=False, log=lambda *_: None)
    assert asked == ["cnn-s2"]
    with pytest.raises(TrainingError, match="already holds"):
        compare(cfg(), MICRO, out, progress=False)


def test_arms_with_changes_and_their_checks(tmp_path):
    c = preset_compare("smoke", arms=["cnn", "cnn,loss=l1,width=8"], seeds=1, test_limit=30)
    compare(c, {"train_limit": 32, "epochs": 1}, tmp_path / "c", progress=False, log=lambda *_: None)
    r = read_json(tmp_path / "c" / "results.json")
    assert r["models"]["cnn,loss=l1,width=8"]["changes"] == {"loss": "l1", "width": 8}
    assert r["models"]["cnn,loss=l1,width=8"]["params"] < r["models"]["cnn"]["params"]
    assert len(r["against_first"]) == 4 and r["against_first"][0]["sources"] == "images only"
    for bad, words in (("cnn,loss=nope", "unknown loss 'nope'"), ("cnn,data=sample", "same for every arm"),
                       ("cnn,width", "field=value"), ("nope", "unknown model 'nope'")):
        with pytest.raises(ValueError, match=words):
            compare(preset_compare("smoke", arms=["cnn", bad]), {}, tmp_path / "d", progress=False)
        assert not (tmp_path / "d").exists()  # refused before anything was created


def test_an_arms_bool_field_refuses_a_typo():
    from colorbench.config import TrainConfig, UsageError, parse_arm

    assert parse_arm("cnn,compile=no", TrainConfig(compile=True)).compile is False
    assert parse_arm("cnn,deterministic=True", TrainConfig()).deterministic is True
    with pytest.raises(UsageError, match="deterministic must be a bool, got 'ture'"):
        parse_arm("cnn,deterministic=ture", TrainConfig())


def test_a_published_folder_grows_by_the_missing_seeds_only(done, tmp_path, monkeypatch):
    """A comparison published without weights or optimiser states (as docs/study) is resumable: one more seed
    trains exactly the missing runs, keeps every finished one and its sample grid, and re-renders."""
    import shutil

    out, _ = done
    pub = tmp_path / "published"
    shutil.copytree(out, pub, ignore=shutil.ignore_patterns("model.safetensors", "state.pt", ".lock"))
    kept = {p: p.read_bytes() for p in (pub / "runs").rglob("*") if p.is_file()}
    samples = (pub / "samples.safetensors").read_bytes()
    parts_before = read_json(pub / "parts.json")
    trained, real_train = [], compare_mod.train

    def recording(run_cfg, folder, **k):
        trained.append(folder.name)
        return real_train(run_cfg, folder, **k)

    monkeypatch.setattr(compare_mod, "train", recording)
    compare(cfg(seeds=3), MICRO, pub, resume=True, progress=False, log=lambda *_: None)
    assert trained == ["cnn-s2", "unet-s2", "unet_noskip-s2"]
    assert all(p.read_bytes() == b for p, b in kept.items())  # finished runs untouched
    assert (pub / "samples.safetensors").read_bytes() == samples  # seed 0 was not retrained: its grid stands
    r = read_json(pub / "results.json")
    assert r["config"]["compare"]["seeds"] == 3 and len(r["models"]["unet"]["summary"]["ab_mse"]["values"]) == 3
    parts = read_json(pub / "parts.json")
    assert parts[:-1] == parts_before and parts[-1]["trained"] == trained and parts[-1]["finished"]
    assert r["wall_time_s"] == pytest.approx(sum(p["wall_time_s"] for p in parts))
    assert "3 seeds per arm" in (pub / "report.md").read_text()


def test_parts_record_the_wall_time_and_layout(done):
    out, _ = done
    parts = read_json(out / "parts.json")  # the first part trained everything; later tests may resume it
    assert parts[0]["finished"] and parts[0]["runs_at_once"] == 1 and parts[0]["wall_time_s"] > 0
    assert sorted(parts[0]["trained"]) == sorted(f"{a}-s{s}" for a in ("cnn", "unet", "unet_noskip") for s in (0, 1))
    assert all(not p["trained"] for p in parts[1:])  # resumed parts found nothing to train
    wall = read_json(out / "results.json")["wall_time_s"]  # the parts up to the last that finished
    assert parts[0]["wall_time_s"] <= wall <= sum(p["wall_time_s"] for p in parts) + 1e-9
