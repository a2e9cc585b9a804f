"""Checkpoint format ``legacy``: original D3 run directories and ``.pth`` files, both ways.

Loading (spec §7, DESIGN "Legacy checkpoints"):

1. read the file with ``torch.load(weights_only=True)`` and the numpy allow-list (``d3core.api.
   safe_torch_load``); strip an optional DDP ``module.`` prefix;
2. reconstruct the original orders from the file's own model keys: parameters = keys minus buffers; EMA names =
   parameters minus the frozen ``embed.0.W``; optimizer indices = parameters + ``noise.empty``. Every count and every
   shape is checked (no silent ``zip`` truncation);
3. decide the trained tower: ``arch=`` if given; else the parameters that have Adam moments; else ``cond_dim == 256``
   means Conv (with a warning); else the run folder's name; else a :class:`D3UserError` asking for ``--arch``;
4. drop the unused modules by the explicit per-variant list (:data:`~d3_ckpt_legacy.layout.UNUSED_MODULES`); the
   rest must be exactly the d3 network's keys and shapes.

Saving writes an original run directory (``hydra/config.yaml`` + ``checkpoints/checkpoint.pth``): every key of the
original class in its order (unused modules at their initial values), the EMA list in the original order, the
optimizer indexed as the original (moments only for the trained parameters), ``step``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from d3core.api import (
    CheckpointBundle,
    D3UserError,
    FormatCannotHold,
    architecture_class,
    atomic_torch_save,
    atomic_write_text,
    build_network,
    lr_after,
    safe_torch_load,
    to_plain,
)

from d3_ckpt_legacy import layout
from d3_ckpt_legacy.config import d3_config, hydra_config, read_hydra_config, settings_from_file
from d3_ckpt_legacy.run_dir import (
    CHECKPOINT_PATH,
    CONFIG_PATH,
    ORIGINAL_CHECKPOINT_KEYS,
    is_original_checkpoint,
    locate,
    run_name,
)


# -- reading the file --------------------------------------------------------------------------------------------
def read_original(path: Path) -> dict[str, Any]:
    """The original checkpoint dict (memory-mapped), its keys checked; ``module.`` prefixes stripped."""
    content = safe_torch_load(path, mmap=True)
    if not isinstance(content, dict) or not ORIGINAL_CHECKPOINT_KEYS <= set(content):
        have = sorted(content) if isinstance(content, dict) else type(content).__name__
        raise D3UserError(f"{path}: not an original D3 checkpoint (needs keys model, ema, optimizer, step; has {have})")
    model = content["model"]
    if model and all(key.startswith("module.") for key in model):
        content["model"] = {key[len("module."):]: value for key, value in model.items()}
    return content


# -- decisions ------------------------------------------------------------------------------------------------------
def _moment_names(content: dict, names: list[str]) -> list[str]:
    return [names[int(i)] for i, state in (content["optimizer"].get("state") or {}).items() if state]


def decide_arch(*, arch: str | None, moment_names: list[str], cond_dim: int, run_dir: Path | None,
                file: Path) -> tuple[str, str]:
    """``(Tran | Conv, why)`` following DESIGN's order: flag, moments, cond_dim 256, folder name."""
    if arch:
        normalised = {"tran": "Tran", "transformer": "Tran", "conv": "Conv", "convolutional": "Conv"}.get(
            str(arch).lower())
        if normalised is None:
            raise D3UserError(f"--arch {arch}: original D3 runs trained Tran or Conv")
        return normalised, "--arch"
    trained = {name for name, prefixes in layout.TOWER_EVIDENCE.items()
               if any(layout.in_modules(key, prefixes) for key in moment_names)}
    if len(trained) == 1:
        return trained.pop(), "optimizer moments"
    if len(trained) == 2:
        raise D3UserError(f"{file}: the optimizer holds moments for both the transformer and the convolutional tower; "
                          "pass --arch Tran or --arch Conv")
    if cond_dim == layout.CONV_COND:
        warnings.warn(f"{file}: no optimizer moments say which tower was trained; model.cond_dim 256 suggests Conv "
                      "(pass --arch to be sure)", stacklevel=2)
        return "Conv", "cond_dim 256"
    folder = " ".join(part.lower() for part in (run_dir or file.parent).parts[-3:])
    hits = {name for name in ("Tran", "Conv") if name.lower() in folder}
    if len(hits) == 1:
        return hits.pop(), "run folder name"
    raise D3UserError(f"{file}: cannot tell which tower the original run trained (no optimizer moments, cond_dim "
                      f"{cond_dim}, folder name without Tran/Conv); pass --arch Tran or --arch Conv")


