"""Plan a run before anything heavy happens: resolve the plugins, assemble and check the config, choose the run
directory (one for all ranks). ``plan_run`` raises :class:`D3UserError` for anything the user can fix."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import d3core
from d3core.architecture import wants_null_condition
from d3core.atomic import check_folder_can_be_made
from d3core.config import ConfigSources, assemble_config, closest_key, peek_selection, unknown_file_keys
from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager, get_plugin_manager
from d3core.training.compile import choose_compile, compile_note
from d3core.training.components import callback_names, check_callbacks_not_from_files, logger_names, typed_callbacks
from d3core.training.ranks import RUN_DIR_ENV, is_rank_zero
from d3core.training.resume import check_resume_conflicts, resume_source
from d3core.training.run_lock import LOCK_NAME, check_run_directory_free
from d3core.training.run_settings import RunSettings, resolve_run_settings
from d3core.training.settings import check_batch, check_trainer_settings, setting_notes

__all__ = ["DEFAULT_PRESET", "RunPlan", "build_run_network", "count_parameters", "plan_run", "plugin_versions"]

DEFAULT_PRESET = "paper"


@dataclass
class RunPlan:
    """Everything resolved before the Trainer is built."""

    config: DictConfig
    manager: D3PluginManager
    dataset: Any  # the dataset plugin object
    architecture: Any  # the architecture class
    run_dir: Path
    data_path: Path
    #: the trainer settings resolved once for this machine (what the Trainer, the data and the notes read)
    settings: RunSettings
    resume_checkpoint: Path | None = None
    #: one line each on settings that do not apply on this machine and run (``d3 train`` prints them)
    notes: list[str] = field(default_factory=list)

    @property
    def components(self) -> list[tuple[str, str]]:
        """(kind, name) of every registered component this run uses."""
        config = self.config
        used = [("datasets", config.dataset), ("architectures", config.arch)]
        used += [("loggers", name) for name in logger_names(config, self.manager)]
        used += [("callbacks", name) for name in callback_names(config, self.manager)
                 if name in self.manager.registry("callbacks")]
        return used


def _selection(sources: ConfigSources, checkpoint_config: dict | None) -> dict[str, Any]:
    chosen = peek_selection(sources)
    if checkpoint_config:
        for key in ("dataset", "arch", "preset"):
            chosen[key] = chosen[key] or checkpoint_config.get(key)
    missing = [key for key in ("dataset", "arch") if not chosen[key]]
    if missing:
        raise D3UserError(f"no {missing[0]} chosen: pass --{missing[0]} NAME (see 'd3 plugins list --kind "
                          f"{'datasets' if missing[0] == 'dataset' else 'architectures'}')")
    return chosen


def translate_config_file(sources: ConfigSources, manager: D3PluginManager) -> tuple[ConfigSources, str | None]:
    """``(sources, note)``: a ``--config_path`` file with keys d3 does not have (another tool's run config, such as
    an original D3 ``config.yaml``) is translated by the first checkpoint format whose ``config_from_file`` knows it;
    ``note`` says so. A file with a top-level key unlike any of d3's that no format translates is refused, naming the
    translation; misspelled keys are left to the config checks (which suggest the key meant)."""
    path = sources.config_path
    unknown = unknown_file_keys(path) if path is not None and sources.config_layer is None else []
    if not unknown:
        return sources, None
    from d3core.checkpoints.formats import config_from_foreign_file

    arch = peek_selection(replace(sources, config_path=None))["arch"]
    found = config_from_foreign_file(path, manager, arch=arch)
    foreign = [key for key in unknown if "." not in key and closest_key(key) is None]  # not misspelled d3 keys
    if found is None and foreign:
        raise D3UserError(f"--config_path {path}: unknown config key {foreign[0]!r} ({len(unknown)} key(s) d3 does "
                          "not have): not a d3 config, and no installed checkpoint format translates it (an original "
                          "D3 config.yaml needs the d3-ckpt-legacy plugin: pip install d3-ckpt-legacy); d3's keys: "
                          "d3core/config/base.yaml")
    if found is None:
        return sources, None
    name, settings = found
    note = (f"--config_path {path} is not a d3 config: checkpoint format {name} read it as its own run config and "
            "translated its keys to d3's, leaving out those d3 has no equivalent for (--dry_run shows the result)")
    return replace(sources, config_layer=settings, translated_by=name), note


def _callback_origin(name: str, sources: ConfigSources, checkpoint_config: dict | None,
                     resume_from: str | None) -> str:
    """Which file put callback ``name`` in the config: the checkpoint being resumed, else ``--config_path``."""
    if checkpoint_config and name in [str(n) for n in checkpoint_config.get("callbacks") or ()]:
        return f"the config of checkpoint {resume_from}"
    if sources.config_path is not None:
        return sources.config_origin()
    return "the config"


def _default_run_dir(config: DictConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.dataset}-{config.arch}-{stamp}"


def _missing_labels(config: DictConfig, summary, data_path: Path) -> str | None:
    """For a train file with missing labels (NaN, counted in the file): set ``model.label_nulls`` (each row conditions
    on what was measured) and return the note that says so; None for files without."""
    from d3core.data.importing import refuse_partial_tracks
    from d3core.data.validation import has_missing_labels

    if not has_missing_labels(summary):
        return None
    train = summary.splits["train"]
    measured = ", ".join(f"{n} {m}/{train.rows}" for n, m in zip(summary.label_names, train.measured))
    refuse_partial_tracks(str(data_path), config.model.get("label_mode", "global"),
                          f"measured in the train split: {measured}")
    config.model.label_nulls = True
    return (f"the data has missing labels (measured in the train split: {measured}): each row conditions on what "
            "was measured, a learned null per label (model.label_nulls)")


def plan_run(sources: ConfigSources, *, resume_from: str | None = None, manager: D3PluginManager | None = None,
             check_data: bool = True, check_hardware: bool = True,
             resume_options: dict[str, Any] | None = None) -> RunPlan:
    """Resolve plugins, assemble and check the config, choose the run directory. Raises :class:`D3UserError`.

    ``check_hardware=False`` (a dry run prepared on a login node) does not require the accelerator to be present.
    ``resume_options`` reach the format's ``load`` of the ``resume_from`` checkpoint when its signature names them
    (``d3 train`` passes ``arch`` and ``config``, its ``--arch`` and ``--legacy_config``).
    """
    manager = manager or get_plugin_manager()
    sources, translation_note = translate_config_file(sources, manager)
    shared_run_dir = None if is_rank_zero() else os.environ.get(RUN_DIR_ENV)  # set by rank 0 before the launch
    work_dir_flag = shared_run_dir or sources.flags.get("work_dir")
    if work_dir_flag and is_rank_zero():
        check_run_directory_free(work_dir_flag)  # before its checkpoint is read: a live run is writing it
    resume_ckpt, checkpoint_config = resume_source(resume_from, work_dir_flag, manager, **(resume_options or {}))
    chosen = _selection(sources, checkpoint_config)
    dataset_entry = manager.get("datasets", chosen["dataset"])
    arch_entry = manager.get("architectures", chosen["arch"])
    dataset = manager.dataset(dataset_entry)
    architecture = manager.architecture(arch_entry)
    preset_name = chosen["preset"] or DEFAULT_PRESET
    dataset_defaults = OmegaConf.to_container(OmegaConf.create(dict(dataset.default_config)))
    dataset_defaults.setdefault("model", {}).update(num_labels=len(dataset.label_names),
                                                    label_mode=dataset.label_mode)
    if not architecture.null_condition:  # no learned null condition: no label dropout unless asked for (an error)
        dataset_defaults.setdefault("training", {})["label_dropout"] = 0.0
    if checkpoint_config:  # checkpoints from before label dropout trained without it
        checkpoint_config.setdefault("training", {}).setdefault("label_dropout", 0.0)
    layered = replace(sources, flags=dict(sources.flags), overrides=list(sources.overrides))
    layered.flags.update(dataset=dataset_entry.name, arch=arch_entry.name, preset=preset_name)
    model_preset = architecture.preset(preset_name)
    if checkpoint_config:  # the checkpoint's settings replace the defaults; its model sizes replace the preset
        dataset_defaults = OmegaConf.to_container(OmegaConf.merge(dataset_defaults, checkpoint_config))
        model_preset.update(checkpoint_config.get("model") or {})
    config = assemble_config(layered, dataset_defaults=dataset_defaults, model_defaults=architecture.defaults,
                             model_preset=model_preset)
    if checkpoint_config:
        check_resume_conflicts(config, checkpoint_config)
    data_path = Path(config.data.path).expanduser() if config.data.path else dataset.default_path()
    missing_note = None
    if check_data:
        summary = dataset.validate(data_path)
        file_labels = dataset.label_names_in(data_path)
        if len(file_labels) != config.model.num_labels:
            config.model.num_labels = len(file_labels)
        missing_note = _missing_labels(config, summary, data_path)
    config.model.null_condition = wants_null_condition(config)  # the network follows training.label_dropout
    run_dir = Path(shared_run_dir or config.work_dir or _default_run_dir(config))
    config.work_dir = str(run_dir)
    if is_rank_zero():
        check_folder_can_be_made(run_dir, choose="another --work_dir")
        check_run_directory_free(run_dir)  # a live run holds it: say who, before anything else about it
    if resume_ckpt is None and is_rank_zero() and run_dir.exists() and \
            any(entry.name != LOCK_NAME for entry in run_dir.iterdir()):  # a dead run's lock alone is no run
        raise D3UserError(f"run directory {run_dir} already exists; choose another --work_dir, or continue it with "
                          f"--work_dir {run_dir} --resume_from last")
    settings = resolve_run_settings(config)
    check_batch(config, settings)
    check_callbacks_not_from_files(config, manager, typed_callbacks(sources.flags, sources.overrides),
                                   lambda name: _callback_origin(name, sources, checkpoint_config, resume_from))
    check_trainer_settings(config, settings, manager, check_hardware=check_hardware)
    plan = RunPlan(config=config, manager=manager, dataset=dataset, architecture=architecture, run_dir=run_dir,
                   data_path=data_path, settings=settings, resume_checkpoint=resume_ckpt)
    plan.notes = [note for note in (translation_note, missing_note) if note]
    plan.notes += setting_notes(config, settings, manager, network=lambda: build_run_network(plan, device="meta"))
    compiled = choose_compile(config.training.compile, settings.device_type, lambda: _parameters_or_zero(plan))
    plan.settings = replace(settings, compile=compiled)
    plan.notes += [note for note in [compile_note(compiled)] if note]
    return plan


def build_run_network(plan: RunPlan, *, device: Any = None):
    """The score network of the plan's architecture, sized by the config (``device="meta"``: no weights)."""
    from d3core.checkpoints import build_network as network_of_config

    return network_of_config(plan.config, str(plan.config.arch), manager=plan.manager, device=device)


def count_parameters(network) -> int:
    return sum(p.numel() for p in network.parameters())


def _parameters_or_zero(plan: RunPlan) -> int:
    """The network's size (built on the meta device), or 0 when it cannot be built: building it for the run reports
    why, in its own words."""
    try:
        return count_parameters(build_run_network(plan, device="meta"))
    except Exception:
        return 0


def plugin_versions(plan: RunPlan) -> dict[str, str]:
    """``{distribution: version}`` of d3core and of every plugin providing a component this run uses."""
    versions = {"d3core": d3core.__version__}
    for kind, name in plan.components:
        provider = plan.manager.get(kind, name).provider
        versions[provider.distribution] = provider.version or "built-in"
    return versions
