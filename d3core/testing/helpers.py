"""Test helpers for plugin authors, as plain functions (the pytest fixtures in :mod:`.pytest_plugin` wrap them).

::

    manager = fresh_manager()                               # built-ins + tiny-dna / tiny-arch, no entry points
    with registered(manager, my_plugin_module, "d3-my-plugin"):
        path = write_tiny_h5(tmp / "tiny.h5")               # 64 training rows of 32 bp, one label
        summary = train_smoke(manager, tmp / "run", dataset="my-data", arch="tiny-arch", data=path)
        assert summary["global_step"] == 1

Nothing here imports torch at module level.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from d3core.plugins import (D3PluginManager, PluginRecord, get_plugin_manager, make_plugin_manager,
                            process_wide_manager)
from d3core.registry import normalize_name
from d3core.testing import plugin as testing_plugin

__all__ = ["fresh_manager", "registered", "process_manager", "write_tiny_h5", "with_missing_labels", "tiny_batch",
           "train_smoke", "check_null_condition", "check_label_nulls", "SMOKE_OVERRIDES"]

#: settings of :func:`train_smoke`: a few rows per batch, validation after the last step, no loggers, CPU, fp32
SMOKE_OVERRIDES: dict[str, Any] = {
    "training.batch_size": 8,
    "eval.batch_size": 4,
    "training.limit_val_batches": 1,
    "optim.warmup": 1,
    "lightning.accelerator": "cpu",
    "lightning.devices": 1,
    "lightning.strategy": "auto",
    "lightning.num_nodes": 1,
    "lightning.precision": "32-true",
    "lightning.logging.log_every_n_steps": 1,
    "lightning.checkpoint.save_top_k": 1,
    "data.num_workers": 0,
    "loggers": [],
    "callbacks": [],
}


def fresh_manager(*, strict: bool = True, tiny_components: bool = True, env: Mapping[str, str] | None = None,
                  warn=None) -> D3PluginManager:
    """A new plugin manager that loads no entry points: the built-ins, plus ``tiny-dna`` and ``tiny-arch``.

    ``strict`` (default) sets ``D3_STRICT_PLUGINS=1``: a plugin that fails to register raises
    :class:`d3core.errors.PluginError` instead of being skipped with a warning. ``env`` replaces the environment the
    manager reads (``os.environ`` is never consulted, so the tester's ``D3_*`` variables do not leak in).
    """
    environment = dict(env or {})
    if strict:
        environment.setdefault("D3_STRICT_PLUGINS", "1")
    manager = make_plugin_manager(load_entrypoints=False, env=environment, warn=warn)
    if tiny_components:
        manager.register(testing_plugin, testing_plugin.PLUGIN_NAME, builtin=True)
    return manager


@contextlib.contextmanager
def registered(manager: D3PluginManager, plugin: Any, name: str | None = None, *, version: str | None = None,
               builtin: bool = False) -> Iterator[PluginRecord]:
    """Register an in-process plugin (a module or an object with ``@hookimpl`` functions) for the ``with`` block.

    ``name`` defaults to the plugin's ``__name__`` (use the distribution name, e.g. ``"d3-my-data"``, so
    provenance looks as it will once installed). Unregistered on exit, also when the block raises.
    """
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    try:
        yield manager.register(plugin, name, version=version, builtin=builtin)
    finally:
        manager.unregister(name)


def process_manager(manager: D3PluginManager):
    """Make ``manager`` the process-wide one (``d3core.get_registry``, ``load_model_local``, ...) for the block
    (:func:`d3core.plugins.process_wide_manager`)."""
    return process_wide_manager(manager)


def write_tiny_h5(path: str | os.PathLike, *, n: int = 64, length: int = 32,
                  label_names: Sequence[str] = ("activity",), seed: int = 0, overwrite: bool = False) -> Path:
    """A tiny synthetic dataset file in the DeepSTARR layout: ``X_{split}`` one-hot ``[N, 4, length]`` (uint8,
    channels-first), ``Y_{split}`` ``[N, C]`` float, ``label_names`` attribute; ``n`` training rows and
    ``max(4, ceil(n / 10))`` validation and test rows. Motifs of :data:`~d3core.testing.components.TINY_MOTIFS` are
    planted and drive label ``i % C``. The same arguments write the same file.
    """
    from d3core.data.layout import H5Layout
    from d3core.data.synth import Motif, synthesize_file
    from d3core.testing.components import TINY_MOTIFS

    names = list(label_names)
    motifs = [Motif(m.name, m.consensus, {names[i % len(names)]: sum(m.effects.values())} if names else {},
                    rate=m.rate, note=m.note) for i, m in enumerate(TINY_MOTIFS)]
    return synthesize_file(path, dataset="tiny-dna", layout=H5Layout("X_{split}", "Y_{split}", True, int(length)),
                           label_names=names, motifs=motifs, baseline={name: 0.0 for name in names}, noise=0.2,
                           gc=0.5, n_train=int(n), seed=seed, overwrite=overwrite)


def with_missing_labels(source: str | os.PathLike, out: str | os.PathLike, missing) -> Path:
    """A copy of the dataset file ``source`` (``Y_{split}`` labels, ``label_names`` attribute, as :func:`write_tiny_h5`
    and DeepSTARR files) at ``out`` with the labels ``missing(y [N, C]) -> bool [N, C]`` marks set to NaN (not
    measured) in every split, and the measured rows counted in the file as ``d3 data import`` counts them."""
    import json
    import shutil

    import h5py
    import numpy as np

    from d3core.data.importing import measured_counts
    from d3core.data.layout import MEASURED_ATTR, SPLITS, read_label_names

    out = Path(shutil.copyfile(source, out))
    with h5py.File(out, "r+", locking=False) as f:
        labels = {}
        for split in SPLITS:
            y = f[f"Y_{split}"][:]
            y[np.asarray(missing(y), dtype=bool)] = np.nan
            f[f"Y_{split}"][...] = labels[split] = y
        f.attrs[MEASURED_ATTR] = json.dumps(measured_counts(labels, read_label_names(f)))
    return out


def tiny_batch(batch: int = 4, length: int = 32, num_labels: int = 1, *, label_mode: str = "global",
               tokens: int = 4, seed: int = 0):
    """``(tokens [B, L] int64, labels, sigma [B])`` for a forward pass of a score network.

    ``labels`` is ``[B, C]`` (``label_mode="global"``), ``[B, L, C]`` (``"per_position"``) or ``None`` (``"none"`` or
    ``num_labels=0``); ``sigma`` is a total noise level in ``[0.01, 5]``.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, tokens, (batch, length), generator=generator)
    if label_mode == "none" or not num_labels:
        labels = None
    elif label_mode == "per_position":
        labels = torch.randn(batch, length, num_labels, generator=generator)
    else:
        labels = torch.randn(batch, num_labels, generator=generator)
    sigma = 0.01 + 4.99 * torch.rand(batch, generator=generator)
    return x, labels, sigma


