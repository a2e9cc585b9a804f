"""Oracle networks: the ``nn.Module`` classes that dataset plugins declare, found by name, and whether a state dict
fits one.

A dataset declares its oracle network ONCE, with its class attribute ``oracle = "module:Class"`` (an ``nn.Module``
built as ``Class(num_outputs=C, length=L)``, ``forward(one-hot [B, 4, L] float) -> [B, C]``, optionally
``embed(x) -> [B, E]``). Those declarations are the only networks an oracle file may name
(:func:`registered_network_class`): a file never chooses a module to import.
"""
from __future__ import annotations

from pathlib import Path
from pkgutil import resolve_name
from typing import Any

from d3core.errors import D3UserError


def import_network_class(target: str | type, *, what: str) -> type:
    """The class named by ``"module:Class"`` (or the class itself); ``what`` names the owner in the error. Only for
    names an installed plugin wrote (a dataset's ``oracle``): a name read from a file goes through
    :func:`registered_network_class` first."""
    if isinstance(target, type):
        return target
    try:
        return resolve_name(str(target))
    except (ImportError, AttributeError, ValueError) as exc:
        raise D3UserError(f"{what}: cannot import its oracle network {target!r} ({exc}); install the dataset "
                          "plugin that provides it") from exc


def registered_oracle_networks(manager=None) -> dict[str, str]:
    """``{"module:Class": dataset name}``: the oracle networks the registered datasets declare
    (:meth:`d3core.plugins.D3PluginManager.dataset_oracle_networks`; of two datasets declaring one network, the first
    registered)."""
    from d3core.plugins import get_plugin_manager

    declared = (manager or get_plugin_manager()).dataset_oracle_networks()
    allowed: dict[str, str] = {}
    for dataset, network in declared.items():
        allowed.setdefault(network, dataset)
    return allowed


def registered_network_class(target: Any, *, path: Path, manager=None) -> type:
    """The oracle network class a file names, resolved only when a registered dataset declares that exact name
    (:func:`registered_oracle_networks`): a file never chooses a module to import. Raises :class:`D3UserError`."""
    allowed = registered_oracle_networks(manager)
    if str(target) not in allowed:
        known = ", ".join(f"{name} ({owner})" for name, owner in sorted(allowed.items())) or "none"
        raise D3UserError(f"{path}: its oracle network {str(target)[:80]!r} is not one an installed plugin registers "
                          f"(registered: {known}); d3 imports no code a file names: install the dataset plugin whose "
                          "oracle it is, or retrain it with 'd3 oracle train'")
    return import_network_class(target, what=f"{path} (dataset {allowed[str(target)]!r})")


def oracle_network_class(dataset) -> type:
    """The oracle ``nn.Module`` class a dataset declares (its class attribute ``oracle = "module:Class"``)."""
    target = getattr(dataset, "oracle", None)
    if not target:
        raise D3UserError(f"dataset {getattr(dataset, 'name', dataset)!r} registers no oracle; its plugin can add "
                          "one with a class attribute oracle = 'my_pkg.oracle:MyOracle' (an nn.Module taking "
                          "one-hot [B, 4, L])")
    return import_network_class(target, what=f"dataset {dataset.name!r}")


def state_dict_problem(network, state: dict, *, prefix: str = "") -> tuple[str, str] | None:
    """``(key, what is wrong)`` for the first tensor of ``state`` (keys without ``prefix``) that is missing,
    unexpected or of another shape than ``network`` needs; None when they fit exactly."""
    expected = network.state_dict()
    name = type(network).__name__
    for key, tensor in expected.items():
        if key not in state:
            return prefix + key, (f"tensor '{prefix}{key}' is missing ({name} needs {len(expected)} tensors, the file "
                                  f"has {len(state)}); the file is incomplete or not a {name} oracle")
        if tuple(state[key].shape) != tuple(tensor.shape):
            return prefix + key, (f"tensor '{prefix}{key}' has shape {list(state[key].shape)}; {name} needs "
                                  f"{list(tensor.shape)} (a damaged or different network)")
    for key in state:
        if key not in expected:
            return prefix + key, f"unexpected tensor '{prefix}{key}', which {name} does not have (a different network)"
    return None
