"""d3-dna's training config (the OmegaConf ``cfg`` it pickles into every ``.ckpt``, or its example YAMLs) <-> d3's.

d3-dna keys (example: ``examples/deepstarr/config_transformer.yaml`` of the d3-dna repository)::

    dataset: {name, sequence_length, num_classes, signal_dim}     tokens: 4
    model: {architecture: transformer | convolutional, hidden_size, n_blocks, n_heads, cond_dim, dropout,
            class_dropout_prob, conv_channels, length, ...}
    training: {batch_size, accum, ema, precision?, ...}
    optim: {lr, beta1, beta2, eps, weight_decay, warmup, grad_clip}
    graph: {type: uniform | absorb}   noise: {type: geometric, sigma_min, sigma_max}
    sampling: {predictor: euler | none, steps, noise_removal}   data: {data_file, oracle_model, checkpoint, ...}

Which d3 dataset a config means: ``dataset.name`` ``deepstarr`` -> ``deepstarr``; ``lentimpra`` -> the cell line named
by ``data.data_file`` (``data_MPRA_HepG2.h5`` -> ``lentimpra-hepg2``, ``data_MPRA_K562.h5`` -> ``lentimpra-k562``);
anything else is kept as written (e.g. ``promoter``, which no installed dataset provides).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from d3core.api import D3UserError

TRAN, CONV = "d3dna-Tran", "d3dna-Conv"
ARCH_OF = {"transformer": TRAN, "convolutional": CONV}
#: d3-dna's defaults where its code reads a key with getattr(..., default)
DEFAULT_CLASS_DROPOUT, DEFAULT_CHANNELS = 0.1, 256
CELL_LINES = {"hepg2": "lentimpra-hepg2", "k562": "lentimpra-k562"}
CELL_FILES = {"lentimpra-hepg2": "data_MPRA_HepG2.h5", "lentimpra-k562": "data_MPRA_K562.h5",
              "deepstarr": "data_DeepSTARR.h5"}


def _section(cfg: dict, key: str) -> dict:
    value = cfg.get(key)
    return value if isinstance(value, dict) else {}


def dataset_name(cfg: dict) -> str | None:
    """The d3 dataset a d3-dna config trained on (see the module docstring); None when it names none."""
    name = str(_section(cfg, "dataset").get("name") or "").lower()
    if name == "lentimpra":
        data_file = str(_section(cfg, "data").get("data_file") or "").lower()
        cells = [d3_name for cell, d3_name in CELL_LINES.items() if cell in data_file]
        return cells[0] if len(cells) == 1 else "lentimpra"
    return name or None


def architecture_of(cfg: dict, where: str) -> str:
    """``d3dna-Tran`` or ``d3dna-Conv`` from ``model.architecture``."""
    arch = str(_section(cfg, "model").get("architecture") or "").lower()
    if arch not in ARCH_OF:
        raise D3UserError(f"{where}: model.architecture={arch or None!r} is not one of d3-dna's transformer, "
                          "convolutional")
    return ARCH_OF[arch]


def model_settings(cfg: dict, arch: str) -> dict[str, Any]:
    """d3's ``model.*`` keys of a d3-dna config."""
    model, dataset = _section(cfg, "model"), _section(cfg, "dataset")
    signal = int(dataset.get("signal_dim", 0) or 0)
    length = int(dataset.get("sequence_length") or model.get("length") or 0)
    common = {"cond_dim": int(model["cond_dim"]), "num_classes": int(dataset.get("num_classes", 4)), "length": length}
    if arch == TRAN:
        return {**common, "hidden_size": int(model["hidden_size"]), "n_blocks": int(model["n_blocks"]),
                "n_heads": int(model["n_heads"]), "dropout": float(model.get("dropout", 0.1)),
                "class_dropout_prob": float(model.get("class_dropout_prob", DEFAULT_CLASS_DROPOUT)),
                "num_labels": signal, "label_mode": "global" if signal else "none"}
    # d3-dna's CNN has one label channel: a model of a two-label dataset (DeepSTARR) can only run unconditionally
    labels = 1 if signal == 1 else 0
    return {**common, "channels": int(model.get("conv_channels", DEFAULT_CHANNELS)), "num_labels": labels,
            "label_mode": "global" if labels else "none"}


def precision_of(cfg: dict, arch: str) -> str:
    """The Lightning precision d3-dna trained with (its default: bf16-mixed for the transformer, 16-mixed for the
    CNN); d3's ``auto`` stands for bf16-mixed."""
    precision = _section(cfg, "training").get("precision")
    if precision:
        return str(precision)
    return "auto" if arch == TRAN else "16-mixed"


