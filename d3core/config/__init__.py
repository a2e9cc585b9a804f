"""Run configuration: OmegaConf defaults (``base.yaml``) and their assembly.

Merge order (later wins): ``base.yaml`` < dataset defaults < architecture defaults and preset < ``--config_path``
YAML < CLI flags (only those the user typed) < trailing ``key=value`` overrides. Everything after the architecture
preset is merged in struct mode, so an unknown key or a value of the wrong type is a :class:`D3UserError` naming the
key, the value and the fix, raised before anything heavy runs.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, InterpolationResolutionError, OmegaConfBaseException

from d3core.errors import D3UserError
from d3core.predictors import predictor_names

BASE_CONFIG = Path(__file__).with_name("base.yaml")
SELECTION_KEYS = ("dataset", "arch", "preset")


@dataclass
class ConfigSources:
    """Where a run's settings come from, beyond the defaults.

    ``flags`` maps dotted keys to values for the CLI flags the user typed; ``overrides`` are ``key=value`` strings.
    ``config_layer`` replaces the contents of ``config_path`` when the file was not a d3 config and a checkpoint
    format translated it (``translated_by`` names the format).
    """

    config_path: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    config_layer: Mapping[str, Any] | None = None
    translated_by: str | None = None

    def config_file(self) -> DictConfig | None:
        """The ``--config_path`` layer: the translated settings, else the YAML file, else None."""
        if self.config_layer is not None:
            return OmegaConf.create(dict(self.config_layer))
        return _load_yaml(self.config_path) if self.config_path is not None else None

    def config_origin(self) -> str:
        """How messages name the ``--config_path`` layer."""
        translated = f" (translated by checkpoint format {self.translated_by})" if self.translated_by else ""
        return f"--config_path {self.config_path}{translated}"


def load_base() -> DictConfig:
    return OmegaConf.load(BASE_CONFIG)


def _load_yaml(path: Path) -> DictConfig:
    if not path.is_file():
        raise D3UserError(f"--config_path {path}: no such file; pass a YAML file such as configs/lightning_config.yaml")
    try:
        with open(path, encoding="utf-8") as handle:  # safe loader; errors name the file, line and column
            top = yaml.safe_load(handle)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise D3UserError(f"--config_path {path}: not valid YAML ({' '.join(str(exc).split())})") from exc
    if not (top is None or isinstance(top, dict)):
        raise D3UserError(f"--config_path {path}: the top level must be a mapping of keys (e.g. 'optim:' then "
                          f"'  lr: 1e-4'), got {type(top).__name__} {str(top)[:40]!r}")
    try:
        return OmegaConf.load(path)  # OmegaConf's own reading of the same file (its number and null rules)
    except Exception as exc:
        raise D3UserError(f"--config_path {path}: not valid YAML ({' '.join(str(exc).split())})") from exc


def _parse_overrides(overrides: list[str]) -> DictConfig:
    bad = [item for item in overrides if "=" not in item or item.startswith("=")]
    if bad:
        raise D3UserError(f"override {bad[0]!r} is not key=value; write e.g. optim.lr=1e-4 training.batch_size=64")
    for item in overrides:  # the value is read as YAML: name the override a bad one came from
        try:
            OmegaConf.from_dotlist([item])
        except (OmegaConfBaseException, yaml.YAMLError, ValueError, IndexError) as exc:  # IndexError: a key "["
            reason = " ".join(str(exc).split())[:160]
            raise D3UserError(f"override {item!r} cannot be read ({reason}); write key=value with a YAML value, "
                              "quoting text that holds special characters, e.g. 'wandb.tags=[a, b]'") from exc
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except (OmegaConfBaseException, yaml.YAMLError, ValueError) as exc:  # each alone was fine: they clash
        raise D3UserError(f"overrides {' '.join(overrides)} do not combine ({' '.join(str(exc).split())[:160]}); "
                          "a key cannot be both a value and a section") from exc


def _flags_config(flags: Mapping[str, Any]) -> DictConfig:
    config = OmegaConf.create()
    for key, value in flags.items():
        OmegaConf.update(config, key, value, force_add=True)
    return config


def peek_selection(sources: ConfigSources) -> dict[str, Any]:
    """Dataset, architecture and preset as the merged config will have them (needed to pick the defaults)."""
    layers = [load_base()]
    if sources.config_path is not None:
        layers.append(sources.config_file())
    layers += [_flags_config(sources.flags), _parse_overrides(sources.overrides)]
    selection: dict[str, Any] = {}
    for layer in layers:
        for key in SELECTION_KEYS:
            try:
                value = layer.get(key)
            except OmegaConfBaseException as exc:  # an interpolation such as dataset=${nowhere}
                raise _unresolvable(exc) from exc
            if value is not None:
                selection[key] = value
    return {key: selection.get(key) for key in SELECTION_KEYS}


def unknown_file_keys(path: Path) -> list[str]:
    """Dotted keys of the YAML file at ``path`` that ``base.yaml`` does not have (``model.*`` keys excepted: the
    architecture adds its own). A file with such keys is not a d3 config; a checkpoint format may translate it."""
    known = set(_all_keys(load_base()))
    found = _all_keys(_load_yaml(path))
    return [key for key in found if key not in known and not key.startswith("model.")]


def closest_key(key: str) -> str | None:
    """The ``base.yaml`` key most like ``key`` (a misspelling), or None."""
    close = difflib.get_close_matches(key, _all_keys(load_base()), n=1)
    return close[0] if close else None


def _all_keys(config: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, DictConfig):
            keys += _all_keys(value, dotted + ".")
    return keys


def _check_sections_kept(config: DictConfig, layer: DictConfig, origin: str, prefix: str = "") -> None:
    """A section (``model``, ``optim``, ...) may only be given keys, not replaced by a plain value."""
    for key, value in layer.items():
        current = config.get(key) if isinstance(config, DictConfig) and key in config else None
        if isinstance(current, DictConfig) and isinstance(value, DictConfig):
            _check_sections_kept(current, value, origin, f"{prefix}{key}.")
        elif isinstance(current, DictConfig) and len(current):
            first = next(iter(current.keys()))
            raise D3UserError(f"{origin}: {prefix}{key} is a section ({', '.join(map(str, current.keys()))}), not a "
                              f"value; set one of its keys, e.g. {prefix}{key}.{first}=...")


def unknown_key_path(config: DictConfig, layer: DictConfig, prefix: str = "") -> str | None:
    """The whole dotted key of the first value in ``layer`` that ``config`` has no key for (``no.such.key`` for
    the override ``no.such.key=3``, not just ``no``), or None when every key of ``layer`` is known."""
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if not (isinstance(config, DictConfig) and key in config):
            while isinstance(value, DictConfig) and len(value):  # down to the first leaf below the unknown key
                first = next(iter(value.keys()))
                dotted, value = f"{dotted}.{first}", value[first]
            return dotted
        if isinstance(value, DictConfig):
            found = unknown_key_path(config[key], value, dotted + ".")
            if found is not None:
                return found
    return None


def _unresolvable(exc: OmegaConfBaseException) -> D3UserError:
    key = getattr(exc, "full_key", None)
    where = f" of {key!r}" if key else ""
    return D3UserError(f"config: the value{where} cannot be resolved ({' '.join(str(exc).split())[:160]}); "
                       "give the value itself, or ${other.key} naming a key that exists")


def _merge_strict(config: DictConfig, layer: DictConfig, origin: str) -> DictConfig:
    try:
        _check_sections_kept(config, layer, origin)
        return OmegaConf.merge(config, layer)
    except InterpolationResolutionError as exc:
        raise _unresolvable(exc) from exc
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        if isinstance(exc, ConfigKeyError):
            key = unknown_key_path(config, layer) or key
            close = difflib.get_close_matches(key, _all_keys(config), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; see d3core/config/base.yaml for the known keys"
            raise D3UserError(f"{origin}: unknown config key {key!r}{hint}") from exc
        raise D3UserError(f"{origin}: bad value for {key!r}: {' '.join(str(exc).split())}") from exc


def assemble_config(sources: ConfigSources, *, dataset_defaults: Mapping[str, Any] | None = None,
                    model_defaults: Mapping[str, Any] | None = None,
                    model_preset: Mapping[str, Any] | None = None) -> DictConfig:
    """Merge every layer into one struct-mode config and check its values.

    ``dataset_defaults`` is a nested mapping (e.g. ``{"model": {"length": 249, "num_labels": 2}}``);
    ``model_defaults`` and ``model_preset`` are the architecture's ``model.*`` defaults and chosen preset.
    """
    config = load_base()
    model = {**dict(model_defaults or {}), **OmegaConf.to_container(config.model)}
    config.model = model
    config = OmegaConf.merge(config, OmegaConf.create(dict(dataset_defaults or {})))
    config = OmegaConf.merge(config, OmegaConf.create({"model": dict(model_preset or {})}))
    OmegaConf.set_struct(config, True)
    typed_defaults = _leaf_values(config)
    if sources.config_path is not None:
        config = _merge_strict(config, sources.config_file(), sources.config_origin())
    config = _merge_strict(config, _flags_config(sources.flags), "command-line flag")
    config = _merge_strict(config, _parse_overrides(sources.overrides), "override")
    try:
        OmegaConf.resolve(config)  # ${key} interpolations become values here, or a one-line error
    except OmegaConfBaseException as exc:
        raise _unresolvable(exc) from exc
    check_types(config, typed_defaults)
    check_values(config)
    return config


def run_config(settings: Mapping[str, Any], *, model_defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A full run config as plain containers: ``base.yaml`` < ``model_defaults`` (an architecture's ``model.*``
    defaults) < ``settings`` (a nested mapping of any keys), checked like ``d3 train``'s (raises
    :class:`D3UserError`)."""
    config = assemble_config(ConfigSources(), dataset_defaults=settings, model_defaults=model_defaults)
    return OmegaConf.to_container(config, resolve=True)


