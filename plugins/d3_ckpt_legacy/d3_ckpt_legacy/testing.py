"""Rebuild original-format D3 training runs from a ``MANIFEST.json`` recipe (format ``d3-original-run-recipe/1``).

A released D3 checkpoint is 100-200 MB even for a tiny model (it always carries the dead convolutional tower), so
fixtures ship a recipe instead: the run's config, every state-dict key with its shape and dtype in the original order,
the EMA's and the optimizer's parameter order, and a seed. The values are deterministic:

- model tensor number ``i`` (state-dict order): ``randn(shape, seed*1000 + i) * (0.05 if ndim >= 2 else 0.02)``,
  except entries listing their ``values`` (the rotary ``inv_freq`` buffers);
- EMA shadow ``j`` (``ema_params`` order): ``model[name_j] + randn(seed*1000 + 50000 + j) * 0.03``;
- AdamW moments of optimizer parameter ``j`` (``optimizer_params`` order, ending with the noise schedule's dummy
  ``noise.empty``; only names in ``optimizer_params_with_state``): ``exp_avg = randn(seed*1000 + 70000 + j) * 1e-3``,
  ``exp_avg_sq = |randn(seed*1000 + 90000 + j)| * 1e-6``, ``step = float(step)``;

where ``randn(shape, s)`` draws fp32 from a CPU ``torch.Generator`` seeded with ``s``. As in the original training
loop, each param group's ``lr`` is a ``numpy.float64`` when ``optimizer_lr_is_numpy_float64`` is set, and the file is
pickled under numpy 1.x's name for the scalar type (``numpy.core.multiarray.scalar``), as every released D3 checkpoint
was -- so ``torch.load(weights_only=True)`` refuses it unless that name is allow-listed.

Public API::

    manifest = load_manifest("tests/fixtures/legacy_runs/deepstarr_tran_tiny/MANIFEST.json")
    state = build_legacy_state(manifest)          # {'optimizer', 'model', 'ema', 'step'}, as the original saves it
    ema = ema_by_name(manifest, state)             # {parameter name: EMA tensor}
    write_legacy_run(manifest, tmp_path / "run")   # hydra/config.yaml + checkpoints/checkpoint.pth
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from d3core.api import atomic_write_bytes

__all__ = [
    "MANIFEST_FORMAT",
    "build_legacy_state",
    "ema_by_name",
    "load_manifest",
    "save_numpy1_pickle",
    "write_legacy_run",
]

MANIFEST_FORMAT = "d3-original-run-recipe/1"

# Offsets added to seed * 1000 for each family of tensors.
_EMA_OFFSET = 50_000
_EXP_AVG_OFFSET = 70_000
_EXP_AVG_SQ_OFFSET = 90_000

# numpy 2 names the scalar reconstructor numpy._core.multiarray.scalar; numpy 1.x (all released D3 files) did not.
_NUMPY2_SCALAR = b"cnumpy._core.multiarray\nscalar\n"
_NUMPY1_SCALAR = b"cnumpy.core.multiarray\nscalar\n"


def load_manifest(manifest: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """Read a ``MANIFEST.json`` (a path, or an already-loaded mapping) and check its format tag."""
    if isinstance(manifest, Mapping):
        data = dict(manifest)
    else:
        with open(manifest, encoding="utf-8") as f:
            data = json.load(f)
    fmt = data.get("format")
    if fmt != MANIFEST_FORMAT:
        raise ValueError(f"unsupported legacy-run manifest format {fmt!r}; expected {MANIFEST_FORMAT!r}")
    return data


def _randn(shape: list[int], seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


def _model_state(manifest: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    base = manifest["seed"] * 1000
    state: dict[str, torch.Tensor] = {}
    for i, entry in enumerate(manifest["state_dict"]):
        shape = list(entry["shape"])
        if "values" in entry:
            tensor = torch.tensor(entry["values"], dtype=torch.float32).reshape(shape)
        else:
            tensor = _randn(shape, base + i) * (0.05 if len(shape) > 1 else 0.02)
        state[entry["key"]] = tensor.to(getattr(torch, entry["dtype"]))
    return state


def _ema_state(manifest: Mapping[str, Any], model: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    base = manifest["seed"] * 1000 + _EMA_OFFSET
    shadow = [model[name] + _randn(list(model[name].shape), base + j) * 0.03
              for j, name in enumerate(manifest["ema_params"])]
    return {"decay": manifest["ema"]["decay"], "num_updates": manifest["ema"]["num_updates"],
            "shadow_params": shadow}


def _optimizer_state(manifest: Mapping[str, Any], model: Mapping[str, torch.Tensor], with_moments: bool) -> dict:
    base = manifest["seed"] * 1000
    state: dict[int, dict[str, torch.Tensor]] = {}
    if with_moments:
        with_state = set(manifest["optimizer_params_with_state"])
        for j, name in enumerate(manifest["optimizer_params"]):
            if name not in with_state:
                continue
            shape = list(model[name].shape)
            state[j] = {
                "step": torch.tensor(float(manifest["step"])),
                "exp_avg": _randn(shape, base + _EXP_AVG_OFFSET + j) * 1e-3,
                "exp_avg_sq": _randn(shape, base + _EXP_AVG_SQ_OFFSET + j).abs() * 1e-6,
            }
    groups = [dict(group) for group in manifest["optimizer_param_groups"]]
    if manifest.get("optimizer_lr_is_numpy_float64"):
        import numpy as np

        for group in groups:
            group["lr"] = np.float64(group["lr"])
    return {"state": state, "param_groups": groups}


def build_legacy_state(manifest: str | os.PathLike | Mapping[str, Any], optimizer_state: bool = True) -> dict:
    """The checkpoint dict the original D3 code saves: ``{'optimizer', 'model', 'ema', 'step'}`` (in that order).

    ``model`` holds every original key (raw weights, dead modules included); ``ema.shadow_params`` is the positional
    list aligned with ``manifest['ema_params']``. ``optimizer_state=False`` leaves the optimizer's ``state`` empty
    (a run saved before its first step).
    """
    manifest = load_manifest(manifest)
    model = _model_state(manifest)
    # The noise schedule's dummy parameter is not in the model state dict; the original initialises it to 0.0.
    params = dict(model)
    params.setdefault("noise.empty", torch.tensor(0.0))
    return {
        "optimizer": _optimizer_state(manifest, params, optimizer_state),
        "model": model,
        "ema": _ema_state(manifest, model),
        "step": manifest["step"],
    }


def ema_by_name(manifest: str | os.PathLike | Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Zip ``manifest['ema_params']`` with ``state['ema']['shadow_params']`` (lengths and shapes checked)."""
    manifest = load_manifest(manifest)
    names = manifest["ema_params"]
    shadow = state["ema"]["shadow_params"]
    if len(names) != len(shadow):
        raise ValueError(f"EMA holds {len(shadow)} tensors but the manifest names {len(names)} parameters")
    out = {}
    for name, tensor in zip(names, shadow):
        if tuple(tensor.shape) != tuple(state["model"][name].shape):
            raise ValueError(f"EMA tensor for {name} has shape {tuple(tensor.shape)}, "
                             f"the model's {tuple(state['model'][name].shape)}")
        out[name] = tensor
    return out


