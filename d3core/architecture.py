"""The architecture contract: what every score-network factory registered under ``register_architectures`` follows.

An architecture plugin registers a *lazy* factory (``"my_pkg.model:MyArchitecture"``) resolving to a subclass of
:class:`Architecture`. The subclass is a namespace of class attributes and class methods (instantiating it is allowed
but never needed)::

    class MyArchitecture(Architecture):
        name = "My"
        description = "a one-line description"
        label_modes = ("global", "none")
        defaults = {"tokens": 4, "num_labels": 0, "hidden_size": 128}
        presets = {"tiny": {"hidden_size": 32}, "paper": {"hidden_size": 512}}

        @classmethod
        def create(cls, config):              # config: plain dict, defaults < preset < the caller's keys
            return MyNet(hidden=cls.positive_int(config, "hidden_size"), ...)

    model = MyArchitecture.build({"num_labels": 2, "length": 249}, preset="tiny")
    log_scores = model(tokens, labels, sigma)  # [B, L] long, [B, C] | [B, L, C] | None, [B] -> [B, L, V]

Configuration keys are the ``model.*`` keys of the run config without the ``model.`` prefix (original D3 names:
``hidden_size``, ``n_blocks``, ``n_heads``, ``cond_dim``, ``dropout``, ``length``; plus ``num_labels`` = C and
``tokens`` = V). Keys an architecture does not use are ignored (the run config also carries other architectures' keys).

Every module built follows the forward contract above: ``tokens`` int64 ``[B, L]`` with values in ``[0, V)``, labels
float (global ``[B, C]``, per-position ``[B, L, C]``, or ``None`` when ``num_labels == 0``), ``sigma`` the total noise
``[B]``; it returns fp32 log-scores ``[B, L, V]``. Architectures never autocast by themselves (Lightning's precision
plugin does).

The null condition (classifier-free guidance, optional). Training with label dropout (``training.label_dropout`` > 0,
the default 0.1 for new runs) replaces the labels of a random share of the rows by a learned *null* condition, so that
one network learns both the conditional and the unconditional score and ``d3 sample --guidance G`` can mix them. An
architecture that supports it sets ``null_condition = True`` and then:

- ``create(config)`` builds the null condition's parameters when ``config["null_condition"]`` is true (the run
  config's ``model.null_condition``, which d3 sets from ``training.label_dropout``: true when a conditional model
  trains with label dropout, false otherwise, so runs without dropout have exactly the original parameters);
- the network has an attribute ``null_condition`` (true when built with it) and ``forward(tokens, labels, sigma,
  null_mask=None)`` accepts ``null_mask``: a ``[B]`` bool tensor marking the rows whose labels are replaced by the null
  condition (their label values are ignored). The null is learned (an embedding or a mask channel), never a zero
  label: 0 is a real activity. Per-position labels drop the whole track.

An architecture without it (``null_condition = False``, the default) trains without label dropout (d3 says so when
the run starts); asking for ``training.label_dropout`` > 0 with it is an error naming the fix.

Per-label nulls (missing labels, optional; needs the null condition). Libraries measured in one cell type each leave
the other labels of a row unmeasured (NaN in the dataset file). An architecture that sets ``label_nulls = True``:

- builds a learned null *per label* when ``config["label_nulls"]`` is true (the run config's ``model.label_nulls``,
  which d3 sets when the training data has missing labels; it implies ``null_condition``);
- then accepts ``null_mask [B, C]`` (bool, one flag per label) besides ``[B]``: a marked label is left out and takes
  its own learned null, so a row conditions on what was measured; a row with every label marked takes the row null
  condition (the unconditional path). ``d3core.api.split_null_mask`` and ``LabelNulls`` do this for a label
  embedding; rows without a marked label must give exactly the output they give without per-label nulls.

Training passes the NaN labels as 0 with their mask, sampling passes ``--labels`` that name only some labels the same
way. Data with missing labels on an architecture without per-label nulls is an error naming the fix.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from d3core.errors import D3UserError
from d3core.plain_data import to_plain

if TYPE_CHECKING:  # torch stays out of module import (this module is imported by light code paths)
    from torch import nn

__all__ = ["Architecture", "label_dropout", "wants_label_nulls", "wants_null_condition"]


def label_dropout(run_config: Any) -> float:
    """``training.label_dropout`` of a run config (plain dict or DictConfig); 0 when absent (older checkpoints)."""
    training = (run_config or {}).get("training") or {}
    return float(training.get("label_dropout") or 0.0)


def wants_label_nulls(run_config: Any) -> bool:
    """Whether the network of this run config has per-label nulls (``model.label_nulls``: data with missing labels)
    on a conditional model with global labels."""
    model = (run_config or {}).get("model") or {}
    conditional = int(model.get("num_labels") or 0) > 0 and model.get("label_mode", "global") == "global"
    return conditional and bool(model.get("label_nulls"))


def wants_null_condition(run_config: Any) -> bool:
    """Whether the network of this run config has a null condition: label dropout > 0 on a conditional model, or
    per-label nulls (rows with every label missing take the row null condition)."""
    model = (run_config or {}).get("model") or {}
    conditional = int(model.get("num_labels") or 0) > 0 and model.get("label_mode", "global") != "none"
    return conditional and (label_dropout(run_config) > 0 or wants_label_nulls(run_config))


class Architecture:
    """Base class of architecture factories (see the module docstring).

    Class attributes a subclass sets:

    - ``name``: the registered name (e.g. ``"Tran"``), used in error messages;
    - ``description``: one line;
    - ``presets``: ``{preset name: {model key: value}}`` (e.g. ``tiny`` for CPU demos and tests, ``paper`` for the
      published size); presets never set dataset facts (``num_labels``, ``length``);
    - ``label_modes``: the label modes it supports (``"global"``, ``"per_position"``, ``"none"``);
    - ``defaults``: values for keys a config may omit;
    - ``required``: keys that must be present after merging (a missing one is a :class:`D3UserError`);
    - ``auto_precision``: what ``lightning.precision=auto`` trains it in on a GPU (``"32-true"`` for a network the
      original trained in fp32); None: ``bf16-mixed`` where the GPU has bf16, else ``32-true``.
    - ``null_condition``: True when ``create`` builds a learned null condition on request (see the module docstring).
    - ``label_nulls``: True when ``create`` builds a learned null per label on request (missing labels).

    Subclasses implement :meth:`create`; callers use :meth:`build`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    label_modes: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    required: ClassVar[tuple[str, ...]] = ()
    auto_precision: ClassVar[str | None] = None
    null_condition: ClassVar[bool] = False
    label_nulls: ClassVar[bool] = False

    # ------------------------------------------------------------------ presets and config
    @classmethod
    def preset(cls, name: str) -> dict[str, Any]:
        """The ``model.*`` values of preset ``name`` (a copy; matched case-insensitively).

        Raises :class:`D3UserError` naming the known presets when ``name`` is unknown.
        """
        for key, values in cls.presets.items():
            if key.lower() == str(name).lower():
                return dict(values)
        known = ", ".join(cls.presets) or "(none)"
        raise D3UserError(
            f"unknown preset {name!r} for architecture {cls.name or cls.__name__}; choose one of: {known}"
        )

    @classmethod
    def resolve_config(cls, model_config: Mapping | None = None, preset: str | None = None) -> dict[str, Any]:
        """Merge ``defaults < preset < model_config`` into a plain dict and check the ``required`` keys.

        ``preset`` defaults to ``model_config["preset"]`` when that key is present. ``model_config`` may be a dict or
        an OmegaConf ``DictConfig`` (the ``model`` section of a run config).
        """
        given = to_plain(model_config, keep_tuples=False) if model_config is not None else {}
        if not isinstance(given, dict):
            raise D3UserError(
                f"architecture {cls.name or cls.__name__} needs a mapping of model.* keys, got {type(model_config).__name__}"
            )
        preset = preset if preset is not None else given.get("preset")
        config: dict[str, Any] = to_plain(dict(cls.defaults), keep_tuples=False)
        if preset is not None:
            config.update(to_plain(cls.preset(preset), keep_tuples=False))
            config["preset"] = str(preset)
        config.update({k: v for k, v in given.items() if v is not None or k not in config})
        missing = [key for key in cls.required if config.get(key) is None]
        if missing:
            raise D3UserError(
                f"architecture {cls.name or cls.__name__} needs model.{missing[0]} (missing from the config); "
                f"set it, e.g. model.{missing[0]}=..., or choose a preset ({', '.join(cls.presets)})"
            )
        return config

    @classmethod
    def build(cls, model_config: Mapping | None = None, *, preset: str | None = None) -> "nn.Module":
        """Build the score network from ``model.*`` values (see :meth:`resolve_config`); returns an ``nn.Module``.

        A config asking for ``null_condition`` on an architecture without one is a :class:`D3UserError`.
        """
        config = cls.resolve_config(model_config, preset)
        if config.get("label_nulls") and not cls.label_nulls:
            raise D3UserError(
                f"architecture {cls.name or cls.__name__} has no per-label null condition, which data with missing "
                "labels (rows not measured in every cell type) needs; import with --join inner, or add one to the "
                "architecture (docs/writing-plugins.md, 'Missing labels')")
        if config.get("null_condition") and not cls.null_condition:
            raise D3UserError(
                f"architecture {cls.name or cls.__name__} has no learned null condition, which training with "
                "training.label_dropout > 0 (classifier-free guidance) needs; set training.label_dropout=0, or add "
                "one to the architecture (docs/writing-plugins.md, 'The null condition')"
            )
        return cls.create(config)

    @classmethod
    def create(cls, config: dict[str, Any]) -> "nn.Module":
        """Build the network from a resolved plain-dict config. Implemented by each architecture."""
        raise NotImplementedError(f"{cls.__name__}.create")

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        """JSON-able facts for ``register(..., **metadata)`` and ``d3 plugins show``."""
        return {"presets": list(cls.presets), "label_modes": list(cls.label_modes),
                "null_condition": bool(cls.null_condition), "label_nulls": bool(cls.label_nulls)}

    # ------------------------------------------------------------------ validation helpers for create()
    @classmethod
    def _invalid(cls, key: str, value: Any, expected: str) -> D3UserError:
        return D3UserError(f"model.{key}={value!r} is invalid for architecture {cls.name or cls.__name__}: {expected}")

    @classmethod
    def positive_int(cls, config: Mapping, key: str, minimum: int = 1) -> int:
        """``config[key]`` as an int >= ``minimum``, else :class:`D3UserError` naming ``model.<key>`` and its value."""
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise cls._invalid(key, value, f"expected an integer >= {minimum}")
        return value

    @classmethod
    def probability(cls, config: Mapping, key: str) -> float:
        """``config[key]`` as a float in [0, 1), else :class:`D3UserError`."""
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise cls._invalid(key, value, "expected a number in [0, 1)")
        return float(value)

    @classmethod
    def choice(cls, config: Mapping, key: str, choices: tuple[str, ...]) -> str:
        """``config[key]`` as one of ``choices``, else :class:`D3UserError`."""
        value = config.get(key)
        if value not in choices:
            raise cls._invalid(key, value, f"choose one of {list(choices)}")
        return value

    @classmethod
    def flag(cls, config: Mapping, key: str) -> bool:
        """``config[key]`` as a bool, else :class:`D3UserError`."""
        value = config.get(key)
        if not isinstance(value, bool):
            raise cls._invalid(key, value, "expected true or false")
        return value