def check_loaded_config(settings: Mapping[str, Any], origin: str) -> None:
    """Check a run config read from a file (a checkpoint's ``config``) as ``d3 train`` checks typed ones: every key
    ``base.yaml`` has must have its default's type and pass :func:`check_values` (a key the file lacks takes its
    default; keys ``base.yaml`` does not have -- a newer d3's, a plugin's -- are left alone). Raises
    :class:`D3UserError` starting with ``origin`` (e.g. ``checkpoint run/last.ckpt``)."""
    base = load_base()
    defaults = _leaf_values(base)
    try:
        loaded = _leaf_values(OmegaConf.create(dict(settings)))
    except (OmegaConfBaseException, TypeError, ValueError) as exc:
        raise D3UserError(f"{origin}: its run config is not a mapping of config keys ({' '.join(str(exc).split())})"
                          ) from exc
    known = {key: value for key, value in loaded.items() if key in defaults or key.startswith("model.")}
    config = base.copy()
    for key, value in known.items():
        OmegaConf.update(config, key, value, force_add=True)
    if "model.length" not in known:  # a dataset fact some architectures never need: not the file's error
        config.model.length = 1
    try:
        check_types(config, defaults)
        check_values(config)
    except D3UserError as exc:
        raise D3UserError(f"{origin}: its run config is invalid: {exc} (was the file edited, or written by "
                          "another tool?)") from exc