def save_numpy1_pickle(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically, naming numpy scalars as numpy 1.x pickles did.

    The zip archive is rewritten entry by entry with only ``data.pkl`` changed (``numpy._core.multiarray.scalar`` ->
    ``numpy.core.multiarray.scalar``); the tensor storages are copied byte for byte and stored uncompressed, as
    ``torch.save`` writes them.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(_NUMPY2_SCALAR, _NUMPY1_SCALAR)
            target.writestr(info, data)
    atomic_write_bytes(path, out.getvalue())
    return path


def write_legacy_run(
    manifest: str | os.PathLike | Mapping[str, Any],
    out_dir: str | os.PathLike,
    *,
    with_meta: bool = False,
    optimizer_state: bool = True,
) -> Path:
    """Write an original D3 run directory; returns ``out_dir`` as a :class:`Path`.

    Files (each written atomically):

    - ``out_dir/hydra/config.yaml``: the manifest's ``config``, key order kept;
    - ``out_dir/checkpoints/checkpoint.pth``: :func:`build_legacy_state`, numpy-1 pickle names;
    - with ``with_meta``: the same checkpoint at ``out_dir/checkpoints-meta/checkpoint.pth`` (the original's
      pre-emption snapshot).
    """
    import yaml  # PyYAML, a dependency of omegaconf

    manifest = load_manifest(manifest)
    out_dir = Path(out_dir)
    state = build_legacy_state(manifest, optimizer_state=optimizer_state)
    config_text = yaml.safe_dump(manifest["config"], sort_keys=False)
    atomic_write_bytes(out_dir / "hydra" / "config.yaml", config_text.encode("utf-8"))
    save_numpy1_pickle(state, out_dir / "checkpoints" / "checkpoint.pth")
    if with_meta:
        save_numpy1_pickle(state, out_dir / "checkpoints-meta" / "checkpoint.pth")
    return out_dir