def check_null_condition(architecture, model_config: Mapping[str, Any] | None = None, *, preset: str = "tiny",
                         batch: int = 4, length: int = 32, num_labels: int = 1, label_mode: str = "global") -> None:
    """Assert that an architecture follows the null-condition contract of :mod:`d3core.architecture` (for
    classifier-free guidance); raises ``AssertionError`` naming what is wrong.

    Checked, with random weights: the class declares ``null_condition = True``; built without it, the network refuses
    a ``null_mask``; built with it, it has parameters of its own (new ones, or wider ones for a mask channel), ``network.null_condition`` is true, an all-false
    ``null_mask`` gives exactly the output without one, the output of null rows does not depend on their labels but
    does on the null condition's own (trainable) parameters.
    """
    import torch

    assert getattr(architecture, "null_condition", False), f"{architecture.__name__}.null_condition is not True"
    config = {"num_labels": num_labels, "length": length, "label_mode": label_mode, **dict(model_config or {})}
    plain = architecture.build(config, preset=preset).eval()
    guided = architecture.build({**config, "null_condition": True}, preset=preset).eval()
    assert not getattr(plain, "null_condition", False), "built without null_condition, network.null_condition is true"
    assert getattr(guided, "null_condition", False), "built with null_condition, network.null_condition is not true"
    shapes = {name: tuple(p.shape) for name, p in plain.named_parameters()}
    extra = sorted(name for name, p in guided.named_parameters() if shapes.get(name) != tuple(p.shape))
    assert extra, "the null condition adds no parameters (it must be learned, not a fixed label value)"
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in guided.parameters():
            parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    tokens, labels, sigma = tiny_batch(batch, length, num_labels, label_mode=label_mode)
    with torch.no_grad():
        reference = guided(tokens, labels, sigma)
        none_null = guided(tokens, labels, sigma, null_mask=torch.zeros(batch, dtype=torch.bool))
        assert torch.equal(reference, none_null), "an all-false null_mask changes the output"
        mask = torch.arange(batch) % 2 == 0
        other_labels = labels + 3.0
        a = guided(tokens, labels, sigma, null_mask=mask)
        b = guided(tokens, other_labels, sigma, null_mask=mask)
        assert torch.equal(a[mask], b[mask]), "the output of null rows depends on their label values"
        assert not torch.allclose(a[~mask], b[~mask]), "the labels do not reach the output"
        assert torch.equal(a[~mask], reference[~mask]), "null rows change the output of the other rows"
    guided(tokens, labels, sigma, null_mask=mask)[mask].square().sum().backward()
    named = dict(guided.named_parameters())
    assert any(named[name].grad is not None and named[name].grad.abs().sum() > 0 for name in extra), \
        f"the null condition's parameters {extra} get no gradient from null rows"
    try:
        plain(tokens, labels, sigma, null_mask=mask)
    except Exception:
        pass
    else:
        raise AssertionError("a network built without null_condition accepted a null_mask")


