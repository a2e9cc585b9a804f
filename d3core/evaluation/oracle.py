"""Oracles by name and by file: THE resolver, :func:`resolve_oracle`, and THE loader, :func:`load_oracle`.

Every command and callback that takes an oracle resolves what the user names with :func:`resolve_oracle`
(``d3 design --oracle/--judge``, ``d3 evaluate --oracle`` through :func:`find_oracle`, ``d3 oracle info|predict``,
the ``sp_mse`` callback): a file, a registered oracle name (a dataset's own, ``deepstarr``, or a plugin's), or a
published oracle (``d3 models list``); an unknown name is one line listing the known ones.

Every oracle file goes through :func:`load_oracle` and comes back as ONE small interface,
:class:`~d3core.evaluation.oracle_interface.Oracle` (label names, sequence length, ``predict``, ``embed``, device).
The file decides the reader:

- a d3 oracle file, written by ``d3 oracle train`` (:mod:`d3core.evaluation.oracle_training`)::

      {"d3_oracle": {"version": 1, "dataset", "network": "module:Class", "num_outputs", "length", "label_names",
                     "metrics": {...}, "data", "seed", "trained_with": {...}},
       "state_dict": {...}}

- an original D3 oracle checkpoint (the Lightning checkpoint of ``PL_DeepSTARR`` / ``PL_mpra``, weights-only or full
  state), matched to the oracle network a dataset declares (:mod:`d3core.evaluation.original_oracles`).

Both are read with ``torch.load(weights_only=True)``; neither needs a data file. A dataset declares its oracle
network once, with its class attribute ``oracle = "module:Class"`` (:mod:`d3core.evaluation.oracle_networks`); the
core then registers, under the dataset's name, that network as ``d3 oracle train --dataset NAME`` trained it
(:func:`dataset_oracle`; :class:`d3core.plugins.TrainedDatasetOracle`).

Default location of a d3 oracle file: beside the data, ``<data dir>/<data stem>.oracle.ckpt``
(:func:`default_oracle_path`), where ``d3 evaluate`` and the ``sp_mse`` callback look when no oracle is named.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

from d3core.errors import D3UserError
from d3core.evaluation.oracle_interface import Oracle
from d3core.evaluation.oracle_networks import registered_network_class, state_dict_problem

ORACLE_KEY = "d3_oracle"
ORACLE_VERSION = 1
#: what a d3 oracle file's ``d3_oracle`` entry must hold to build its network
ORACLE_INFO_KEYS = ("network", "num_outputs", "length", "label_names")


def default_oracle_path(data_path: str | os.PathLike) -> Path:
    """``<data dir>/<data stem>.oracle.ckpt``: where ``d3 oracle train`` writes and the others look by default."""
    data_path = Path(data_path)
    return data_path.with_name(f"{data_path.stem}.oracle.ckpt")


# ------------------------------------------------------------------------------------------------------ loading
def load_oracle(path: str | os.PathLike, device: str = "cpu", *, manager=None, dataset: str | None = None) -> Oracle:
    """THE oracle loader: a d3 oracle file (``d3 oracle train``) or an original D3 oracle checkpoint (the Lightning
    checkpoint of ``PL_DeepSTARR``/``PL_mpra``), read with ``torch.load(weights_only=True)``, no data file needed.

    ``manager`` (default: the process-wide plugin manager) supplies the oracle networks the datasets declare, that
    files are matched against; ``dataset`` (the one the caller scores) decides between datasets that declare the
    same network, whose files cannot be told apart by content (e.g. the HepG2 and K562 LegNet oracles).
    """
    from d3core.checkpoints import safe_torch_load

    path = Path(path)
    if not path.is_file():
        raise D3UserError(f"{path}: no such oracle file; train one with 'd3 oracle train --dataset NAME --data FILE' "
                          "or give an original D3 oracle checkpoint (oracle_DeepSTARR_DeepSTARR_data.ckpt)")
    content = safe_torch_load(path)
    if isinstance(content, dict) and ORACLE_KEY in content:
        oracle = _from_d3_file(path, content, manager)
    elif isinstance(content, dict) and isinstance(content.get("state_dict"), dict):
        from d3core.evaluation.original_oracles import oracle_from_lightning_checkpoint

        oracle = oracle_from_lightning_checkpoint(path, content, manager=manager, prefer=dataset)
    else:
        raise D3UserError(f"{path}: not an oracle file (neither a d3 oracle file with a {ORACLE_KEY!r} entry nor a "
                          "Lightning checkpoint with a 'state_dict'); train one with 'd3 oracle train'")
    return oracle.to(device)


def _from_d3_file(path: Path, content: dict, manager=None) -> Oracle:
    info = content[ORACLE_KEY]
    missing = [key for key in ORACLE_INFO_KEYS if not isinstance(info, dict) or key not in info]
    if missing:
        raise D3UserError(f"{path}: its {ORACLE_KEY!r} entry lacks {', '.join(missing)} (a damaged or hand-made "
                          "oracle file); retrain it with 'd3 oracle train'")
    info = dict(info)
    cls = registered_network_class(info["network"], path=path, manager=manager)
    try:
        num_outputs, length = int(info["num_outputs"]), int(info["length"])
    except (TypeError, ValueError) as exc:
        raise D3UserError(f"{path}: num_outputs {info['num_outputs']!r} and length {info['length']!r} must be "
                          "integers (a damaged oracle file); retrain it with 'd3 oracle train'") from exc
    network = cls(num_outputs=num_outputs, length=length)
    state = content.get("state_dict") or {}
    check_state_dict(path, network, state)
    network.load_state_dict(state)
    info.setdefault("format", "d3 oracle file")
    return Oracle(network.eval(), info.get("dataset"), list(info["label_names"]), int(info["length"]), info, path)


def check_state_dict(path: Path, network, state: dict, *, prefix: str = "") -> None:
    """A one-line :class:`D3UserError` naming the first tensor that does not fit (:func:`state_dict_problem`)."""
    problem = state_dict_problem(network, state, prefix=prefix)
    if problem:
        raise D3UserError(f"{path}: {problem[1]}")


def save_oracle(path: str | os.PathLike, network, info: dict[str, Any]) -> Path:
    """Write a d3 oracle file (atomically)."""
    from d3core.atomic import atomic_torch_save

    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    atomic_torch_save({ORACLE_KEY: {"version": ORACLE_VERSION, **info}, "state_dict": state}, path)
    return Path(path)


def check_label_names(oracle: Oracle, names: Sequence[str]) -> None:
    """Refuse samples labelled with names the oracle does not predict (an oracle of one label column, such as the
    original lentiMPRA one, fits samples that carry that label among others)."""
    if names and not set(oracle.label_names) <= set(names):
        raise D3UserError(f"{oracle.path}: the oracle predicts {', '.join(oracle.label_names)} but the samples are "
                          f"labelled {', '.join(names)}; use an oracle trained on the same data")




# ------------------------------------------------------------------------------------------------------ resolving
def resolve_oracle(spec: str | os.PathLike, device: str = "cpu", *, manager=None, what: str = "--oracle",
                   dataset: str | None = None, need_file: bool = False):
    """THE oracle resolver: what ``--oracle``/``--judge`` (or a config's ``sp_mse.oracle``) names, as an oracle.

    In order: an oracle file (a d3 oracle file or an original D3 oracle checkpoint, :func:`load_oracle`); a
    registered oracle (a dataset's own, under the dataset's name: :func:`dataset_oracle`; or a plugin's
    ``register_oracles``; see :meth:`d3core.plugins.D3PluginManager.oracle`); a published oracle file
    (``d3 models list``), fetched into the cache when missing. The result has ``label_names``, ``length`` and
    ``predict(tokens [N, L] | one-hot [N, 4, L]) -> [N, C]``. ``need_file``: only an :class:`Oracle` will do
    (what evaluating needs: its dataset, file and embedding); a plugin's oracle of another kind is refused in one
    line. ``what`` names the option in messages; ``dataset`` is the one the caller scores (:func:`load_oracle`)."""
    from d3core.checkpoints.published import find_published, published_files, resolve_published
    from d3core.plugins import get_plugin_manager

    manager = manager or get_plugin_manager()
    path = Path(spec)
    registry = manager.registry("oracles")
    if path.is_file():
        oracle = load_oracle(path, device, manager=manager, dataset=dataset)
    elif str(spec) in registry:
        oracle = manager.oracle(str(spec), device)
    elif find_published(str(spec), manager) is not None:  # a published oracle file, fetched when missing
        fetched = resolve_published(spec, kinds=("oracle",), manager=manager,
                                    echo=lambda line: print(line, file=sys.stderr))
        oracle = load_oracle(fetched, device, manager=manager, dataset=dataset)
    else:
        published = [f.name for f in published_files(manager) if f.kind == "oracle"]
        raise D3UserError(f"{what} {spec}: no such oracle file and no registered oracle of that name (registered: "
                          f"{', '.join(registry.names()) or 'none'}; published: {', '.join(published) or 'none'}); "
                          "train one with 'd3 oracle train --dataset NAME' and pass the dataset's name or the file")
    if need_file and not isinstance(oracle, Oracle):
        raise D3UserError(f"{what} {spec}: a registered oracle of another kind ({type(oracle).__name__}); this "
                          "needs an oracle file (d3 oracle train, an original or a published oracle) or a dataset's "
                          "oracle")
    return oracle


def find_oracle(dataset, data_path: str | os.PathLike | None, explicit: str | os.PathLike | None = None,
                device: str = "cpu", *, manager=None, what: str = "--oracle") -> Oracle | None:
    """The oracle ``d3 evaluate`` and the ``sp_mse`` callback score ``dataset`` with: the one named explicitly
    (:func:`resolve_oracle`, an :class:`Oracle`), else the default one beside the data file
    (:func:`default_oracle_path`), else None. An oracle of another dataset is a one-line error."""
    if explicit:
        oracle = resolve_oracle(explicit, device, manager=manager, what=what, dataset=dataset.name, need_file=True)
    else:
        candidate = None if data_path is None else default_oracle_path(data_path)
        if candidate is None or not candidate.is_file():
            return None
        oracle = load_oracle(candidate, device, manager=manager, dataset=dataset.name)
    if oracle.dataset != dataset.name:
        raise D3UserError(f"{what} {explicit or oracle.path}: an oracle for dataset {oracle.dataset!r}, not "
                          f"{dataset.name!r}")
    return oracle


def dataset_oracle(dataset, device: str = "cpu", *, manager=None) -> Oracle:
    """The oracle a dataset registers by declaring its network (``oracle = "module:Class"``): that network as
    ``d3 oracle train --dataset NAME`` left it, the d3 oracle file beside the dataset's default data file
    (:func:`default_oracle_path`). ``dataset``: a registered name or the dataset object. A missing file is a
    one-line error saying how to train it, and naming the dataset's published oracles (``d3 models list``)."""
    from d3core.checkpoints.published import published_files
    from d3core.plugins import get_plugin_manager

    manager = manager or get_plugin_manager()
    ds = manager.dataset(dataset) if isinstance(dataset, str) else dataset
    path = default_oracle_path(ds.default_path())
    if not path.is_file():
        published = [f.name for f in published_files(manager) if f.kind == "oracle" and f.dataset == ds.name]
        also = f", or the published {' or '.join(published)} (d3 models list)" if published else ""
        raise D3UserError(f"oracle {ds.name!r}: no trained oracle at {path}; train it with 'd3 oracle train "
                          f"--dataset {ds.name}', or pass --oracle FILE for an oracle trained elsewhere{also}")
    return load_oracle(path, device, manager=manager, dataset=ds.name)