def decide_variant(hydra: dict, model: dict) -> layout.Variant:
    """The original code's dataset variant: ``data.train`` of the config, else the label width of the weights."""
    name = str((hydra.get("data") or {}).get("train", "")).lower()
    if name in layout.DATASET_ALIASES:
        return layout.VARIANTS[layout.DATASET_ALIASES[name]]
    signal = model.get("vocab_embed.signal_embedding.weight")
    if signal is not None and int(signal.shape[1]) in layout.VARIANT_BY_LABELS:
        return layout.VARIANTS[layout.VARIANT_BY_LABELS[int(signal.shape[1])]]
    raise D3UserError(f"the original run's data.train={name!r} is none of deepstarr, mpra, promoter and the weights "
                      "do not say either")


def d3_model_config(arch: str, hydra_model: dict, model: dict, variant: layout.Variant, file: Path) -> dict[str, Any]:
    """The d3 ``model.*`` keys of the trained tower, sizes read from the tensors and checked against the config."""
    length = int(hydra_model.get("length") or variant.length)
    cond = int(model["sigma_map.mlp.0.weight"].shape[0])
    if int(hydra_model.get("cond_dim", cond)) != cond:
        raise D3UserError(f"{file}: config model.cond_dim={hydra_model.get('cond_dim')} but the weights have {cond}")
    if arch == "Tran":
        hidden = int(model["vocab_embed.embedding"].shape[1])
        blocks = len({key.split(".")[1] for key in model if key.startswith("blocks.")})
        for key, found in (("hidden_size", hidden), ("n_blocks", blocks)):
            if key in hydra_model and int(hydra_model[key]) != found:
                raise D3UserError(f"{file}: config model.{key}={hydra_model[key]} but the weights have {found}")
        heads = int(hydra_model.get("n_heads", max(1, hidden // 64)))
        labels = int(model["vocab_embed.signal_embedding.weight"].shape[1])
        return {"hidden_size": hidden, "n_blocks": blocks, "n_heads": heads, "cond_dim": cond,
                "dropout": float(hydra_model.get("dropout", 0.1)), "mlp_ratio": 4, "length": length,
                "num_labels": labels, "label_mode": variant.label_mode}
    channels = int(model["linear.weight"].shape[0])
    layers = len({key.split(".")[1] for key in model if key.startswith("conv_blocks.")})
    if "label_emb.0.weight" in model:
        labels, mode = int(model["label_emb.0.weight"].shape[1]), "global"
    else:
        labels, mode = int(model["linear.weight"].shape[1]) - 4, "per_position"
    return {"channels": channels, "n_layers": layers, "dilations": list(layout.CONV_DILATIONS), "cond_dim": cond,
            "zero_self_logit": False, "length": length, "num_labels": labels, "label_mode": mode}


# -- the format -----------------------------------------------------------------------------------------------------
class LegacyRunFormat:
    """Original D3 run directories (``hydra/config.yaml`` + ``checkpoints/checkpoint.pth``) and lone ``.pth`` files."""

    name = "legacy"
    suffix = ""  # d3 convert --to legacy writes a run directory

    @staticmethod
    def detect(path: Path) -> bool:
        return is_original_checkpoint(path)

    @staticmethod
    def run_name(path: Path) -> tuple[str, Path] | None:
        """A file inside an original run is named after the run (``d3 convert``)."""
        return run_name(path)

    @staticmethod
    def config_from_file(path: Path, arch: str | None = None) -> dict[str, Any] | None:
        """``d3 train --config_path`` with an original ``config.yaml``: its d3 settings (``n_iters`` ->
        ``training.max_steps``, ...; see :func:`d3_ckpt_legacy.config.settings_from_file`), None for other files."""
        return settings_from_file(path, arch=arch)

    @staticmethod
    def describe(bundle: CheckpointBundle) -> dict[str, Any]:
        """``d3 checkpoint info``'s ``original`` facts: variant, file, how the tower was decided, unused modules."""
        legacy = (bundle.extra or {}).get("legacy")
        if not legacy or bundle.source_format != "legacy":
            return {}
        facts = {k: legacy.get(k) for k in ("file", "variant", "arch_decided_by", "original_parameters",
                                             "unused_parameters")}
        facts["summary"] = (f"{facts['variant']} run, file {facts['file']}; tower decided by "
                            f"{facts['arch_decided_by']}; {facts['original_parameters']:,} parameters in the file, "
                            f"{facts['unused_parameters']:,} in unused modules (dropped)")
        return {"original": facts}

    @staticmethod
    def load(path: Path, *, arch: str | None = None, config: str | os.PathLike | None = None) -> CheckpointBundle:
        """Map an original run onto the d3 architecture it trained (see the module docstring)."""
        import torch

        file, config_file, folder = locate(path, config)
        hydra = read_hydra_config(config_file)
        content = read_original(file)
        model: dict[str, Any] = content["model"]
        keys = list(model)
        params = [k for k in keys if k not in layout.BUFFERS]
        ema_names = [k for k in params if k not in layout.FROZEN]
        optimizer_names = params + [layout.NOISE_PARAMETER]

        # counts and shapes, before anything is mapped
        ema = content["ema"] or {}
        shadow = list(ema.get("shadow_params") or [])
        if len(shadow) != len(ema_names):
            raise D3UserError(f"{file}: the EMA holds {len(shadow)} tensors but the model has {len(ema_names)} "
                              "trainable parameters; the file is inconsistent (refusing to guess the alignment)")
        for name, tensor in zip(ema_names, shadow):
            if tuple(tensor.shape) != tuple(model[name].shape):
                raise D3UserError(f"{file}: EMA tensor for {name} has shape {tuple(tensor.shape)}, the parameter "
                                  f"{tuple(model[name].shape)}")
        optimizer = content["optimizer"] or {}
        groups = optimizer.get("param_groups") or []
        count = sum(len(g.get("params", [])) for g in groups)
        if count != len(optimizer_names):
            raise D3UserError(f"{file}: the optimizer indexes {count} parameters but the model has {len(params)} "
                              f"(+ the noise schedule's dummy parameter = {len(optimizer_names)})")
        for index, state in (optimizer.get("state") or {}).items():
            if not 0 <= int(index) < count:
                raise D3UserError(f"{file}: optimizer state for index {index}, beyond its {count} parameters")
            name = optimizer_names[int(index)]
            reference = model.get(name)
            for key, value in state.items():
                if reference is not None and isinstance(value, torch.Tensor) and value.dim() > 0 and \
                        tuple(value.shape) != tuple(reference.shape):
                    raise D3UserError(f"{file}: optimizer {key} of {name} has shape {tuple(value.shape)}, the "
                                      f"parameter {tuple(reference.shape)}")

        variant = decide_variant(hydra, model)
        moment_names = _moment_names(content, optimizer_names)
        hydra_model = hydra.get("model") or {}
        cond = int(model["sigma_map.mlp.0.weight"].shape[0]) if "sigma_map.mlp.0.weight" in model else \
            int(hydra_model.get("cond_dim", 0))
        arch, why = decide_arch(arch=arch, moment_names=moment_names, cond_dim=cond, run_dir=folder, file=file)
        unused = layout.UNUSED_MODULES[(variant.name, arch)]
        tower = layout.TOWERS[arch]
        stray = [k for k in moment_names if layout.in_modules(k, unused)]
        if stray:
            raise D3UserError(f"{file}: the optimizer holds moments for {len(stray)} parameter(s) of modules a {arch} "
                              f"run leaves unused (e.g. {stray[0]}); the run trained the other tower -- check --arch")
        unexpected = [k for k in keys if not layout.in_modules(k, unused) and not layout.in_modules(k, tower)]
        if unexpected:
            raise D3UserError(f"{file}: key {unexpected[0]} is not part of the original {variant.name} {arch} model "
                              f"({len(unexpected)} such keys); is data.train={variant.name} right?")

        model_cfg = d3_model_config(arch, hydra_model, model, variant, file)
        architecture = architecture_class(arch)
        # the original ran the transformer blocks under CUDA bf16 autocast (fp32 on CPU) -- what "auto" does -- and
        # the convolutional network in fp32
        precision = "auto" if arch == "Tran" else "32-true"
        try:
            config = d3_config(hydra, arch=architecture.name, dataset=variant.name, model=model_cfg,
                               precision=precision, architecture=architecture)
        except D3UserError as exc:
            raise D3UserError(f"{config_file}: {exc}") from exc
        expected = build_network(config, architecture.name, device="meta").state_dict()
        kept = {k: v for k, v in model.items() if not layout.in_modules(k, unused)}
        missing = [k for k in expected if k not in kept]
        extra_keys = [k for k in kept if k not in expected]
        if missing or extra_keys:
            raise D3UserError(f"{file}: the {arch} weights do not match d3's {architecture.name} network (missing "
                              f"{missing[:3]}, unexpected {extra_keys[:3]}); pass --arch if the tower was misjudged "
                              f"(decided by {why})")
        for key, tensor in expected.items():
            if tuple(kept[key].shape) != tuple(tensor.shape):
                raise D3UserError(f"{file}: {key} has shape {tuple(kept[key].shape)}, d3's {architecture.name} with "
                                  f"the run's config {tuple(tensor.shape)}")
        weights = {k: kept[k] for k in expected}
        ema_by_name = dict(zip(ema_names, shadow, strict=True))
        network = build_network(config, architecture.name, device="meta")
        trainable = [n for n, p in network.named_parameters() if p.requires_grad]
        d3_params = [n for n, _ in network.named_parameters()]

        state = {}
        for index, values in (optimizer.get("state") or {}).items():
            name = optimizer_names[int(index)]
            if name in expected and values:
                state[name] = dict(values)
        group = {k: to_plain(v) for k, v in (groups[0] if groups else {}).items() if k != "params"}
        named_optimizer = {"state": state, "param_groups": [{**group, "params": d3_params}]}

        total = sum(int(model[k].numel()) for k in params)
        used = sum(int(weights[k].numel()) for k in d3_params)
        legacy = {
            "hydra_config": hydra, "variant": variant.name, "arch_decided_by": why,
            "with_embed": any(k.startswith("embed.") for k in keys),
            "label_mlp_in": int(model["label_emb.0.weight"].shape[1]) if "label_emb.0.weight" in model else None,
            "transformer": {"hidden_size": int(model["vocab_embed.embedding"].shape[1]),
                            "n_blocks": len({k.split(".")[1] for k in model if k.startswith("blocks.")}),
                            "n_heads": int(hydra_model.get("n_heads", 12)),
                            "dropout": float(hydra_model.get("dropout", 0.1))},
            "cond_dim": cond, "file": str(file), "original_parameters": total, "unused_parameters": total - used,
        }
        return CheckpointBundle(
            config=config, model=weights,
            ema={"decay": float(ema.get("decay", 0.9999)), "num_updates": int(ema.get("num_updates") or 0),
                 "shadow": {name: ema_by_name[name] for name in trainable}},
            optimizer=named_optimizer, scheduler=None, step=int(content["step"]), epoch=0,
            architecture=architecture.name, dataset=variant.name, precision=precision,
            versions={"original-d3": "run"}, source_format="legacy", extra={"legacy": legacy})

    @staticmethod
    def save(bundle: CheckpointBundle, path: Path) -> None:
        """Write an original run directory at ``path``: ``hydra/config.yaml`` and ``checkpoints/checkpoint.pth``.

        A model the original code cannot build (another architecture or dataset, a Conv of another size than the
        hard-wired one, a Tran with another MLP ratio or label count) raises :class:`FormatCannotHold`, before
        anything is written."""
        import torch
        import yaml

        config = to_plain(bundle.config)
        arch = {"tran": "Tran", "conv": "Conv"}.get(str(bundle.architecture or config.get("arch")).lower())
        if arch is None:
            raise FormatCannotHold(f"the original D3 format holds Tran or Conv runs only, not {bundle.architecture!r}")
        legacy = dict((bundle.extra or {}).get("legacy") or {})
        variant_name = legacy.get("variant") or layout.DATASET_ALIASES.get(str(config.get("dataset")).lower())
        if variant_name is None:
            raise FormatCannotHold(f"the original D3 code has model variants for deepstarr, mpra and promoter only, "
                                   f"not dataset {config.get('dataset')!r}")
        variant = layout.VARIANTS[variant_name]
        model_cfg = config.get("model") or {}
        if int(model_cfg.get("num_labels", variant.num_labels)) != variant.num_labels and arch == "Tran":
            raise FormatCannotHold(f"the original {variant.name} model has {variant.num_labels} labels, this "
                                   f"checkpoint {model_cfg.get('num_labels')}")
        if arch == "Tran":
            if int(model_cfg.get("mlp_ratio", 4)) != 4:
                raise FormatCannotHold("the original transformer has mlp_ratio 4")
            transformer = {k: model_cfg[k] for k in ("hidden_size", "n_blocks", "n_heads")}
            transformer["dropout"] = model_cfg.get("dropout", 0.1)
            cond_dim = int(model_cfg["cond_dim"])
        else:
            wanted = {"channels": layout.CONV_CHANNELS, "n_layers": layout.CONV_LAYERS, "cond_dim": layout.CONV_COND,
                      "dilations": layout.CONV_DILATIONS}
            for key, value in wanted.items():
                if model_cfg.get(key) != value:
                    raise FormatCannotHold(f"the original D3 convolutional network is hard-wired to {key}={value}; "
                                           f"this checkpoint has model.{key}={model_cfg.get(key)!r}")
            transformer = legacy.get("transformer") or dict(layout.PAPER_TRANSFORMER, dropout=0.1)
            cond_dim = layout.CONV_COND
        length = int(model_cfg.get("length") or variant.length)
        entries = layout.original_layout(
            variant, arch=arch, hidden_size=int(transformer["hidden_size"]), n_blocks=int(transformer["n_blocks"]),
            n_heads=int(transformer["n_heads"]), cond_dim=cond_dim, length=length,
            tokens=int(config.get("tokens", 4)), with_embed=legacy.get("with_embed"),
            label_mlp_in=legacy.get("label_mlp_in"))
        unused = layout.UNUSED_MODULES[(variant.name, arch)]
        layout_keys = {e.key for e in entries}
        not_placed = [k for k in bundle.model if k not in layout_keys or layout.in_modules(k, unused)]
        if not_placed:
            raise D3UserError(f"cannot write an original D3 checkpoint: {not_placed[0]} has no place in the original "
                              f"{variant.name} {arch} model")
        dtype = next(iter(bundle.model.values())).dtype if bundle.model else torch.float32
        dead = {e.key for e in entries if layout.in_modules(e.key, unused)}
        lacking = [e.key for e in entries if e.key not in dead and e.key not in bundle.model]
        if lacking:
            raise D3UserError(f"cannot write an original D3 checkpoint: the checkpoint lacks {lacking[0]}")
        initial = dict(layout.initial_values(entries, seed=int(config.get("seed", 0)), dtype=dtype, keys=dead))
        state: dict[str, Any] = {}
        for entry in entries:
            if entry.key in dead:
                state[entry.key] = initial[entry.key]
                continue
            tensor = bundle.model[entry.key]
            if tuple(tensor.shape) != tuple(entry.shape):
                raise D3UserError(f"cannot write an original D3 checkpoint: {entry.key} has shape "
                                  f"{tuple(tensor.shape)}, the original model {tuple(entry.shape)}")
            state[entry.key] = tensor
        params = [e.key for e in entries if e.key not in layout.BUFFERS]
        shadow = dict((bundle.ema or {}).get("shadow") or {})
        shadow_list = [shadow.get(k, bundle.model.get(k, state[k])) if not layout.in_modules(k, unused) else state[k]
                       for k in params if k not in layout.FROZEN]
        optimizer_names = params + [layout.NOISE_PARAMETER]
        moments = ((bundle.optimizer or {}).get("state") or {})
        unknown = [name for name in moments if name not in bundle.model]
        if unknown:
            raise D3UserError(f"cannot write an original D3 checkpoint: optimizer moments for unknown parameter "
                              f"{unknown[0]}")
        opt_state = {i: moments[name] for i, name in enumerate(optimizer_names) if name in moments}
        groups = (bundle.optimizer or {}).get("param_groups") or [{}]
        group = {k: to_plain(v) for k, v in groups[0].items() if k not in ("params", "initial_lr")}
        optim = config.get("optim") or {}
        step = int(bundle.step)
        base = float(optim.get("lr", group.get("lr", 3e-4)))
        group.setdefault("betas", (float(optim.get("beta1", 0.9)), float(optim.get("beta2", 0.999))))
        group.setdefault("eps", float(optim.get("eps", 1e-8)))
        group.setdefault("weight_decay", float(optim.get("weight_decay", 0.0)))
        group["lr"] = lr_after(base, int(optim.get("warmup", 0)), step)  # the original's lr after `step` steps
        group["params"] = list(range(len(optimizer_names)))
        checkpoint = {
            "optimizer": {"state": opt_state, "param_groups": [group]},
            "model": state,
            "ema": {"decay": float((bundle.ema or {}).get("decay", 0.9999)),
                    "num_updates": int((bundle.ema or {}).get("num_updates") or 0), "shadow_params": shadow_list},
            "step": step,
        }
        hydra = legacy.get("hydra_config") or hydra_config(config, transformer=transformer, cond_dim=cond_dim)
        path = Path(path)
        atomic_write_text(path / CONFIG_PATH, yaml.safe_dump(hydra, sort_keys=False))
        atomic_torch_save(checkpoint, path / CHECKPOINT_PATH)