def d3_settings(cfg: dict, where: str) -> dict[str, Any]:
    """The d3 run settings (for ``d3core.api.run_config``) of a plain d3-dna config."""
    arch = architecture_of(cfg, where)
    graph = str(_section(cfg, "graph").get("type", "uniform"))
    if graph not in ("uniform", "absorb"):
        raise D3UserError(f"{where}: graph.type={graph!r}: d3 runs d3-dna's uniform and absorb graphs only")
    noise = _section(cfg, "noise")
    if str(noise.get("type", "geometric")) != "geometric":
        raise D3UserError(f"{where}: noise.type={noise.get('type')!r}: d3-dna has only the geometric schedule")
    training, optim, sampling = _section(cfg, "training"), _section(cfg, "optim"), _section(cfg, "sampling")
    try:
        model = model_settings(cfg, arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise D3UserError(f"{where}: the d3-dna config lacks or garbles model.{exc}") from exc
    settings: dict[str, Any] = {
        "arch": arch, "dataset": dataset_name(cfg), "tokens": int(cfg.get("tokens", 4)), "model": model,
        "graph": {"type": "absorbing" if graph == "absorb" else "uniform"},
        "noise": {"type": "geometric", "sigma_min": float(noise.get("sigma_min", 1e-4)),
                  "sigma_max": float(noise.get("sigma_max", 20.0))},
        "training": {"ema": float(training.get("ema", 0.9999)), "label_dropout": 0.0},
        "optim": {key: float(optim[key]) for key in ("lr", "beta1", "beta2", "eps", "weight_decay", "grad_clip")
                  if key in optim},
        "sampling": {"predictor": str(sampling.get("predictor", "euler")),
                     "noise_removal": bool(sampling.get("noise_removal", True))},
        "lightning": {"precision": precision_of(cfg, arch)},
    }
    if "warmup" in optim:
        settings["optim"]["warmup"] = int(optim["warmup"])
    for key in ("batch_size", "accum"):
        if key in training:
            settings["training"][key] = int(training[key])
    if sampling.get("steps"):
        settings["sampling"]["steps"] = int(sampling["steps"])
    return settings


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A d3-dna config YAML as plain data (``yaml.safe_load``), checked to be one."""
    import yaml

    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise D3UserError(f"{path}: cannot read the d3-dna config ({' '.join(str(exc).split())[:160]})") from exc
    if not is_d3dna_config(cfg):
        raise D3UserError(f"{path}: not a d3-dna config (needs dataset.sequence_length and model.architecture)")
    return cfg


def is_d3dna_config(cfg: Any) -> bool:
    """Whether plain data ``cfg`` has the shape of a d3-dna training config."""
    return (isinstance(cfg, dict) and isinstance(cfg.get("dataset"), dict) and isinstance(cfg.get("model"), dict)
            and "sequence_length" in cfg["dataset"] and "architecture" in cfg["model"])


def d3dna_config(config: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """A d3-dna config for a d3 run config: the ``stored`` one (the file's own) with the sizes d3 has, or one built
    from d3's keys in d3-dna's layout."""
    model = config.get("model") or {}
    arch = config.get("arch")
    cfg = {key: dict(value) if isinstance(value, dict) else value for key, value in (stored or {}).items()}
    dataset = str(config.get("dataset") or "")
    d3dna_name = "lentimpra" if dataset.startswith("lentimpra") else dataset or "unknown"
    cfg["dataset"] = {**cfg.get("dataset", {}), "name": cfg.get("dataset", {}).get("name", d3dna_name),
                      "sequence_length": int(model.get("length") or 0), "num_classes": int(model.get("num_classes", 4)),
                      "signal_dim": int(cfg.get("dataset", {}).get("signal_dim", model.get("num_labels", 0)))}
    cfg["tokens"] = int(config.get("tokens", 4))
    sizes = {"cond_dim": int(model["cond_dim"]), "length": int(model.get("length") or 0), "scale_by_sigma": False}
    if arch == TRAN:
        sizes.update(architecture="transformer", name="small", type="ddit", hidden_size=int(model["hidden_size"]),
                     n_blocks=int(model["n_blocks"]), n_heads=int(model["n_heads"]),
                     dropout=float(model.get("dropout", 0.1)),
                     class_dropout_prob=float(model.get("class_dropout_prob", DEFAULT_CLASS_DROPOUT)))
    else:
        sizes.update(architecture="convolutional", name="conv", type="conv", conv_channels=int(model["channels"]))
    cfg["model"] = {**cfg.get("model", {}), **sizes}
    graph = (config.get("graph") or {}).get("type", "uniform")
    cfg["graph"] = {**cfg.get("graph", {}), "type": "absorb" if graph == "absorbing" else "uniform"}
    noise = config.get("noise") or {}
    cfg["noise"] = {**cfg.get("noise", {}), "type": "geometric", "sigma_min": float(noise.get("sigma_min", 1e-4)),
                    "sigma_max": float(noise.get("sigma_max", 20.0))}
    training, optim, sampling = config.get("training") or {}, config.get("optim") or {}, config.get("sampling") or {}
    cfg["training"] = {**cfg.get("training", {}), "ema": float(training.get("ema", 0.9999)),
                       "batch_size": int(training.get("batch_size", 256)), "accum": int(training.get("accum", 1))}
    cfg["optim"] = {**cfg.get("optim", {}), "optimizer": "AdamW",
                    **{key: optim[key] for key in ("lr", "beta1", "beta2", "eps", "weight_decay", "warmup",
                                                   "grad_clip") if key in optim}}
    predictor = sampling.get("predictor", "euler")
    cfg["sampling"] = {**cfg.get("sampling", {}), "predictor": predictor if predictor in ("euler", "none") else "euler",
                       "steps": int(sampling.get("steps") or model.get("length") or 128),
                       "noise_removal": bool(sampling.get("noise_removal", True))}
    if dataset in CELL_FILES and "data" not in (stored or {}):
        cfg["data"] = {"zenodo_record": "19774653", "data_file": CELL_FILES[dataset]}
    return cfg