def check_label_nulls(architecture, model_config: Mapping[str, Any] | None = None, *, preset: str = "tiny",
                      batch: int = 4, length: int = 32, num_labels: int = 3) -> None:
    """Assert that an architecture follows the per-label null contract of :mod:`d3core.architecture` (missing
    labels); raises ``AssertionError`` naming what is wrong.

    Checked, with random weights, on global labels: the class declares ``label_nulls = True``; built with
    ``null_condition`` alone the network refuses a ``[B, C]`` mask; built with ``label_nulls`` too, it has new
    parameters, an all-false ``[B, C]`` mask gives exactly the output without one (and of the network without per-label
    nulls, same weights), a masked label's value does not reach the output while the others do, a row with every label
    masked gives exactly the row null condition, and the per-label parameters get a gradient from masked labels.
    """
    import torch

    assert getattr(architecture, "label_nulls", False), f"{architecture.__name__}.label_nulls is not True"
    config = {"num_labels": num_labels, "length": length, "label_mode": "global", "null_condition": True,
              **dict(model_config or {})}
    guided = architecture.build(config, preset=preset).eval()
    nulls = architecture.build({**config, "label_nulls": True}, preset=preset).eval()
    shapes = {name: tuple(p.shape) for name, p in guided.named_parameters()}
    extra = sorted(name for name, p in nulls.named_parameters() if shapes.get(name) != tuple(p.shape))
    assert extra, "per-label nulls add no parameters (they must be learned, not a fixed label value)"
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in nulls.named_parameters():
            parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
        guided.load_state_dict({k: v for k, v in nulls.state_dict().items() if k in guided.state_dict()})
    tokens, labels, sigma = tiny_batch(batch, length, num_labels)
    none = torch.zeros(batch, num_labels, dtype=torch.bool)
    with torch.no_grad():
        reference = guided(tokens, labels, sigma)
        assert torch.equal(nulls(tokens, labels, sigma), reference), "per-label nulls change rows without a mask"
        assert torch.equal(nulls(tokens, labels, sigma, null_mask=none), reference), \
            "an all-false [B, C] null_mask changes the output"
        mask = none.clone()
        mask[:, 0] = True  # the first label of every row missing
        other = labels.clone()
        other[:, 0] += 3.0
        a = nulls(tokens, labels, sigma, null_mask=mask)
        assert torch.equal(a, nulls(tokens, other, sigma, null_mask=mask)), "a masked label reaches the output"
        other[:, 1] += 3.0
        assert not torch.allclose(a, nulls(tokens, other, sigma, null_mask=mask)), "measured labels do not reach it"
        every = torch.ones(batch, num_labels, dtype=torch.bool)
        row_null = nulls(tokens, labels, sigma, null_mask=torch.ones(batch, dtype=torch.bool))
        assert torch.equal(nulls(tokens, labels, sigma, null_mask=every), row_null), \
            "a row with every label masked is not the row null condition"
    nulls(tokens, labels, sigma, null_mask=mask).square().sum().backward()
    named = dict(nulls.named_parameters())
    assert any(named[name].grad is not None and named[name].grad.abs().sum() > 0 for name in extra), \
        f"the per-label null parameters {extra} get no gradient from masked labels"
    try:
        guided(tokens, labels, sigma, null_mask=mask)
    except Exception:
        pass
    else:
        raise AssertionError("a network built without label_nulls accepted a [B, C] null_mask")


