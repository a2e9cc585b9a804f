"""d3core: the core of the d3 framework (SEDD discrete diffusion for DNA design).

Plugins import from :mod:`d3core.api` only::

    from d3core.api import hookimpl

    @hookimpl
    def register_datasets(register):
        register("my-data", "my_pkg.dataset:MyDataset", description="...")

Heavy names (``load_model_local`` and friends) are resolved lazily (PEP 562) so that importing
``d3core`` -- and therefore ``d3 --help`` and ``d3 plugins list`` -- never imports torch.
"""
from importlib.metadata import PackageNotFoundError, version

import warnings

from d3core.lazy import lazy_attributes

PROJECT_NAME = "d3"

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

_lazy_getattr, __dir__, _ = lazy_attributes(__name__, _LAZY_NAMES)


def __getattr__(name: str):
    """Lazy names; ``d3core.hookimpl`` (before 0.4) still works, with a DeprecationWarning pointing at its one home."""
    if name == "hookimpl":
        warnings.warn("d3core.hookimpl moved: use 'from d3core.api import hookimpl'", DeprecationWarning, stacklevel=2)
        from d3core.hookspecs import hookimpl
        return hookimpl
    return _lazy_getattr(name)
