"""The original run's hydra ``config.yaml`` <-> the d3 run config.

Original keys (spec §4.4): ``ngpus``, ``tokens``, ``training.{batch_size, accum, n_iters, snapshot_freq, log_freq,
eval_freq, snapshot_freq_for_preemption, weight, snapshot_sampling, ema}``, ``data.{train, valid, cache_dir}``,
``graph.{type, file, report_all}``, ``noise.{type, sigma_min, sigma_max}``, ``sampling.{predictor, steps,
noise_removal}``, ``eval.{batch_size, perplexity, perplexity_batch_size}``, ``optim.{weight_decay, optimizer, lr,
beta1, beta2, eps, warmup, grad_clip}``, ``model.{name, type, hidden_size, cond_dim, length, n_blocks, n_heads,
scale_by_sigma, dropout}``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from d3core.api import D3UserError, architecture_class, one_line, run_config

from d3_ckpt_legacy.layout import DATASET_ALIASES

_GRAPHS = {"uniform": "uniform", "absorb": "absorbing", "absorbing": "absorbing"}
_NOISES = {"geometric": "geometric", "loglinear": "loglinear"}


def _known(names: dict[str, str], key: str, value: Any) -> str:
    """d3's name for the original config's ``key`` value; an unknown one is a :class:`D3UserError`, never a
    silent default (a run trained with another schedule would sample wrongly)."""
    found = names.get(str(value).lower())
    if found is None:
        raise D3UserError(f"{key}={value!r} of the original config is not one d3 knows ({', '.join(names)})")
    return found


def read_hydra_config(path: str | os.PathLike) -> dict[str, Any]:
    """The original ``config.yaml`` as plain containers (YAML only: nothing is executed)."""
    import yaml

    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise D3UserError(f"{path}: cannot read the original run's config ({one_line(exc, with_type=False)[:160]})") \
            from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("model"), dict):
        raise D3UserError(f"{path}: not an original D3 hydra config (no 'model' section); pass the run's "
                          "hydra/config.yaml with --legacy_config")
    return loaded


def _section(config: dict, name: str) -> dict:
    value = config.get(name)
    return value if isinstance(value, dict) else {}


#: keys only an original config has (no d3 config does): a YAML file with one of them and a ``model`` section is one
ORIGINAL_ONLY_KEYS = ("ngpus", "training.n_iters", "training.snapshot_freq", "training.snapshot_freq_for_preemption",
                      "model.scale_by_sigma", "data.cache_dir")
#: the original model keys of the transformer, which d3's Tran has under the same names
TRANSFORMER_KEYS = ("hidden_size", "n_blocks", "n_heads", "cond_dim", "dropout")


def is_hydra_config(loaded: Any) -> bool:
    """Whether ``loaded`` (a parsed YAML file) is an original run config: a ``model`` section and an original-only
    key (:data:`ORIGINAL_ONLY_KEYS`)."""
    if not isinstance(loaded, dict) or not isinstance(loaded.get("model"), dict):
        return False
    for dotted in ORIGINAL_ONLY_KEYS:
        section, _, key = dotted.rpartition(".")
        if key in (_section(loaded, section) if section else loaded):
            return True
    return False


def translated_settings(hydra: dict[str, Any]) -> dict[str, Any]:
    """The d3 settings of an original config's training, optimiser, diffusion and eval keys (a nested
    mapping of d3 keys; ``n_iters`` -> ``training.max_steps``, ``eval_freq`` -> ``training.val_check_interval``,
    ``graph.type: absorb`` -> ``absorbing``, ...). Keys without a d3 equivalent (``ngpus``, ``snapshot_freq``,
    ``log_freq``, ``data.cache_dir``, ...) are left out."""
    training, optim, noise = _section(hydra, "training"), _section(hydra, "optim"), _section(hydra, "noise")
    evaluation = _section(hydra, "eval")
    graph = _known(_GRAPHS, "graph.type", _section(hydra, "graph").get("type", "uniform"))
    layer: dict[str, Any] = {
        "tokens": int(hydra.get("tokens", 4)), "graph": {"type": graph},
        "noise": {"type": _known(_NOISES, "noise.type", noise.get("type", "geometric"))},
        # the original trained without label dropout; its hydra sampling section (euler / 128) configured the
        # training loop's snapshots, not generation, so d3's sampling defaults (the run_sample.py protocol) apply
        "training": {"label_dropout": 0.0}, "eval": {}, "optim": {},
    }
    for key in ("sigma_min", "sigma_max", "eps"):
        if key in noise:
            layer["noise"][key] = float(noise[key])
    for ours, theirs in (("batch_size", "batch_size"), ("accum", "accum"), ("max_steps", "n_iters"),
                         ("val_check_interval", "eval_freq")):
        if theirs in training:
            layer["training"][ours] = int(training[theirs])
    if "ema" in training:
        layer["training"]["ema"] = float(training["ema"])
    if "batch_size" in evaluation:
        layer["eval"]["batch_size"] = int(evaluation["batch_size"])
    for key in ("lr", "beta1", "beta2", "eps", "weight_decay", "grad_clip"):
        if key in optim:
            layer["optim"][key] = float(optim[key])
    if "warmup" in optim:
        layer["optim"]["warmup"] = int(optim["warmup"])
    return layer


def d3_config(hydra: dict[str, Any], *, arch: str, dataset: str, model: dict[str, Any], precision: str,
              architecture: Any = None, seed: int | None = None) -> dict[str, Any]:
    """A full d3 run config (plain containers, checked like ``d3 train``'s) for an original run.

    ``model`` holds the d3 architecture's ``model.*`` keys (sizes already checked against the weights);
    ``architecture`` the registered architecture class (its defaults fill the remaining keys).
    """
    defaults = dict(getattr(architecture, "defaults", {}) or {})
    try:
        layer = translated_settings(hydra)
        layer.update(dataset=dataset, arch=arch, model=dict(model), lightning={"precision": precision})
        if seed is not None:
            layer["seed"] = int(seed)
        if architecture is not None:
            layer["preset"] = matching_preset(architecture, model)
        return run_config(layer, model_defaults=defaults)
    except D3UserError as exc:
        raise D3UserError(f"the original run's config does not translate to a d3 config: {exc}") from exc


def settings_from_file(path: str | os.PathLike, *, arch: str | None = None) -> dict[str, Any] | None:
    """The d3 settings of an original ``config.yaml`` given to ``d3 train --config_path``; None for any other file.

    :func:`translated_settings`; the run-control keys a new run takes from the file (``training.log_freq`` ->
    ``lightning.logging.log_every_n_steps``, ``training.snapshot_freq_for_preemption`` ->
    ``lightning.checkpoint.every_n_train_steps``); ``dataset`` from ``data.train`` (deepstarr, mpra, promoter); for a
    ``Tran`` run (``arch``) the transformer's sizes (``hidden_size``, ``n_blocks``, ``n_heads``, ``cond_dim``,
    ``dropout``) with the preset they match (if one does); ``model.length``. The original convolutional network is
    hard-wired to the size of d3's ``Conv`` ``paper`` preset, so a ``Conv`` run takes only ``model.length``.
    ``ngpus`` is not taken (``--gpus N`` says where the run goes), nor are the keys d3 has no use for.
    """
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not is_hydra_config(loaded):
        return None
    try:
        layer = translated_settings(loaded)
    except D3UserError as exc:
        raise D3UserError(f"{path}: {exc}") from exc
    training = _section(loaded, "training")
    lightning: dict[str, Any] = {}
    if "log_freq" in training:
        lightning["logging"] = {"log_every_n_steps": int(training["log_freq"])}
    if "snapshot_freq_for_preemption" in training:
        lightning["checkpoint"] = {"every_n_train_steps": int(training["snapshot_freq_for_preemption"])}
    if lightning:
        layer["lightning"] = lightning
    variant = DATASET_ALIASES.get(str(_section(loaded, "data").get("train", "")).lower())
    if variant:
        layer["dataset"] = variant
    original_model = _section(loaded, "model")
    model = {"length": int(original_model["length"])} if original_model.get("length") else {}
    architecture = _architecture(arch)
    if architecture is not None and architecture.name == "Tran":
        model.update({key: original_model[key] for key in TRANSFORMER_KEYS if key in original_model})
        preset = matching_preset(architecture, model)
        if preset:
            layer["preset"] = preset
    layer["model"] = model
    return layer


def _architecture(arch: str | None) -> Any:
    """The registered architecture class of ``arch``, or None (not given, or not registered)."""
    if not arch:
        return None
    try:
        return architecture_class(arch)
    except D3UserError:
        return None


def matching_preset(architecture: Any, model: dict[str, Any]) -> str | None:
    """The architecture preset whose values all equal ``model``'s, else None."""
    for name, values in (getattr(architecture, "presets", {}) or {}).items():
        if all(model.get(key) == value for key, value in values.items()):
            return name
    return None