def train_smoke(manager: D3PluginManager | None, work_dir: str | os.PathLike, *, dataset: str = "tiny-dna",
                arch: str = "tiny-arch", data: str | os.PathLike | None = None, preset: str = "tiny",
                max_steps: int = 1, overrides: Mapping[str, Any] | Iterable[str] = (),
                fast_dev_run: bool = False) -> dict[str, Any]:
    """Train ``max_steps`` optimizer steps on the CPU through the real runner (``plan_run`` + ``fit``).

    ``data`` defaults to a fresh :func:`write_tiny_h5` file for ``tiny-dna`` and to the dataset's ``default_path()``
    otherwise. ``overrides`` are config keys (a mapping of dotted keys, or ``"key=value"`` strings) applied last.
    ``work_dir`` (the run directory) must not exist yet. Returns the summary of :func:`d3core.training.runner.fit`
    (``run_dir``, ``last_checkpoint`` -- a Lightning ``.ckpt`` unless ``fast_dev_run`` --, ``global_step``,
    ``metrics``) plus ``plan`` (the :class:`~d3core.training.plan.RunPlan`).
    """
    from d3core.config import ConfigSources
    from d3core.training import fit, plan_run

    manager = manager or get_plugin_manager()
    work_dir = Path(work_dir)
    if data is None and normalize_name(dataset) == normalize_name(testing_plugin.TINY_DATASET):
        data = write_tiny_h5(work_dir.with_name(work_dir.name + "-tiny.h5"), overwrite=True)
    flags: dict[str, Any] = dict(SMOKE_OVERRIDES)
    flags.update({"dataset": dataset, "arch": arch, "preset": preset, "work_dir": str(work_dir),
                  "training.max_steps": int(max_steps), "training.val_check_interval": int(max_steps)})
    if data is not None:
        flags["data.path"] = str(data)
    texts: list[str] = []
    if isinstance(overrides, Mapping):
        flags.update(overrides)
    else:
        texts = list(overrides)
    plan = plan_run(ConfigSources(flags=flags, overrides=texts), manager=manager)
    summary = fit(plan, fast_dev_run=fast_dev_run)
    summary["plan"] = plan
    return summary