#: keys whose value may be of another type than their default (int or fraction, "auto" or a count, ...)
_FLEXIBLE_TYPES = {"lightning.devices", "lightning.precision", "lightning.strategy", "training.val_check_interval",
                   "training.limit_val_batches", "training.compile"}


def _leaf_values(config: DictConfig, prefix: str = "") -> dict[str, Any]:
    leaves = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, DictConfig):
            leaves.update(_leaf_values(value, dotted + "."))
        else:
            leaves[dotted] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return leaves


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list"}.get(
        type(value), type(value).__name__)


def check_types(config: DictConfig, defaults: Mapping[str, Any]) -> None:
    """Every value must have the type of its default (an int is accepted for a float); raises D3UserError."""
    for key, default in defaults.items():
        if default is None or key in _FLEXIBLE_TYPES:
            continue
        value = OmegaConf.select(config, key)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value)
        expected = type(default)
        ok = (isinstance(value, expected) and not (expected is int and isinstance(value, bool))) or (
            expected is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise D3UserError(f"config {key}={value!r} must be {_type_name(default)} (default {default!r})")


_POSITIVE_INTS = ("tokens", "model.length", "training.batch_size", "training.accum", "training.max_steps",
                  "eval.batch_size", "lightning.num_nodes", "lightning.logging.log_every_n_steps")
_NON_NEGATIVE = ("optim.weight_decay", "optim.warmup", "optim.grad_clip", "model.num_labels", "data.num_workers",
                 "training.early_stopping_patience", "lightning.checkpoint.every_n_train_steps")
_CHOICES = {"graph.type": ("uniform", "absorbing"), "noise.type": ("geometric", "loglinear"),
            "sampling.predictor": predictor_names(),
            "optim.optimizer": ("AdamW",),
            "model.label_mode": ("global", "per_position", "none"),
            "lightning.checkpoint.on_full_disk": ("stop", "continue"),
            # Lightning's precision values (ints 16/32/64 are written as strings here), plus d3's "auto"
            "lightning.precision": ("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
                                    "32", "16", "bf16", "64", "transformer-engine", "transformer-engine-float16")}


def parse_devices(devices: Any) -> str | int | list[int]:
    """``lightning.devices`` as Lightning reads it: ``"auto"``, a count (``-1`` = all; ``"2"`` from YAML or an
    override counts too) or device indices (``[0, 1]`` or ``"0,1"``). Raises :class:`D3UserError` otherwise."""
    if OmegaConf.is_config(devices):
        devices = OmegaConf.to_container(devices)
    text = str(devices).strip()
    if isinstance(devices, str) and text.lstrip("-").isdigit():
        devices = int(text)
    elif isinstance(devices, str) and "," in text and text.replace(",", "").replace(" ", "").isdigit():
        devices = [int(d) for d in text.split(",") if d.strip()]
    count = isinstance(devices, int) and not isinstance(devices, bool) and (devices > 0 or devices == -1)
    indices = isinstance(devices, list) and devices and all(isinstance(d, int) and d >= 0 for d in devices)
    if not (text == "auto" or count or indices):
        raise D3UserError(f"config lightning.devices={devices!r} must be auto, a number of devices (>= 1, or -1 for "
                          "all), or device indices such as [0, 1] or \"0,1\"")
    return devices


#: the values of ``training.compile`` (YAML/overrides give booleans, the CLI and users may give strings)
_COMPILE_SETTINGS = {"auto": "auto", True: True, False: False, "true": True, "false": False, "on": True, "off": False}


def compile_setting(value: Any) -> str | bool:
    """``training.compile`` as ``"auto"``, True or False; anything else is a :class:`D3UserError`."""
    key = value.lower() if isinstance(value, str) else value
    if not isinstance(key, (str, bool)) or key not in _COMPILE_SETTINGS:
        raise D3UserError(f"config training.compile={value!r} must be auto, true or false (--compile/--no-compile)")
    return _COMPILE_SETTINGS[key]


def check_values(config: DictConfig) -> None:
    """Range and choice checks that types alone do not express; raises :class:`D3UserError`."""
    def value(key: str) -> Any:
        return OmegaConf.select(config, key)

    def is_number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    for key in _POSITIVE_INTS:
        v = value(key)
        if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            raise D3UserError(f"config {key}={v!r} must be a positive integer")
    for key in _NON_NEGATIVE:
        v = value(key)
        if not (is_number(v) and v >= 0):
            raise D3UserError(f"config {key}={v!r} must be a number >= 0")
    for key, choices in _CHOICES.items():
        if str(value(key)) not in choices:
            raise D3UserError(f"config {key}={value(key)!r} is not one of: {', '.join(choices)}")
    parse_devices(value("lightning.devices"))
    compile_setting(value("training.compile"))
    epochs = value("training.max_epochs")
    if not (isinstance(epochs, int) and not isinstance(epochs, bool) and (epochs >= 1 or epochs == -1)):
        raise D3UserError(f"config training.max_epochs={epochs!r} must be an integer >= 1, or -1 for no epoch limit")
    for key in ("optim.lr", "noise.sigma_min", "noise.sigma_max", "noise.eps"):
        if not (is_number(value(key)) and value(key) > 0):
            raise D3UserError(f"config {key}={value(key)!r} must be a number > 0")
    if value("noise.sigma_min") >= value("noise.sigma_max"):
        raise D3UserError(f"config noise.sigma_min={value('noise.sigma_min')} must be below "
                          f"noise.sigma_max={value('noise.sigma_max')}")
    for key in ("training.ema", "training.label_dropout"):
        if not (is_number(value(key)) and 0 <= value(key) < 1):
            raise D3UserError(f"config {key}={value(key)!r} must be in [0, 1)")
    for key in ("sampling.steps", "sp_mse.steps"):  # null: the sequence length
        v = value(key)
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            raise D3UserError(f"config {key}={v!r} must be a positive integer, or null for the sequence length")
    if not (is_number(value("sampling.guidance")) and value("sampling.guidance") >= 0):
        raise D3UserError(f"config sampling.guidance={value('sampling.guidance')!r} must be a number >= 0")
    timeout = value("lightning.ddp_timeout_s")  # null: Lightning's default
    if timeout is not None and not (is_number(timeout) and timeout > 0):
        raise D3UserError(f"config lightning.ddp_timeout_s={timeout!r} must be a number of seconds > 0, or null for "
                          "Lightning's default (30 minutes)")
    interval = value("training.val_check_interval")
    if not (is_number(interval) and interval > 0 and (isinstance(interval, int) or interval <= 1)):
        raise D3UserError(f"config training.val_check_interval={interval!r} must be a number of steps (int > 0) "
                          "or a fraction of an epoch (0 < float <= 1)")


def select_value(config: Any, key: str, default: Any = None) -> Any:
    """``config``'s value at dotted ``key`` (a DictConfig, a plain dict or None), or ``default`` when absent/None."""
    if config is None:
        return default
    try:
        value = OmegaConf.select(config if OmegaConf.is_config(config) else OmegaConf.create(config), key)
    except OmegaConfBaseException:
        value = None
    return default if value is None else value