def hydra_config(config: dict[str, Any], *, transformer: dict[str, Any], cond_dim: int) -> dict[str, Any]:
    """An original hydra ``config.yaml`` (the original's key order) for a d3 run config.

    ``transformer`` gives ``hidden_size``, ``n_blocks``, ``n_heads`` and ``dropout`` of the original's transformer
    (the trained one, or the dead one of a Conv run); ``cond_dim`` the original ``model.cond_dim``.
    """
    training, optim = config.get("training") or {}, config.get("optim") or {}
    noise, sampling = config.get("noise") or {}, config.get("sampling") or {}
    model = config.get("model") or {}
    interval = training.get("val_check_interval", 5000)
    interval = interval if isinstance(interval, int) else 5000
    noise_out: dict[str, Any] = {"type": noise.get("type", "geometric")}
    if noise_out["type"] == "geometric":
        noise_out.update(sigma_min=noise.get("sigma_min", 1e-4), sigma_max=noise.get("sigma_max", 20.0))
    else:
        noise_out["eps"] = noise.get("eps", 1e-3)
    graph = str((config.get("graph") or {}).get("type", "uniform"))
    return {
        "ngpus": 1,
        "tokens": int(config.get("tokens", 4)),
        "training": {"batch_size": int(training.get("batch_size", 256)), "accum": int(training.get("accum", 1)),
                     "n_iters": int(training.get("max_steps", 1_000_000)), "snapshot_freq": 50_000,
                     "log_freq": interval, "eval_freq": interval, "snapshot_freq_for_preemption": 10_000,
                     "weight": "standard", "snapshot_sampling": True, "ema": float(training.get("ema", 0.9999))},
        "data": {"train": config.get("dataset"), "valid": config.get("dataset"), "cache_dir": "data"},
        "graph": {"type": "absorb" if graph == "absorbing" else graph, "file": "data", "report_all": False},
        "noise": noise_out,
        "sampling": {"predictor": sampling.get("predictor") or "euler",
                     "steps": int(sampling.get("steps") or model.get("length") or 128), "noise_removal": True},
        "eval": {"batch_size": int((config.get("eval") or {}).get("batch_size", 256)), "perplexity": False,
                 "perplexity_batch_size": 32},
        "optim": {"weight_decay": optim.get("weight_decay", 0.0), "optimizer": optim.get("optimizer", "AdamW"), "lr": optim.get("lr", 3e-4),
                  "beta1": optim.get("beta1", 0.9), "beta2": optim.get("beta2", 0.999), "eps": optim.get("eps", 1e-8),
                  "warmup": int(optim.get("warmup", 2500)), "grad_clip": optim.get("grad_clip", 1.0)},
        "model": {"name": "small", "type": "ddit", "hidden_size": int(transformer["hidden_size"]),
                  "cond_dim": int(cond_dim), "length": int(model.get("length", 0)),
                  "n_blocks": int(transformer["n_blocks"]), "n_heads": int(transformer["n_heads"]),
                  "scale_by_sigma": False, "dropout": float(transformer.get("dropout", 0.1))},
    }
