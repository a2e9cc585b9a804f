"""Lazy package attributes (PEP 562): public names resolved on first access, so that importing a package of d3core
stays light (``d3 --help`` and ``d3 plugins list`` never import torch).

Usage in a package's ``__init__.py``::

    from d3core.lazy import lazy_attributes

    __getattr__, __dir__, __all__ = lazy_attributes(__name__, {"SamplingModel": "d3core.generation.sampling_model"})

Targets are ``"module"`` (the attribute has the public name) or ``"module:attr"``.
"""
from __future__ import annotations

import sys
from importlib import import_module
from typing import Callable


def lazy_attributes(package: str, targets: dict[str, str]) -> tuple[Callable, Callable, list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` resolving ``targets`` on first access (then cached)."""
    def __getattr__(name: str):
        target = targets.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attr = target.partition(":")
        value = getattr(import_module(module_name), attr or name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(targets))

    return __getattr__, __dir__, sorted(targets)
