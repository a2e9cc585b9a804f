"""The original D3 code's oracle checkpoints: Lightning checkpoints of its own modules ``PL_DeepSTARR`` and
``PL_mpra`` (spec §8), e.g. ``oracle_DeepSTARR_DeepSTARR_data.ckpt`` and ``oracle_mpra_mpra_data.ckpt``.

The original loads them with ``PL_DeepSTARR.load_from_checkpoint(ckpt, input_h5_file=...)``, whose constructor reads
the whole data file. d3 needs no data file and never unpickles the original's classes: the checkpoint's
``state_dict`` (``model.conv1_filters``, ``model.fc7.weight``, ... -- weights-only or the full Trainer state, read with
``torch.load(weights_only=True)``) is matched against the oracle network that each installed dataset
declares, by parameter names; the best match must then fit exactly (every tensor present, of the same shape, none
extra), or the error names the first key that does not. Predictions then equal the original's (same operations in
eval mode: Dropout off, BatchNorm on its running statistics).

What the network's outputs mean comes from the dataset plugin: its label names, and, where the original trained on a
subset of the columns, the network class's ``original_label_columns(num_outputs, num_labels)`` (the original
lentiMPRA oracle predicts label column 2 only).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from d3core.errors import D3UserError
from d3core.evaluation.oracle_interface import Oracle
from d3core.evaluation.oracle_networks import import_network_class, state_dict_problem

#: the least share of parameter names a network must have in common with a checkpoint to be taken as its network
MIN_NAME_OVERLAP = 0.5


def _candidates(manager) -> list[tuple[Any, type]]:
    """``(dataset, oracle network class)`` of every registered dataset that declares an oracle network."""
    if manager is None:
        from d3core.plugins import get_plugin_manager

        manager = get_plugin_manager()
    return [(manager.dataset(name), import_network_class(target, what=f"dataset {name!r}"))
            for name, target in manager.dataset_oracle_networks().items()]


def _strip(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)}


def _config(cls: type, state: dict, length: int) -> dict:
    """``{"num_outputs", "length"}`` that build ``cls`` for ``state`` (names without prefix), from the class's
    declarations: ``output_layer`` (its rows are the outputs) and ``flatten_layer`` (its input width is
    ``flatten_channels x length // length_divisor``: ``length`` is kept when it fits, else the shortest that does).
    Missing tensors leave the defaults, so that the exact comparison afterwards names them."""
    config = {"length": int(length)}
    output = getattr(cls, "output_layer", None)
    for key in (f"{output}.weight", f"{output}.bias") if output else ():
        if key in state:
            config["num_outputs"] = int(state[key].shape[0])
            break
    flatten = getattr(cls, "flatten_layer", None)
    if flatten and f"{flatten}.weight" in state:
        divisor = int(cls.length_divisor)
        width, rest = divmod(int(state[f"{flatten}.weight"].shape[1]), int(cls.flatten_channels))
        if not rest and width >= 1 and int(length) // divisor != width:
            config["length"] = width * divisor
    return config


def _mismatches(network, state: dict) -> int:
    expected = network.state_dict()
    return (sum(k not in state or tuple(state[k].shape) != tuple(v.shape) for k, v in expected.items())
            + sum(k not in expected for k in state))


def _best_configs(cls: type, state: dict, length: int) -> list[dict]:
    """The network config read from ``state``, first; when that network does not fit exactly, the configs (read
    with one tensor left out at a time) that leave the fewest tensors unfit, so that a damaged tensor is the one
    named rather than the intact ones its shape would otherwise make wrong. Equally good configs all come back."""
    config = _config(cls, state, length)
    if not _mismatches(cls(**config), state):
        return [config]
    first = tuple(sorted(config.items()))
    candidates = {first}
    for key in state:
        candidates.add(tuple(sorted(_config(cls, {k: v for k, v in state.items() if k != key}, length).items())))
    scored = sorted((_mismatches(cls(**dict(c)), state), c != first, c) for c in candidates)
    return [dict(c) for score, _, c in scored if score == scored[0][0]]


def match_network(path: Path, state: dict, manager=None, prefer: str | None = None) -> tuple[Any, type, str, dict]:
    """The dataset plugin whose oracle network best fits ``state`` by parameter names:
    ``(dataset, network class, prefix, state without prefix)``; a one-line error when none fits. Of datasets that
    fit equally well (they register the same network), dataset ``prefer`` wins, else the first registered."""
    best = None
    for dataset, cls in _candidates(manager):
        prefix = getattr(cls, "original_prefix", "model.")
        stripped = _strip(state, prefix)
        if not stripped:
            continue
        names = set(cls(**_config(cls, stripped, dataset.length)).state_dict())
        overlap = len(names & set(stripped)) / len(names | set(stripped))
        if best is None or overlap > best[0] or (overlap == best[0] and prefer and dataset.name == prefer):
            best = (overlap, dataset, cls, prefix, stripped)
    if best is None or best[0] < MIN_NAME_OVERLAP:
        example = ", ".join(list(state)[:3])
        raise D3UserError(f"{path}: a Lightning checkpoint, but its state_dict ({len(state)} tensors, e.g. {example}) "
                          "fits no installed oracle network (PL_DeepSTARR / PL_mpra checkpoints need the deepstarr "
                          "and mpra dataset plugins); for a d3 oracle, use 'd3 oracle train'")
    return best[1], best[2], best[3], best[4]


def oracle_from_lightning_checkpoint(path: str | Path, content: dict, *, manager=None,
                                     prefer: str | None = None) -> Oracle:
    """An :class:`Oracle` from an original D3 oracle checkpoint's content (already read with weights_only=True);
    ``prefer``: the dataset that wins a tie (:func:`match_network`)."""
    path = Path(path)
    state = content["state_dict"]
    dataset, cls, prefix, stripped = match_network(path, state, manager, prefer)
    configs = _best_configs(cls, stripped, dataset.length)
    config = configs[0]
    network = cls(**config)
    problem = state_dict_problem(network, stripped, prefix=prefix)
    if problem:
        others = [p for p in (state_dict_problem(cls(**c), stripped, prefix=prefix) for c in configs[1:])
                  if p and p[0] != problem[0]]
        also = f" (or tensor '{others[0][0]}' is the damaged one: the two disagree)" if others else ""
        raise D3UserError(f"{path}: {problem[1]}{also}")
    network.load_state_dict(stripped)
    outputs = int(getattr(network, "num_outputs", config.get("num_outputs", 0)))
    names = list(dataset.label_names)
    if hasattr(cls, "original_label_columns"):
        columns = list(cls.original_label_columns(outputs, len(names)))
    else:
        columns = list(range(outputs))
    labels = [names[c] if c < len(names) else f"output_{i}" for i, c in enumerate(columns)]
    info = {"format": "original D3 oracle (Lightning checkpoint)", "dataset": dataset.name,
            "network": f"{cls.__module__}:{cls.__qualname__}", "num_outputs": outputs,
            "length": int(config.get("length", dataset.length)), "label_names": labels, "label_columns": columns,
            "epoch": content.get("epoch"), "global_step": content.get("global_step"),
            "pytorch_lightning_version": content.get("pytorch-lightning_version"),
            "full_state": "optimizer_states" in content, "tensors": len(state)}
    return Oracle(network.eval(), dataset.name, labels, info["length"], info, path)
