"""Plan a run before anything heavy happens: resolve the plugins, assemble and check the config, choose the run
directory (one for all ranks). ``plan_run`` raises :class:`D3UserError` for anything the user can fix."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import d3core
from d3core.config import ConfigSources, assemble_config, peek_selection
from d3core.errors import D3UserError
from d3core.plugins import D3PluginManager, get_plugin_manager
from d3core.training.components import logger_names
from d3core.training.ranks import RUN_DIR_ENV, is_rank_zero
from d3core.training.resume import check_resume_conflicts, resume_source
from d3core.training.settings import check_batch, check_trainer_settings

__all__ = ["DEFAULT_PRESET", "RunPlan", "build_network", "count_parameters", "plan_run", "plugin_versions"]

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
    resume_checkpoint: Path | None = None

    @property
    def components(self) -> list[tuple[str, str]]:
        """(kind, name) of every registered component this run uses."""
        config = self.config
        used = [("datasets", config.dataset), ("architectures", config.arch)]
        used += [("loggers", name) for name in logger_names(config)]
        used += [("callbacks", name) for name in config.callbacks if name in self.manager.registry("callbacks")]
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


def _default_run_dir(config: DictConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.dataset}-{config.arch}-{stamp}"


def plan_run(sources: ConfigSources, *, resume_from: str | None = None, manager: D3PluginManager | None = None,
             check_data: bool = True, check_hardware: bool = True) -> RunPlan:
    """Resolve plugins, assemble and check the config, choose the run directory. Raises :class:`D3UserError`.

    ``check_hardware=False`` (a dry run prepared on a login node) does not require the accelerator to be present.
    """
    manager = manager or get_plugin_manager()
    shared_run_dir = None if is_rank_zero() else os.environ.get(RUN_DIR_ENV)  # set by rank 0 before the launch
    work_dir_flag = shared_run_dir or sources.flags.get("work_dir")
    resume_ckpt, checkpoint_config = resume_source(resume_from, work_dir_flag, manager)
    chosen = _selection(sources, checkpoint_config)
    dataset_entry = manager.get("datasets", chosen["dataset"])
    arch_entry = manager.get("architectures", chosen["arch"])
    dataset = manager.dataset(dataset_entry)
    architecture = manager.architecture(arch_entry)
    preset_name = chosen["preset"] or DEFAULT_PRESET
    dataset_defaults = OmegaConf.to_container(OmegaConf.create(dict(dataset.default_config)))
    dataset_defaults.setdefault("model", {}).update(num_labels=len(dataset.label_names),
                                                    label_mode=dataset.label_mode)
    layered = ConfigSources(sources.config_path, dict(sources.flags), list(sources.overrides))
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
    if check_data:
        dataset.validate(data_path)
        file_labels = dataset.label_names_in(data_path)
        if len(file_labels) != config.model.num_labels:
            config.model.num_labels = len(file_labels)
    run_dir = Path(shared_run_dir or config.work_dir or _default_run_dir(config))
    config.work_dir = str(run_dir)
    if resume_ckpt is None and is_rank_zero() and run_dir.exists() and any(run_dir.iterdir()):
        raise D3UserError(f"run directory {run_dir} already exists; choose another --work_dir, or continue it with "
                          f"--work_dir {run_dir} --resume_from last")
    check_batch(config)
    check_trainer_settings(config, manager, check_hardware=check_hardware)
    return RunPlan(config=config, manager=manager, dataset=dataset, architecture=architecture, run_dir=run_dir,
                   data_path=data_path, resume_checkpoint=resume_ckpt)


def build_network(plan: RunPlan):
    """The score network of the plan's architecture, sized by the config."""
    from d3core.checkpoints import build_network as network_of_config

    return network_of_config(plan.config, str(plan.config.arch), manager=plan.manager)


def count_parameters(network) -> int:
    return sum(p.numel() for p in network.parameters())


def plugin_versions(plan: RunPlan) -> dict[str, str]:
    """``{distribution: version}`` of d3core and of every plugin providing a component this run uses."""
    versions = {"d3core": d3core.__version__}
    for kind, name in plan.components:
        provider = plan.manager.get(kind, name).provider
        versions[provider.distribution] = provider.version or "built-in"
    return versions
