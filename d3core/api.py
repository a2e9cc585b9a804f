"""The plugin API of d3: every name a plugin may use, and the only module plugins import from d3core.

::

    from d3core.api import hookimpl, SequenceDataset, Architecture, CheckpointBundle, D3UserError

Everything else in ``d3core`` is internal and may change between releases; first-party plugins are held to this by
an import-linter contract (``pyproject.toml``, run by the test suite). Names are resolved on first access (PEP 562),
so ``from d3core.api import hookimpl`` in a plugin's hook module imports no torch. ``docs/writing-plugins.md`` lists
them with what each is for.

=====================  ==============================================================================================
hooks and errors       ``hookimpl``, ``D3UserError``, ``PluginError``, ``one_line``
datasets               ``SequenceDataset`` (base class of dataset plugins), ``Motif`` (planted motifs for synthesis)
architectures          ``Architecture`` (base class), shared layers ``TimestepEmbedder``, ``LayerNorm``, ``Rotary``,
                       ``apply_rotary``, ``modulate``, ``zero_self_logit``, ``check_labels``, ``TanhGELU``, ``in_fp32``,
                       ``Dense``; the null condition (classifier-free guidance) ``with_null_condition``,
                       ``check_null_mask``; per label (missing labels) ``split_null_mask``, ``LabelNulls``
checkpoint formats     ``CheckpointBundle``, ``FormatCannotHold``, ``safe_torch_load``, ``UnsafeCheckpointError``,
                       ``build_network``, ``architecture_class``, ``run_config``, ``to_plain``, ``warmup_factor``,
                       ``lr_after``, ``optimizer_by_name``, ``optimizer_by_index`` (Adam state by index <-> by name)
oracles                ``Oracle`` (what d3 oracle files load as), ``load_oracle(path, device)``,
                       ``dataset_oracle(name, device)`` (a dataset's trained oracle: what ``--oracle NAME`` gives)
writing files          ``atomic_torch_save``, ``atomic_write_text``, ``atomic_write_bytes``, ``write_atomically``,
                       ``AtomicWriter``
the running d3         ``get_registry``, ``make_plugin_manager``, ``load_model_local``
=====================  ==============================================================================================
"""
from d3core.lazy import lazy_attributes

#: public name -> where it lives ("module" or "module:attribute")
PUBLIC_NAMES: dict[str, str] = {
    # hooks and errors
    "hookimpl": "d3core.hookspecs",
    "D3UserError": "d3core.errors",
    "PluginError": "d3core.errors",
    "one_line": "d3core.errors",
    # datasets
    "SequenceDataset": "d3core.data.base",
    "Motif": "d3core.data.synth",
    # architectures
    "Architecture": "d3core.architecture",
    "TimestepEmbedder": "d3core.nn",
    "LayerNorm": "d3core.nn",
    "Rotary": "d3core.nn",
    "apply_rotary": "d3core.nn",
    "modulate": "d3core.nn",
    "zero_self_logit": "d3core.nn",
    "check_labels": "d3core.nn",
    "in_fp32": "d3core.nn",
    "check_null_mask": "d3core.nn",
    "with_null_condition": "d3core.nn",
    "split_null_mask": "d3core.nn",
    "LabelNulls": "d3core.nn",
    "TanhGELU": "d3core.nn",
    "Dense": "d3core.nn",
    # checkpoint formats
    "CheckpointBundle": "d3core.checkpoints.bundle",
    "FormatCannotHold": "d3core.errors",
    "safe_torch_load": "d3core.checkpoints.safe_load",
    "UnsafeCheckpointError": "d3core.checkpoints.safe_load",
    "build_network": "d3core.checkpoints.models",
    "architecture_class": "d3core.plugins",
    "run_config": "d3core.config",
    "to_plain": "d3core.plain_data",
    "warmup_factor": "d3core.checkpoints.optimizer",
    "lr_after": "d3core.checkpoints.optimizer",
    "optimizer_by_name": "d3core.checkpoints.optimizer",
    "optimizer_by_index": "d3core.checkpoints.optimizer",
    # oracles
    "Oracle": "d3core.evaluation.oracle_interface",
    "load_oracle": "d3core.evaluation.oracle",
    "dataset_oracle": "d3core.evaluation.oracle",
    # writing files
    "atomic_torch_save": "d3core.atomic",
    "atomic_write_text": "d3core.atomic",
    "atomic_write_bytes": "d3core.atomic",
    "write_atomically": "d3core.atomic",
    "AtomicWriter": "d3core.atomic",
    # the running d3
    "get_registry": "d3core.plugins",
    "make_plugin_manager": "d3core.plugins",
    "load_model_local": "d3core.checkpoints.models",
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, PUBLIC_NAMES)
