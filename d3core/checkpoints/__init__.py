"""Checkpoints: the plain-data ``CheckpointBundle``, safe loading, formats, models and conversion.

A format (registered with ``register_checkpoint_formats``) is an object with

- ``detect(path) -> bool``: by content (a file, or a run directory);
- ``load(path) -> CheckpointBundle`` (it may accept keyword options such as ``arch=`` or ``config=``; only the
  options its signature names are passed);
- ``save(bundle, path)``: ``path`` is a file, or a directory for directory formats; a model the format has no form
  for raises ``d3core.errors.FormatCannotHold`` (``d3 checkpoint verify`` reports that as not applicable);
- optionally ``suffix``: what ``d3 convert`` appends to the run name (``".ckpt"``; ``""`` = a run directory;
  default ``"." + name``);
- optionally ``run_name(path) -> (name, folder) | None``: how ``d3 convert`` names a file that belongs to one of the
  format's run directories (default: the file's stem, beside it);
- optionally ``describe(bundle) -> dict``: extra facts for ``d3 checkpoint info`` (a dict value's ``"summary"`` is
  its one-line text);
- optionally ``config_from_file(path, arch=None) -> dict | None``: the d3 settings of a YAML file that is the
  format's own kind of run config (``d3 train --config_path`` then accepts it; :func:`config_from_foreign_file`).

Converting = load with one format, save with another (:func:`convert_checkpoint`). Every load goes through
:func:`safe_torch_load` (``torch.load(weights_only=True)`` plus an explicit allow-list of numpy scalar types); a file
that needs anything else is refused and nothing in it is executed.

The bundle's naming contract: ``model`` and ``ema["shadow"]`` are keyed by the parameter names of the d3
architecture; ``optimizer`` is a torch optimizer state dict *keyed by parameter name* (``state`` maps names to
``{"step", "exp_avg", "exp_avg_sq"}``, each param group's ``params`` lists names) -- each format maps names to its
own indices, so no format depends on another's parameter order.

Modules, one job each (names resolved lazily here, so ``import d3core.checkpoints`` imports no torch):

- :mod:`~d3core.checkpoints.bundle`: ``CheckpointBundle``;
- :mod:`~d3core.checkpoints.safe_load`: ``safe_torch_load`` and its allow-list;
- :mod:`~d3core.checkpoints.formats`: format lookup, detection, load/save/convert dispatch;
- :mod:`~d3core.checkpoints.models`: the network, graph and noise of a bundle (``load_model_local``);
- :mod:`~d3core.checkpoints.optimizer`: d3's optimiser recipe (AdamW, linear warm-up) and its state by name;
- :mod:`~d3core.checkpoints.convert`: ``d3 convert``'s tree walk, naming, plan and conversions;
- :mod:`~d3core.checkpoints.describe`: ``d3 checkpoint info``'s facts;
- :mod:`~d3core.checkpoints.verify`: ``d3 checkpoint verify``'s checks (bit-exact comparison included).
"""
from d3core.lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, {
    "CheckpointBundle": "d3core.checkpoints.bundle",
    "UnsafeCheckpointError": "d3core.checkpoints.safe_load",
    "allowed_globals": "d3core.checkpoints.safe_load",
    "safe_torch_load": "d3core.checkpoints.safe_load",
    "get_format": "d3core.checkpoints.formats",
    "format_suffix": "d3core.checkpoints.formats",
    "detect_format": "d3core.checkpoints.formats",
    "load_bundle": "d3core.checkpoints.formats",
    "save_bundle": "d3core.checkpoints.formats",
    "convert_checkpoint": "d3core.checkpoints.formats",
    "config_from_foreign_file": "d3core.checkpoints.formats",
    "build_diffusion": "d3core.checkpoints.models",
    "build_network": "d3core.checkpoints.models",
    "model_from_bundle": "d3core.checkpoints.models",
    "load_model_local": "d3core.checkpoints.models",
    "parameter_count": "d3core.checkpoints.models",
    "parameter_names": "d3core.checkpoints.models",
    "optimizer_by_name": "d3core.checkpoints.optimizer",
    "optimizer_by_index": "d3core.checkpoints.optimizer",
    "warmup_factor": "d3core.checkpoints.optimizer",
})
