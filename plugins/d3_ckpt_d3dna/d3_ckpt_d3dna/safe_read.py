"""Reading d3-dna files safely: ``torch.load(weights_only=True)`` with d3's allow-list plus exactly what a pickled
OmegaConf ``DictConfig`` needs, and the config rebuilt as plain data.

d3-dna's Lightning module calls ``save_hyperparameters()`` with its OmegaConf config, so every ``.ckpt`` holds
``hyper_parameters['cfg']``, a pickled ``DictConfig``. Unpickling it builds these objects and nothing else (as
Lightning's own loader allows them): ``DictConfig`` and ``ListConfig``, their ``ContainerMetadata`` and ``Metadata``,
the untyped value node ``AnyNode``, ``typing.Any``, the ``dict``/``list`` type references of the metadata and the
``collections.defaultdict`` of its resolver cache. Each is a plain data holder; none imports, evaluates or calls
anything named in the file. Any other global still refuses the file (``UnsafeCheckpointError``, nothing executed).
The config is then rebuilt as plain dicts and lists *without resolving interpolations* (``${...}`` stays a string),
so not even OmegaConf's resolvers (``oc.env``, ...) run on what the file says.
"""
from __future__ import annotations

import os
from typing import Any

from d3core.api import D3UserError, UnsafeCheckpointError, safe_torch_load


def omegaconf_globals() -> list[Any]:
    """The objects a pickled OmegaConf config needs (see the module docstring)."""
    import collections
    import typing

    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode

    return [DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode, typing.Any, dict, list,
            collections.defaultdict]


def read_file(path: str | os.PathLike) -> Any:
    """The content of a d3-dna file (memory-mapped): read with d3's allow-list (the read every format shares within
    ``d3 convert --recursive``), and only when that refuses the file, again with :func:`omegaconf_globals` allowed as
    well. A refusal then names a global outside both lists."""
    try:
        return safe_torch_load(path, mmap=True)
    except UnsafeCheckpointError:
        return safe_torch_load(path, mmap=True, extra_globals=omegaconf_globals())


def plain_config(value: Any, where: str) -> dict[str, Any] | None:
    """A pickled config (an OmegaConf ``DictConfig``, or already a mapping) as plain dicts and lists, interpolations
    left unresolved; None when ``value`` is None."""
    if value is None:
        return None
    from omegaconf import OmegaConf

    try:
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=False, throw_on_missing=False)
    except Exception as exc:  # a damaged DictConfig: any omegaconf error
        raise D3UserError(f"{where}: its embedded d3-dna config is damaged ({type(exc).__name__})") from exc
    if not isinstance(value, dict):
        raise D3UserError(f"{where}: its embedded d3-dna config is a {type(value).__name__}, not a mapping")
    return value
