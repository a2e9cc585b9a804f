"""``module:attr`` names of Python objects (registry factories, the CLI's commands, ``--callback mycb:Probe``),
imported with the standard library's :func:`pkgutil.resolve_name`."""
from __future__ import annotations

import os
import pkgutil
import sys
from importlib import import_module, invalidate_caches
from types import ModuleType
from typing import Any

__all__ = ["import_from_working_directory", "resolve_module_attr"]


def resolve_module_attr(spec: str, *, working_directory: bool = False) -> Any:
    """The object ``spec`` names: ``package.module:attr`` (``attr`` may be dotted: ``module:Class.method``) or a
    dotted module path. ``working_directory``: a module found nowhere else is looked for in the current directory,
    as ``python -m`` would. Raises ``ImportError``, ``AttributeError`` or ``ValueError`` (a malformed ``spec``), as
    :func:`pkgutil.resolve_name` does."""
    if working_directory:
        import_from_working_directory(spec.partition(":")[0])
    return pkgutil.resolve_name(spec)


def import_from_working_directory(module_name: str) -> ModuleType:
    """Import ``module_name`` as ``python -m`` would: installed modules, then the current directory (added to
    ``sys.path`` when the module is found nowhere else), so ``--callback mycb:Probe`` finds ``./mycb.py``."""
    try:
        return import_module(module_name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        missing_is_ours = exc.name is not None and (module_name + ".").startswith(exc.name + ".")
        if not missing_is_ours or any(os.path.abspath(p or ".") == cwd for p in sys.path):
            raise
        sys.path.insert(0, cwd)
        invalidate_caches()
        try:
            return import_module(module_name)
        except ModuleNotFoundError:
            sys.path.remove(cwd)
            raise exc from None
