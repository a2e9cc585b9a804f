"""The plugin manager: entry-point discovery, isolation of broken plugins, environment switches, registries.

Discovery goes through ``importlib.metadata`` entry points in the group ``d3``, one plugin at a time:

1. ``D3_LOAD_PLUGINS`` (comma-separated allow-list of distribution names; empty = no external plugin) and
   ``D3_DISABLE_PLUGINS`` (block-list, built-in module names included) are applied before anything is imported;
2. each entry point is imported and registered; a failure (import error, invalid hook signature, misspelled hook name
   caught by ``check_pending``) is recorded, reported as one warning line on stderr and the plugin is skipped;
3. the built-in plugins (``d3core.builtin.*``) register through the same hooks;
4. hooks are called through pluggy (``pm.hook.<name>(...)``), so ``tryfirst``/``trylast`` and wrappers work as
   pluggy documents; every implementation is guarded when it is registered, so one that raises is reported and
   skipped, loses whatever it registered, and the other plugins' implementations still run.

``D3_STRICT_PLUGINS=1`` turns every such failure into a :class:`~d3core.errors.PluginError` (tests, CI).
Nothing here imports torch.

A dataset whose class declares an oracle network (``oracle = "module:Class"``) registers, under its own name, the
oracle that ``d3 oracle train --dataset NAME`` trains (:class:`TrainedDatasetOracle`): the core derives it from the
declaration, so a dataset plugin has no ``register_oracles`` of its own (``register_oracles`` is for oracles no
dataset declares; one registered under a dataset's name comes first).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from pkgutil import resolve_name
from typing import Any, Callable, Iterable, Mapping

import pluggy

from d3core import PROJECT_NAME, hookspecs
from d3core.errors import D3UserError, PluginError, one_line
from d3core.registry import KINDS, Entry, FailedProvider, Provider, Registry, normalize_distribution

ENTRY_POINT_GROUP = PROJECT_NAME

#: built-in plugins, registered after the external ones through the same hooks
BUILTIN_MODULES = ("d3core.builtin.loggers", "d3core.builtin.callbacks", "d3core.builtin.checkpoint_lightning")

_HOOK_OF_KIND = {kind: f"register_{kind}" for kind in KINDS}

#: the loader of a dataset's trained oracle, named by string as every factory is (this layer imports no evaluation code)
TRAINED_ORACLE_LOADER = "d3core.evaluation.oracle:dataset_oracle"


@dataclass(frozen=True)
class TrainedDatasetOracle:
    """The factory of the oracle a dataset registers by declaring its network: ``factory(device)`` -> the network as
    ``d3 oracle train --dataset NAME`` left it beside the dataset's default data file
    (:func:`d3core.evaluation.oracle.dataset_oracle`)."""

    dataset: str
    manager: "D3PluginManager" = field(repr=False, compare=False)

    def __call__(self, device: str = "cpu"):
        return resolve_name(TRAINED_ORACLE_LOADER)(self.dataset, device, manager=self.manager)


@dataclass
class PluginRecord:
    """What ``d3 plugins list`` reports about one plugin."""

    name: str  # distribution name (external) or module name (built-in)
    version: str | None
    module: str
    builtin: bool = False
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.version, self.builtin)


def _env_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


class D3PluginManager:
    """Loads plugins and holds the registries. Build one with :func:`make_plugin_manager`."""

    def __init__(self, env: Mapping[str, str] | None = None, warn: Callable[[str], None] | None = None):
        self.env = dict(os.environ if env is None else env)
        self.strict = self.env.get("D3_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}
        self._warn = warn or (lambda line: print(line, file=sys.stderr))
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        if self.env.get("D3_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda text: print(text, end="", file=sys.stderr))
            self.pm.enable_tracing()
        self.records: dict[str, PluginRecord] = {}
        self._registries: dict[str, Registry] | None = None
        #: the registries the datasets' oracles were added to (:meth:`_add_dataset_oracles`, on first use)
        self._dataset_oracles_of: dict[str, Registry] | None = None
        self._calling: list[PluginRecord] = []  # the plugin whose hook implementation is running (innermost last)
        disabled = _env_list(self.env.get("D3_DISABLE_PLUGINS")) or []
        self._disabled = {normalize_distribution(name) for name in disabled}

    # -- loading ----------------------------------------------------------------------------------------------------
    def load_entrypoints(self) -> None:
        """Import and register every allowed plugin of the ``d3`` entry-point group."""
        allowed = _env_list(self.env.get("D3_LOAD_PLUGINS"))
        allowed_keys = None if allowed is None else {normalize_distribution(name) for name in allowed}
        found: set[str] = set()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist_name = ep.dist.name if ep.dist else ep.name
            key = normalize_distribution(dist_name)
            found.add(key)
            if key in self._disabled or (allowed_keys is not None and key not in allowed_keys):
                continue  # filtered before import
            if dist_name in self.records:
                self._fail(self.records[dist_name], f"duplicate entry point {ep.name!r} in group {PROJECT_NAME!r}")
                continue
            self._load_entrypoint(ep, dist_name, ep.dist.version if ep.dist else None)
        for name in allowed or ():
            if normalize_distribution(name) not in found:
                self._warn(f"d3: warning: D3_LOAD_PLUGINS names {name!r}, which is not an installed d3 plugin")

    def _load_entrypoint(self, ep: EntryPoint, dist_name: str, version: str | None) -> None:
        record = PluginRecord(name=dist_name, version=version, module=ep.value)
        self.records[dist_name] = record
        try:
            module = ep.load()
        except Exception as exc:
            self._fail(record, one_line(exc))
            return
        self._register_module(module, record)

    def load_builtins(self) -> None:
        """Register the built-in plugins (also when ``D3_LOAD_PLUGINS`` is empty)."""
        for module_name in BUILTIN_MODULES:
            if normalize_distribution(module_name) in self._disabled:
                continue
            record = PluginRecord(name=module_name, version=None, module=module_name, builtin=True)
            self.records[module_name] = record
            self._register_module(import_module(module_name), record)

    def register(self, plugin: Any, name: str, *, version: str | None = None, builtin: bool = False) -> PluginRecord:
        """Register an in-process plugin object (a module or any object with hookimpls); used by tests."""
        record = PluginRecord(name=name, version=version, module=getattr(plugin, "__name__", repr(plugin)),
                              builtin=builtin)
        self.records[name] = record
        self._register_module(plugin, record)
        return record

    def unregister(self, name: str) -> None:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._registries = None

    def _register_module(self, module: Any, record: PluginRecord) -> None:
        try:
            self.pm.register(module, name=record.name)
            self.pm.check_pending()
        except Exception as exc:  # pluggy.PluginValidationError: bad signature or misspelled hook name
            if self.pm.get_plugin(record.name) is not None:
                self.pm.unregister(name=record.name)
            self._fail(record, one_line(exc))
            return
        callers = self.pm.get_hookcallers(module) or ()
        for caller in callers:
            for impl in caller.get_hookimpls():
                if impl.plugin is module:
                    impl.function = self._guarded(impl, record, caller.name)
        record.hooks = sorted(caller.name for caller in callers)
        self._registries = None

    def _fail(self, record: PluginRecord, error: str) -> None:
        record.error = error
        if self.strict:
            raise PluginError(f"plugin {record.name} failed to load: {error} (D3_STRICT_PLUGINS=1)")
        hint = "" if record.builtin else f"; fix it or 'pip uninstall {record.name}'"
        self._warn(f"d3: warning: plugin {record.name} {record.version or ''}".rstrip()
                   + f" skipped: {error}{hint}")

    # -- hooks ------------------------------------------------------------------------------------------------------
    @contextmanager
    def _running(self, record: PluginRecord):
        self._calling.append(record)
        try:
            yield
        finally:
            self._calling.pop()

    def _guarded(self, impl: pluggy.HookImpl, record: PluginRecord, hook_name: str) -> Callable:
        """``impl.function`` wrapped so that pluggy can call it like the original: while it runs, :attr:`_calling`
        names its plugin; an exception is reported (:meth:`_fail`) instead of propagating, and a plugin that already
        failed is not called again. A wrapper (``wrapper=True`` or ``hookwrapper=True``) stays a generator that yields
        exactly once, so the implementations inside it still run when its own code raises."""
        function = impl.function

        def failed(exc: BaseException) -> None:
            self._fail(record, f"hook {hook_name} raised {one_line(exc)}")

        if not (impl.wrapper or impl.hookwrapper):
            def call(*args):
                if record.error:
                    return None
                with self._running(record):
                    try:
                        return function(*args)
                    except Exception as exc:
                        failed(exc)
                        return None
            return call

        def wrap(*args):
            generator = None
            if not record.error:
                with self._running(record):
                    try:
                        generator = function(*args)
                        next(generator)
                    except Exception as exc:  # StopIteration included: a wrapper that never yields is broken
                        failed(exc if not isinstance(exc, StopIteration) else RuntimeError("the wrapper did not yield"))
                        generator = None
            result = yield
            if generator is None:
                return result
            with self._running(record):
                try:
                    generator.send(result)
                except StopIteration as stop:
                    return stop.value if impl.wrapper else result
                except Exception as exc:
                    failed(exc)
                    return result
            failed(RuntimeError("the wrapper yielded more than once"))
            return result

        return wrap

    def call_each(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook through pluggy (every implementation, in pluggy's order); a raising plugin is reported and
        skipped. Returns pluggy's list of results."""
        return getattr(self.pm.hook, hook_name)(**kwargs)

    def _failed_providers(self) -> Iterable[FailedProvider]:
        return [FailedProvider(r.name, r.version, r.error) for r in self.records.values() if r.error]

    def _collect(self) -> dict[str, Registry]:
        """Run the ``register_*`` hooks (one per kind); an entry belongs to the plugin whose implementation registered it, and a
        plugin that failed (in any hook) contributes nothing at all."""
        staged: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        for kind, hook_name in _HOOK_OF_KIND.items():
            def register(name: str, factory: Any, *, aliases: Iterable[str] = (), description: str | None = None,
                         replace: bool = False, _kind: str = kind, **metadata: Any) -> None:
                if not self._calling:
                    raise PluginError(f"register() of hook register_{_kind} called outside a hook implementation")
                record = self._calling[-1]
                staged[_kind].append(Entry(kind=_kind, name=name, factory=factory, provider=record.provider,
                                           aliases=tuple(aliases), description=description, replace=replace,
                                           metadata=metadata))

            self.call_each(hook_name, register=register)
        failed = {r.name for r in self.records.values() if r.error}
        registries = {kind: Registry(kind, self._failed_providers) for kind in KINDS}
        for kind, entries in staged.items():
            for entry in entries:
                if entry.provider.distribution not in failed:
                    registries[kind].add(entry)
        return registries

    def _add_dataset_oracles(self, registries: dict[str, Registry]) -> None:
        """Register, for every dataset that declares an oracle network, its trained oracle under the dataset's name
        (:class:`TrainedDatasetOracle`), unless a plugin registers an oracle of that name itself. Done when the
        oracles are first asked for, not with the other kinds: it imports the dataset classes (numpy, h5py)."""
        oracles = registries["oracles"]
        for name, (entry, cls) in _oracle_declaring_datasets(registries["datasets"]).items():
            if name in oracles:
                continue
            oracles.add(Entry(kind="oracles", name=name, factory=TrainedDatasetOracle(name, self),
                              provider=entry.provider,
                              description=f"dataset {name}'s oracle network as 'd3 oracle train --dataset {name}' "
                                          "left it beside the data",
                              metadata={"dataset": name, "network": cls.oracle, "label_names": list(cls.label_names),
                                        "length": int(cls.length), "differentiable": True}))

    def dataset_oracle_networks(self) -> dict[str, str]:
        """``{dataset name: "module:Class"}``: the oracle network each registered dataset declares (its class
        attribute ``oracle``), in registration order. Imports the dataset classes (light: no torch); one that cannot
        be imported is left out here, and reported where it is used."""
        return {name: cls.oracle for name, (_, cls) in _oracle_declaring_datasets(self.registry("datasets")).items()}

    # -- registries -------------------------------------------------------------------------------------------------
    @property
    def registries(self) -> dict[str, Registry]:
        if self._registries is None:
            self._registries = self._collect()
        return self._registries

    def registry(self, kind: str) -> Registry:
        registries = self.registries
        if kind == "oracles" and self._dataset_oracles_of is not registries:
            self._dataset_oracles_of = registries
            self._add_dataset_oracles(registries)
        return registries[kind]

    def get(self, kind: str, name: str) -> Entry:
        """Resolve a component name of one kind (see :meth:`Registry.get`)."""
        return self.registry(kind).get(name)

    def dataset(self, name: str | Entry):
        """The dataset registered as ``name`` (or of a registry entry), instantiated (a
        :class:`~d3core.data.base.SequenceDataset`).

        A plugin whose dataset is not a ``SequenceDataset`` subclass, or fails to construct, is a
        :class:`PluginError` naming the plugin -- not an ``AttributeError`` deep inside a command.
        """
        from d3core.data.base import SequenceDataset

        entry = name if isinstance(name, Entry) else self.get("datasets", name)
        cls = _component_class(entry, SequenceDataset, "d3core.data.SequenceDataset")
        try:
            return cls()
        except Exception as exc:
            raise PluginError(f"{entry.label} cannot be created: {one_line(exc)}; fix the plugin, or "
                              f"'pip uninstall {entry.provider.distribution}'") from exc

    def architecture(self, name: str | Entry):
        """The architecture class registered as ``name`` (or of a registry entry), an
        :class:`~d3core.architecture.Architecture` subclass."""
        from d3core.architecture import Architecture

        entry = name if isinstance(name, Entry) else self.get("architectures", name)
        return _component_class(entry, Architecture, "d3core.architecture.Architecture")

    def oracle(self, name: str | Entry, device: str = "cpu"):
        """The oracle registered as ``name``, built on ``device`` by its factory and checked against the oracle
        contract (``label_names``, ``length``, ``predict``; see :func:`d3core.hookspecs.register_oracles`)."""
        entry = name if isinstance(name, Entry) else self.get("oracles", name)
        factory = entry.load()
        try:
            oracle = factory(device)
        except D3UserError:  # the user's to fix (e.g. an oracle not trained yet), not the plugin's: said as it is
            raise
        except Exception as exc:
            raise PluginError(f"{entry.label} cannot be created: {one_line(exc)}; fix the plugin, or "
                              f"'pip uninstall {entry.provider.distribution}'") from exc
        missing = [a for a in ("label_names", "length", "predict") if not hasattr(oracle, a)]
        if missing:
            raise PluginError(f"{entry.label}: its factory returned a {type(oracle).__name__} without "
                              f"{', '.join(missing)}; an oracle needs label_names, length and predict(one-hot "
                              "[N, 4, L]) -> [N, C] (see docs/writing-plugins.md)")
        if getattr(oracle, "name", None) is None:
            try:
                oracle.name = entry.name
            except AttributeError:
                pass
        return oracle

    def is_plugin_distribution(self, name: str) -> bool:
        key = normalize_distribution(name)
        return any(normalize_distribution(r.name) == key for r in self.records.values())

    def plugin_summaries(self, include_builtins: bool = False) -> list[dict[str, Any]]:
        """The ``d3 plugins list --json`` array, sorted by name. ``provides`` lists what each plugin's hooks register;
        the oracles core derives from the datasets' declarations are left out, since finding them imports every
        dataset class (numpy, h5py) and this listing stays light ('d3 plugins list --kind oracles' shows them)."""
        registries = self.registries  # runs the registration hooks first, so their errors are recorded
        rows = []
        for record in sorted(self.records.values(), key=lambda r: r.name.lower()):
            if record.builtin and not include_builtins:
                continue
            provides = {kind: [e.name for e in registries[kind].entries()
                               if e.provider.distribution == record.name
                               and not isinstance(e.factory, TrainedDatasetOracle)] for kind in KINDS}
            rows.append({"name": record.name, "version": record.version, "module": record.module,
                         "hooks": record.hooks, "provides": provides, "builtin": record.builtin,
                         "error": record.error})
        return rows


