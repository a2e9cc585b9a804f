"""d3core: the core of the d3 framework (SEDD discrete diffusion for DNA design).

Plugins import only the marker from here::

    from d3core import hookimpl

    @hookimpl
    def register_datasets(register):
        register("my-data", "my_pkg.dataset:MyDataset", description="...")

Heavy names (``load_model_local`` and friends) are resolved lazily (PEP 562) so that importing
``d3core`` -- and therefore ``d3 --help`` and ``d3 plugins list`` -- never imports torch.
"""
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

import pluggy

PROJECT_NAME = "d3"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

try:
    __version__ = version("d3core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

# Public name -> "module:attribute", imported on first access.
_LAZY_NAMES: dict[str, str] = {
    "load_model_local": "d3core.checkpoints:load_model_local",
    "CheckpointBundle": "d3core.checkpoints:CheckpointBundle",
    "get_registry": "d3core.plugins:get_registry",
}


def __getattr__(name: str):
    target = _LAZY_NAMES.get(name)
    if target is None:
        raise AttributeError(f"module 'd3core' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY_NAMES))
