"""Typed configs whose defaults are the study's protocol, and the presets: the one place that says
what `train`, `compare`, the report, the README and `--help` run.

A compare runs *arms*: a model name, optionally with training fields changed, written
`MODEL[,field=value...]`, e.g. `cnn`, `cnn,loss=classification`, `unet,augment=strong,width=32`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields


class UsageError(ValueError):
    """The command line asks for something invalid (a bad value or name): caught before any work."""


# here, not in hardware.py, so that --help needs no torch
PRECISIONS = ("auto", "fp32", "bf16")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
DEVICES = "auto (a GPU if there is one), cpu, cuda or cuda:N (NVIDIA, AMD), mps (Apple) or xpu (Intel)"

# shipped weights: name -> the files it may be, first found wins (colorize.shipped_weights): `default` is the
# photo weights once they ship (recipes/photo-weights.sh), the study's U-Net until then
SHIPPED = {"default": ("colorbench-default.safetensors", "colorbench-study.safetensors"),
           "study": ("colorbench-study.safetensors",),  # the study's U-Net on CIFAR-10, kept by name
           # the photo weights fine-tuned with colour hints (L, hint ab, mask): colorize picks them when given hints
           "hints": ("colorbench-hints.safetensors", "colorbench-default.safetensors")}


# What a field's declaration says about it, so no list is kept in step with TrainConfig by hand:
RESUMABLE = "resumable"  # a resumed run may change it: it alters neither the data seen nor the order it is seen in
SAME_FOR_ARMS = "same_for_arms"  # every arm of a compare shares it (data, split, test conditions): comparable numbers


def _marked(default, *marks: str):
    return field(default=default, metadata=dict.fromkeys(marks, True))


@dataclass(frozen=True)
class TrainConfig:
    model: str = "cnn"
    width: int = 0  # 0: the model's own default width (64 for the study's models)
    blocks: int = 0  # photo_unet: residual blocks at the bottleneck (0: none); more than --init's weights: grown
    in_channels: int = 1  # what the network sees: L, then channels inputs.network_input fills (zeros for now)
    hints: bool = False  # train with simulated colour hints (in_channels 4: L, hint ab, mask; inputs.simulate_hints)
    loss: str = "mse"  # objectives registry: mse (the study's), l1, ssim, classification
    rebalance: float = 0.5  # classification: lambda of the class rebalancing (Zhang et al. 2016)
    temperature: float = 0.0  # classification: annealed-mean T; 0 = chosen on the validation split
    colour_target: float = _marked(0.7, RESUMABLE)  # classification, T chosen: the share of the truth's colourfulness it asks for (0: least MSE)
    head_stride: int = 1  # classification: score every n-th pixel (Zhang et al.: 4), chroma upsampled
    mse_weight: float = 0.0  # classification: + this x MSE of the decoded ab (0: cross-entropy alone)
    psnr_weight: float = 0.0  # classification: + this x each image's -PSNR of the decoded ab (dB), batch mean
    psnr_space: str = "ab"  # classification: that PSNR of the ab error (ab), or of the sRGB it gives with L (rgb)
    label_weight: float = 0.0  # + this x cross-entropy of each image's class from the network's summary (Iizuka et al.)
    ssim_weight: float = 1.0  # ssim: weight of (1 - SSIM) beside the MSE
    init: str = ""  # a pretrained encoder (`colorbench pretrain`'s file, or "pretrain"), or weights of this model to go on from
    pretrain_epochs: int = 3  # init "pretrain": epochs of the pretext task (classifying the training split)
    pretrain_schedule: str = "constant"  # the pretext's lr over its epochs: constant | cosine
    pretrain_weight_decay: float = 0.0  # the pretext's decoupled weight decay (AdamW); 0: plain Adam
    pretrain_label_smoothing: float = 0.0  # the pretext's cross-entropy against labels smoothed by this much
    precise_bn: int = _marked(0, RESUMABLE)  # after the last epoch: batch-norm statistics from this many plain images
    encoder_lr: float = 1.0  # the encoder's learning rate as a fraction of lr: below 1 keeps more of what --init taught it; 0 freezes it
    data: str = _marked("cifar10", SAME_FOR_ARMS)  # "cifar10", "sample", or a path (see data.load_dataset)
    classes: str = _marked("", SAME_FOR_ARMS)  # comma-separated class folders of the data to use; empty: all
    size: int = _marked(0, SAME_FOR_ARMS)  # 0: the source's own size; else crop/resize to size x size
    epochs: int = _marked(10, RESUMABLE)
    batch_size: int = 64
    lr: float = _marked(1e-3, RESUMABLE)  # Adam, as in the study
    schedule: str = "constant"  # constant (the study's) | cosine: lr decays to 0 over the run's steps
    val_fraction: float = _marked(0.2, SAME_FOR_ARMS)  # the study's 80/20 split of the training set
    split_seed: int = _marked(0, SAME_FOR_ARMS)  # the split stays fixed across training seeds
    train_limit: int = 0  # 0: the whole training split; else a stratified subset of this many
    val_limit: int = _marked(0, SAME_FOR_ARMS)  # 0: the whole validation split; else a stratified subset of this many
    augment: str = "study"  # none | study (flips and 90-degree turns) | strong (+ crops, small rotations) | photo
    seed: int = _marked(0, SAME_FOR_ARMS)  # weights init, shuffling, augmentation; `compare` runs several
    device: str = _marked("auto", RESUMABLE, SAME_FOR_ARMS)  # "auto": cuda if available, else cpu
    precision: str = _marked("auto", RESUMABLE)  # auto | fp32 | bf16 autocast; auto measures what pays on this machine
    memory_format: str = _marked("auto", RESUMABLE)  # auto: whichever trains this model faster here (measured)
    compile: bool = _marked(False, RESUMABLE)  # torch.compile: slower than eager on CPU here (measured)
    threads: int = _marked(0, RESUMABLE, SAME_FOR_ARMS)  # 0: torch's default (one per physical core)
    deterministic: bool = False  # one thread and deterministic kernels: bitwise repeatable anywhere, slower
    eval_batch_size: int = _marked(1000, RESUMABLE)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """A saved config, with fields added since it was written at their defaults and the old
        spellings mapped (augment was a bool, amp a bool)."""
        d = dict(d)
        if isinstance(d.get("augment"), bool):
            d["augment"] = "study" if d["augment"] else "none"
        d.pop("amp", None)
        if isinstance(d.get("channels_last"), bool):  # a bool until the layout was measured per model
            d["memory_format"] = "channels_last" if d.pop("channels_last") else "contiguous"
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


RESUMABLE_CHANGES = {f.name for f in fields(TrainConfig) if f.metadata.get(RESUMABLE)}
SCHEDULES = ("constant", "cosine")


def scheduled_lr(lr: float, schedule: str, done: float) -> float:
    """The learning rate after the fraction `done` of a run's steps: constant, or cosine from lr to 0."""
    return lr * 0.5 * (1 + math.cos(math.pi * done)) if schedule == "cosine" else lr


