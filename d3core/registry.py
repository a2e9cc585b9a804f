"""Registries: component name -> lazy factory, with provenance, aliases and collision handling.

One :class:`Registry` per kind (datasets, architectures, checkpoint formats, loggers, callbacks, oracles). Names are matched
case-insensitively with ``-`` equal to ``_``; ``dist:name`` selects the provider explicitly. A name registered by two
external plugins is only an error when it is used, so ``d3 plugins list`` can still show the clash.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from d3core.errors import PluginError
from d3core.module_attr import resolve_module_attr

KINDS = ("datasets", "architectures", "checkpoint_formats", "loggers", "callbacks", "oracles", "models")

#: user-facing spelling -> canonical kind ("dataset", "checkpoint-format", "arch", ...)
_KIND_ALIASES = {"arch": "architectures", "archs": "architectures", "format": "checkpoint_formats",
                 "formats": "checkpoint_formats"}


def normalize_name(name: str) -> str:
    """The lookup key of a component name: lower case, ``-`` and ``_`` equal."""
    return name.strip().lower().replace("-", "_")


def normalize_distribution(name: str) -> str:
    """The lookup key of a distribution name (PEP 503: case, ``-``, ``_`` and ``.`` equal)."""
    return name.strip().lower().replace("_", "-").replace(".", "-")


def normalize_kind(kind: str) -> str:
    """Map ``dataset``, ``datasets``, ``checkpoint-format``, ``checkpoint_formats``, ... to a canonical kind."""
    key = kind.strip().lower().replace("-", "_")
    key = _KIND_ALIASES.get(key, key)
    if key in KINDS:
        return key
    if key + "s" in KINDS:
        return key + "s"
    raise PluginError(f"unknown component kind {kind!r}; use one of: {', '.join(KINDS)}")


@dataclass(frozen=True)
class Provider:
    """Who registered an entry: the plugin's distribution (or built-in module) and its version."""

    distribution: str
    version: str | None = None
    builtin: bool = False

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}" if self.version else self.distribution


@dataclass(frozen=True)
class Entry:
    """One registered component. ``factory`` is ``"module:attr"`` (imported by :meth:`load`) or an object."""

    kind: str
    name: str
    factory: Any
    provider: Provider
    aliases: tuple[str, ...] = ()
    description: str | None = None
    replace: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalize_name(n) for n in (self.name, *self.aliases)))

    @property
    def factory_path(self) -> str:
        """``module:attr`` of the factory, also for objects registered directly."""
        if isinstance(self.factory, str):
            return self.factory
        return f"{getattr(self.factory, '__module__', '?')}:{getattr(self.factory, '__qualname__', repr(self.factory))}"

    @property
    def label(self) -> str:
        """``dataset 'deepstarr' from d3-deepstarr 0.1.0``: how messages name this entry."""
        return f"{self.kind[:-1].replace('_', ' ')} {self.name!r} from {self.provider}"

    def load(self) -> Any:
        """Import and return the factory object (a class or function)."""
        if not isinstance(self.factory, str):
            return self.factory
        try:
            obj = resolve_module_attr(self.factory)
        except Exception as exc:  # report which plugin is broken, not just the ImportError
            raise PluginError(
                f"{self.label} cannot be loaded: "
                f"{type(exc).__name__}: {exc} (factory {self.factory!r}); reinstall or fix the plugin, or "
                f"'pip uninstall {self.provider.distribution}'") from exc
        return obj

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": list(self.aliases), "provider": self.provider.distribution,
                "version": self.provider.version, "builtin": self.provider.builtin, "factory": self.factory_path,
                "description": self.description, "replace": self.replace, **self.metadata}


@dataclass(frozen=True)
class FailedProvider:
    """A plugin that could not be loaded: shown when a name it may have provided is looked up."""

    distribution: str
    version: str | None
    error: str


class Registry:
    """Name -> :class:`Entry` for one kind of component."""

    def __init__(self, kind: str, failed: Callable[[], Iterable[FailedProvider]] = tuple):
        self.kind = kind
        self._entries: list[Entry] = []
        self._failed = failed

    # -- building ---------------------------------------------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        self._entries.append(entry)

    def discard_provider(self, distribution: str) -> None:
        """Forget everything a provider registered (used when its hook raised half-way)."""
        self._entries = [e for e in self._entries if e.provider.distribution != distribution]

    # -- reading ----------------------------------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """All registered entries, in registration order (clashing ones included)."""
        return list(self._entries)

    def names(self) -> list[str]:
        return sorted(dict.fromkeys(e.name for e in self._entries), key=str.lower)

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except PluginError:
            return False
        return True

    def _label(self) -> str:
        return self.kind[:-1].replace("_", " ")

    def get(self, name: str) -> Entry:
        """Resolve ``name`` (or ``dist:name``) to one entry, or raise :class:`PluginError` saying what to do."""
        dist, _, bare = name.rpartition(":")
        candidates = [e for e in self._entries if normalize_name(bare) in e.keys]
        if dist:
            dist_key = normalize_distribution(dist)
            candidates = [e for e in candidates if normalize_distribution(e.provider.distribution) == dist_key]
        if not candidates:
            raise PluginError(self._unknown_message(name))
        if len(candidates) == 1:
            return candidates[0]
        external = [e for e in candidates if not e.provider.builtin]
        if len(external) == 1 and external[0].replace:
            return external[0]
        clash = ", ".join(str(e.provider) for e in candidates)
        qualified = " or ".join(f"'{e.provider.distribution}:{e.name}'" for e in candidates)
        hint = " (a plugin replacing a built-in must register it with replace=True)" if len(external) == 1 else ""
        raise PluginError(
            f"{self._label()} {bare!r} is registered by several plugins ({clash}){hint}; choose one with "
            f"{qualified}, or hide one with D3_DISABLE_PLUGINS={candidates[-1].provider.distribution}, "
            "or uninstall one")

    def _unknown_message(self, name: str) -> str:
        bare = name.rpartition(":")[2]
        known = {k: e.name for e in self._entries for k in e.keys}
        close = [known[k] for k in difflib.get_close_matches(normalize_name(bare), known, n=3, cutoff=0.6)]
        message = f"unknown {self._label()} {name!r}"
        message += f"; did you mean {', '.join(repr(c) for c in dict.fromkeys(close))}?" if close else ""
        failed = list(self._failed())
        related = [f for f in failed if normalize_name(bare) in normalize_name(f.distribution)] or failed
        if related:
            broken = "; ".join(f"{f.distribution} {f.version or ''}".rstrip() + f" failed to load ({f.error})"
                               for f in related)
            message += f". Plugin {broken} and may provide it: fix or reinstall it"
        available = ", ".join(self.names()) or "none installed"
        return f"{message}{'' if message.endswith('?') else '.'} Available: {available} (see 'd3 plugins list " \
               f"--kind {self.kind}')"