def _oracle_declaring_datasets(datasets: Registry) -> dict[str, tuple[Entry, type]]:
    """``{dataset name: (entry, class)}`` of the registered datasets whose class declares an oracle network
    (``oracle = "module:Class"``); a dataset whose class cannot be imported is skipped (using it reports why)."""
    found: dict[str, tuple[Entry, type]] = {}
    for entry in datasets.entries():
        try:
            cls = entry.load()
        except PluginError:
            continue
        if isinstance(getattr(cls, "oracle", None), str):
            found.setdefault(entry.name, (entry, cls))
    return found


def make_plugin_manager(*, load_entrypoints: bool = True, load_builtins: bool = True,
                        env: Mapping[str, str] | None = None,
                        warn: Callable[[str], None] | None = None) -> D3PluginManager:
    """A fresh plugin manager. Tests use ``load_entrypoints=False`` and register in-process plugins."""
    manager = D3PluginManager(env=env, warn=warn)
    if load_entrypoints:
        manager.load_entrypoints()
    if load_builtins:
        manager.load_builtins()
    return manager


_DEFAULT: D3PluginManager | None = None


def get_plugin_manager() -> D3PluginManager:
    """The process-wide plugin manager (created on first use from the installed entry points)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = make_plugin_manager()
    return _DEFAULT


def set_plugin_manager(manager: D3PluginManager | None) -> None:
    """Install ``manager`` as the process-wide one (``None`` resets)."""
    global _DEFAULT
    _DEFAULT = manager


@contextmanager
def process_wide_manager(manager: D3PluginManager):
    """Make ``manager`` the process-wide one (:func:`get_plugin_manager`) for the block, then restore the previous
    one: the d3 app does this for each command it runs, so an app built around another manager (a test's, a
    notebook's) leaves nothing behind."""
    previous = _DEFAULT
    set_plugin_manager(manager)
    try:
        yield manager
    finally:
        set_plugin_manager(previous)


def architecture_class(name: str) -> type:
    """The architecture class registered as ``name`` in the running d3 (an
    :class:`~d3core.architecture.Architecture` subclass); a :class:`PluginError` when it is unknown."""
    return get_plugin_manager().architecture(name)


def get_registry(kind: str) -> Registry:
    """The registry of one kind from the process-wide plugin manager, e.g. ``get_registry("datasets")``."""
    return get_plugin_manager().registry(kind)


def _component_class(entry: Entry, base: type, base_name: str) -> type:
    """The entry's factory, checked to be a subclass of ``base`` (the interface of its kind)."""
    obj = entry.load()
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise PluginError(f"{entry.label} is {entry.factory_path} ({type(obj).__name__} "
                          f"{getattr(obj, '__qualname__', obj)!r}), not a {base_name} subclass; fix the plugin "
                          f"(see docs/writing-plugins.md), or 'pip uninstall {entry.provider.distribution}'")
    return obj