@dataclass(frozen=True)
class Preset:
    about: str  # one line for --help and the README
    train: dict  # TrainConfig fields that differ from the study's protocol
    arms: tuple[str, ...] = ("cnn", "unet", "unet_noskip")
    seeds: int = 3
    test_limit: int = 0  # 0: the whole test set


PRESETS: dict[str, Preset] = {
    "smoke": Preset("a first look in minutes on a CPU: 1 epoch on 1,000 training images of the shipped sample",
                    {"epochs": 1, "train_limit": 1_000, "val_limit": 400, "data": "sample"}, test_limit=500),
    "quick": Preset("3 epochs on a 10,000-image stratified subset, the whole test set",
                    {"epochs": 3, "train_limit": 10_000}),
    "study": Preset("the study's protocol: 80/20 split, 10 epochs, batch 64, Adam 1e-3, flips and turns", {}),
    "directions": Preset(
        "the study's future directions, one change each against its CNN: a hybrid model, the SSIM loss, stronger "
        "augmentation, a pretrained encoder, and colour classification (Zhang et al. 2016)",
        # ~90 min for 3 seeds on 2 AVX2 cores in fp32 with --jobs 2. lambda 0.6 chosen on the validation split
        # (seed 0, this budget; T by choose_temperature): 73% of the truth's colourfulness at ab MSE 177 against
        # gray's 182.5. The paper's 0.5 stayed above gray (188+) and 0.75 reached 61% at most.
        {"epochs": 3, "train_limit": 12_000, "val_limit": 2_000},
        arms=("cnn", "hybrid", "cnn,loss=ssim", "cnn,augment=strong", "cnn,init=pretrain",
              "cnn,loss=classification,rebalance=0.6")),
}


def preset_train(name: str, **overrides) -> TrainConfig:
    """The TrainConfig of a preset, with `overrides` (non-None values) on top."""
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return _replace(TrainConfig(), {**PRESETS[name].train, **{k: v for k, v in overrides.items() if v is not None}})


def _replace(cfg: TrainConfig, changes: dict) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(changes) - known)
    if bad:
        raise UsageError(f"unknown training option {bad[0]!r}; known: {', '.join(sorted(known))}")
    return dataclasses.replace(cfg, **changes)


# ---------------------------------------------------------------------------------------------
# compare


@dataclass(frozen=True)
class CompareConfig:
    preset: str = "smoke"
    arms: tuple[str, ...] = ("cnn", "unet", "unet_noskip")
    seeds: int = 3  # seeds 0..seeds-1 per arm; the report gives mean and 95% CI over them
    test_limit: int = 0  # 0: the whole test set
    samples_per_class: int = 1  # fixed test images in the sample grid
    jobs: int = 1  # runs trained at once, in worker processes

    @classmethod
    def from_dict(cls, d: dict) -> CompareConfig:
        d = dict(d)
        if "models" in d:  # written before arms
            d["arms"] = d.pop("models")
        d["arms"] = tuple(d.get("arms", cls.arms))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known and v is not None})


def preset_compare(name: str, arms=None, seeds=None, test_limit=None, jobs=None) -> CompareConfig:
    """A preset's comparison, with what the user gave on top (None: the preset's)."""
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    p = PRESETS[name]
    cfg = CompareConfig(preset=name, arms=tuple(arms) if arms else p.arms, seeds=p.seeds if seeds is None else seeds,
                        test_limit=p.test_limit if test_limit is None else test_limit, jobs=1 if jobs is None else jobs)
    if cfg.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {cfg.seeds}")
    if cfg.test_limit < 0:
        raise UsageError(f"--test-limit must be 0 (all) or more, got {cfg.test_limit}")
    if cfg.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {cfg.jobs}")
    if len(set(cfg.arms)) != len(cfg.arms):
        raise UsageError(f"an arm is listed twice: {', '.join(cfg.arms)}")
    return cfg


ARM_FIXED = {f.name for f in fields(TrainConfig) if f.metadata.get(SAME_FOR_ARMS)}


def _yes_or_no(value: str) -> bool:
    """An arm's bool field: true/false, yes/no or 1/0; anything else (a typo) is an error, never False."""
    v = value.lower()
    if v in ("1", "true", "yes", "0", "false", "no"):
        return v in ("1", "true", "yes")
    raise ValueError(value)


def parse_arm(spec: str, base: TrainConfig) -> TrainConfig:
    """`MODEL[,field=value...]` on top of the comparison's base config. Fields that would make the
    arms' numbers incomparable (data, split, test conditions) cannot differ between arms."""
    model, *changes = [s.strip() for s in spec.split(",")]
    types = {f.name: f.type for f in fields(TrainConfig)}
    over: dict = {"model": model}
    for c in changes:
        key, sep, value = c.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types or key == "model":
            raise UsageError(f"arm {spec!r}: {c!r} is not field=value with a training field "
                             f"(e.g. loss=ssim, augment=strong, width=32)")
        if key in ARM_FIXED:
            raise UsageError(f"arm {spec!r}: {key} must be the same for every arm; set it for the whole compare")
        typ = types[key] if isinstance(types[key], str) else types[key].__name__
        try:
            over[key] = {"int": int, "float": float, "bool": _yes_or_no}.get(typ, str)(value.strip())
        except ValueError:
            raise UsageError(f"arm {spec!r}: {key} must be a {typ}, got {value!r}") from None
    return _replace(base, over)  # checked as a whole by train.validate
