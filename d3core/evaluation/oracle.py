"""Oracles: networks that predict a dataset's activities from sequence, used to score generated sequences.

Every oracle d3 can load goes through ONE loader, :func:`load_oracle`, and comes back as ONE small interface,
:class:`Oracle` (label names, sequence length, ``predict``, ``embed``, device). The file decides the reader:

- a d3 oracle file, written by ``d3 oracle train`` (:mod:`d3core.evaluation.oracle_training`)::

      {"d3_oracle": {"version": 1, "dataset", "network": "module:Class", "num_outputs", "length", "label_names",
                     "metrics": {...}, "data", "seed", "trained_with": {...}},
       "state_dict": {...}}

- an original D3 oracle checkpoint (the Lightning checkpoint of ``PL_DeepSTARR`` / ``PL_mpra``, weights-only or full
  state), matched to the oracle network a dataset plugin registers (:mod:`d3core.evaluation.original_oracles`).

Both are read with ``torch.load(weights_only=True)``; neither needs a data file. A dataset plugin names its oracle
network with a class attribute (``oracle = "d3_deepstarr.oracle:DeepSTARROracle"``): an ``nn.Module`` built as
``Class(num_outputs=C, length=L)``, ``forward(one-hot [B, 4, L] float) -> [B, C]``, optionally ``embed(x) -> [B, E]``
(the penultimate embedding, for the Fréchet distance) and the shape declarations that read the original checkpoints
(:mod:`d3core.evaluation.original_oracles`).

Default location of a d3 oracle file: beside the data, ``<data dir>/<data stem>.oracle.ckpt``
(:func:`default_oracle_path`), where ``d3 evaluate`` and the ``sp_mse`` callback look when no oracle is named.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from pkgutil import resolve_name
from typing import Any, Sequence

import numpy as np

from d3core.errors import D3UserError

ORACLE_KEY = "d3_oracle"
ORACLE_VERSION = 1
#: what a d3 oracle file's ``d3_oracle`` entry must hold to build its network
ORACLE_INFO_KEYS = ("network", "num_outputs", "length", "label_names")
#: sequences per network call in :meth:`Oracle.predict` and :meth:`Oracle.embed`
DEFAULT_BATCH_SIZE = 512


def default_oracle_path(data_path: str | os.PathLike) -> Path:
    """``<data dir>/<data stem>.oracle.ckpt``: where ``d3 oracle train`` writes and the others look by default."""
    data_path = Path(data_path)
    return data_path.with_name(f"{data_path.stem}.oracle.ckpt")


def import_network_class(target: str | type, *, what: str) -> type:
    """The class named by ``"module:Class"`` (or the class itself); ``what`` names the owner in the error. Only for
    names an installed plugin wrote (a dataset's ``oracle``): a name read from a file goes through
    :func:`registered_network_class` first."""
    if isinstance(target, type):
        return target
    try:
        return resolve_name(str(target))
    except (ImportError, AttributeError, ValueError) as exc:
        raise D3UserError(f"{what}: cannot import its oracle network {target!r} ({exc}); install the dataset "
                          "plugin that provides it") from exc


def registered_oracle_networks(manager=None, dataset: str | None = None) -> dict[str, str]:
    """``{"module:Class": dataset name}`` of the oracle networks installed dataset plugins register (the
    registration's ``oracle=``, and the ``oracle`` class attribute of ``dataset`` when that name is registered): the
    only networks a file may name."""
    from d3core.plugins import get_plugin_manager

    manager = manager or get_plugin_manager()
    datasets = manager.registry("datasets")
    allowed = {str(entry.metadata["oracle"]): entry.name for entry in datasets.entries()
               if entry.metadata.get("oracle")}
    if isinstance(dataset, str) and dataset in datasets:
        target = getattr(manager.dataset(dataset), "oracle", None)
        if isinstance(target, str):
            allowed.setdefault(target, dataset)
    return allowed


def registered_network_class(target: Any, *, path: Path, dataset: str | None = None, manager=None) -> type:
    """The oracle network class a file names, resolved only when an installed plugin registers that exact name
    (:func:`registered_oracle_networks`): a file never chooses a module to import. Raises :class:`D3UserError`."""
    allowed = registered_oracle_networks(manager, dataset)
    if str(target) not in allowed:
        known = ", ".join(f"{name} ({owner})" for name, owner in sorted(allowed.items())) or "none"
        raise D3UserError(f"{path}: its oracle network {str(target)[:80]!r} is not one an installed plugin registers "
                          f"(registered: {known}); d3 imports no code a file names: install the dataset plugin whose "
                          "oracle it is, or retrain it with 'd3 oracle train'")
    return import_network_class(target, what=f"{path} (dataset {allowed[str(target)]!r})")


def oracle_network_class(dataset) -> type:
    """The oracle ``nn.Module`` class a dataset plugin names (``oracle = "module:Class"``)."""
    target = getattr(dataset, "oracle", None)
    if not target:
        raise D3UserError(f"dataset {getattr(dataset, 'name', dataset)!r} registers no oracle; its plugin can add "
                          "one with a class attribute oracle = 'my_pkg.oracle:MyOracle' (an nn.Module taking "
                          "one-hot [B, 4, L])")
    return import_network_class(target, what=f"dataset {dataset.name!r}")


def one_hot(tokens) -> "torch.Tensor":  # noqa: F821
    """Tokens ``[B, L]`` (numpy or torch) -> float one-hot ``[B, 4, L]``."""
    import torch

    tokens = torch.as_tensor(np.asarray(tokens) if not torch.is_tensor(tokens) else tokens).long()
    return torch.nn.functional.one_hot(tokens, 4).permute(0, 2, 1).float()


@dataclass
class Oracle:
    """An activity predictor, whatever file it came from.

    ``network`` is the ``nn.Module`` (``forward(one-hot [B, 4, L] float) -> [B, C]``, differentiable), in eval mode.
    ``label_names`` name the C outputs (the dataset's labels they predict); ``length`` is the sequence length it
    scores; ``info`` holds what the file says (dataset, network, metrics, format); ``path`` the file.
    """

    network: Any
    dataset: str | None
    label_names: list[str]
    length: int
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    device: str = "cpu"

    @property
    def has_embedding(self) -> bool:
        """Whether :meth:`embed` works (the network defines ``embed``)."""
        return callable(getattr(self.network, "embed", None))

    def _inputs(self, x) -> "torch.Tensor":  # noqa: F821
        """Tokens ``[N, L]`` (integers) or one-hot ``[N, 4, L]`` (float) -> float one-hot ``[N, 4, L]`` on the CPU."""
        import torch

        x = x if torch.is_tensor(x) else torch.from_numpy(np.ascontiguousarray(x))
        if x.ndim == 2:
            if x.dtype.is_floating_point:
                raise D3UserError(f"oracle input of shape {tuple(x.shape)} is float: give tokens [N, L] (integers "
                                  "0..3) or one-hot [N, 4, L]")
            x = one_hot(x)
        if x.ndim != 3 or x.shape[1] != 4 or x.shape[2] != self.length:
            raise D3UserError(f"the oracle{f' {self.path}' if self.path else ''} scores {self.length} bp sequences "
                              f"(tokens [N, {self.length}] or one-hot [N, 4, {self.length}]); got shape "
                              f"{tuple(x.shape)}")
        return x.float()

    def _batched(self, fn, x, batch_size: int) -> np.ndarray:
        import torch

        x = self._inputs(x)
        self.network.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, x.shape[0], batch_size):
                out.append(fn(x[start:start + batch_size].to(self.device)).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict(self, x, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Activities ``float32 [N, C]`` of tokens ``[N, L]`` or one-hot ``[N, 4, L]`` (numpy or torch), in batches,
        without gradients."""
        out = self._batched(self.network, x, batch_size)
        return out.reshape(-1, len(self.label_names)).astype(np.float32, copy=False)

    def embed(self, x, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Penultimate embeddings ``float32 [N, E]`` (the input of the output layer, in eval mode)."""
        if not self.has_embedding:
            raise D3UserError(f"the oracle{f' {self.path}' if self.path else ''} ({type(self.network).__name__}) "
                              "has no penultimate embedding: its network defines no embed(x) method")
        return self._batched(self.network.embed, x, batch_size).astype(np.float32, copy=False)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":  # noqa: F821
        """Differentiable activities ``[B, C]`` of one-hot ``x [B, 4, L]`` (float, on :attr:`device`)."""
        self.network.eval()
        return self.network(x)

    def to(self, device: str) -> "Oracle":
        self.network.to(device)
        self.device = str(device)
        return self

    def describe(self) -> str:
        """One line: file, kind, dataset, network, length, labels."""
        kind = self.info.get("format", "d3 oracle file")
        return (f"{self.path}: {kind}, oracle for {self.dataset} ({self.info.get('network')}), {self.length} bp, "
                f"labels {', '.join(self.label_names)}"
                + (f" (PARTIAL: {self.info['partial']})" if self.info.get("partial") else ""))


# ------------------------------------------------------------------------------------------------------ loading
def load_oracle(path: str | os.PathLike, device: str = "cpu", *, manager=None, dataset: str | None = None) -> Oracle:
    """THE oracle loader: a d3 oracle file (``d3 oracle train``) or an original D3 oracle checkpoint (the Lightning
    checkpoint of ``PL_DeepSTARR``/``PL_mpra``), read with ``torch.load(weights_only=True)``, no data file needed.

    ``manager`` (default: the process-wide plugin manager) supplies the dataset plugins' oracle networks that
    original checkpoints are matched against; ``dataset`` (the one the caller scores) decides between datasets that
    register the same network, whose files cannot be told apart by content (e.g. the HepG2 and K562 LegNet oracles).
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
    cls = registered_network_class(info["network"], path=path, dataset=info.get("dataset"), manager=manager)
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


def state_dict_problem(network, state: dict, *, prefix: str = "") -> tuple[str, str] | None:
    """``(key, what is wrong)`` for the first tensor of ``state`` (keys without ``prefix``) that is missing,
    unexpected or of another shape than ``network`` needs; None when they fit exactly."""
    expected = network.state_dict()
    name = type(network).__name__
    for key, tensor in expected.items():
        if key not in state:
            return prefix + key, (f"tensor '{prefix}{key}' is missing ({name} needs {len(expected)} tensors, the file "
                                  f"has {len(state)}); the file is incomplete or not a {name} oracle")
        if tuple(state[key].shape) != tuple(tensor.shape):
            return prefix + key, (f"tensor '{prefix}{key}' has shape {list(state[key].shape)}; {name} needs "
                                  f"{list(tensor.shape)} (a damaged or different network)")
    for key in state:
        if key not in expected:
            return prefix + key, f"unexpected tensor '{prefix}{key}', which {name} does not have (a different network)"
    return None


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


def find_oracle(dataset, data_path: str | os.PathLike | None, explicit: str | os.PathLike | None = None,
                device: str = "cpu", *, manager=None) -> Oracle | None:
    """The oracle named explicitly (a file, a registered oracle, a published oracle: :func:`resolve_oracle`), else
    the default one beside the data file, else None."""
    if explicit:
        oracle = resolve_oracle(explicit, device, manager=manager, dataset=dataset.name)
        if not isinstance(oracle, Oracle):
            raise D3UserError(f"--oracle {explicit}: a registered oracle of another kind ({type(oracle).__name__}); "
                              "evaluating needs an oracle file (d3 oracle train, an original or a published oracle)")
    else:
        if data_path is None:
            return None
        candidate = default_oracle_path(data_path)
        if not candidate.is_file():
            return None
        oracle = load_oracle(candidate, device, manager=manager, dataset=dataset.name)
    if oracle.dataset != dataset.name:
        raise D3UserError(f"{oracle.path}: an oracle for dataset {oracle.dataset!r}, not {dataset.name!r}")
    return oracle


def check_label_names(oracle: Oracle, names: Sequence[str]) -> None:
    """Refuse samples labelled with names the oracle does not predict (an oracle of one label column, such as the
    original lentiMPRA one, fits samples that carry that label among others)."""
    if names and not set(oracle.label_names) <= set(names):
        raise D3UserError(f"{oracle.path}: the oracle predicts {', '.join(oracle.label_names)} but the samples are "
                          f"labelled {', '.join(names)}; use an oracle trained on the same data")


def resolve_oracle(spec: str | os.PathLike, device: str = "cpu", *, manager=None, what: str = "--oracle",
                   dataset: str | None = None):
    """The oracle ``--oracle``/``--judge`` names: an oracle file (a d3 oracle file or an original D3 oracle
    checkpoint, :func:`load_oracle`), else an oracle registered by a plugin (``register_oracles``; see
    :meth:`d3core.plugins.D3PluginManager.oracle`), else a published oracle file (``d3 models list``), fetched into
    the cache when missing. Either way the result has ``label_names``, ``length`` and
    ``predict(tokens [N, L] | one-hot [N, 4, L]) -> [N, C]``."""
    from d3core.plugins import get_plugin_manager

    path = Path(spec)
    if path.is_file():
        return load_oracle(path, device, manager=manager, dataset=dataset)
    manager = manager or get_plugin_manager()
    registry = manager.registry("oracles")
    if str(spec) in registry:
        return manager.oracle(str(spec), device)
    from d3core.checkpoints.published import find_published, resolve_published

    if find_published(str(spec), manager) is not None:  # a published oracle file, fetched when missing
        fetched = resolve_published(spec, kinds=("oracle",), manager=manager,
                                    echo=lambda line: print(line, file=sys.stderr))
        return load_oracle(fetched, device, manager=manager, dataset=dataset)
    names = ", ".join(e.name for e in registry.entries()) or "none"
    raise D3UserError(f"{what} {spec}: no such oracle file and no registered oracle of that name (registered: "
                      f"{names}); train one with 'd3 oracle train --dataset NAME --data FILE' and pass its file")


def dataset_oracle(dataset, device: str = "cpu", *, manager=None) -> Oracle:
    """The oracle of a dataset plugin as ``d3 oracle train --dataset NAME`` left it: the d3 oracle file beside the
    dataset's default data file (:func:`default_oracle_path`). ``dataset``: the dataset object (what a plugin's own
    factory passes) or a registered name. Dataset plugins register this as their oracle (``register_oracles``); a
    missing file is a one-line error saying how to train it."""
    from d3core.plugins import get_plugin_manager

    ds = (manager or get_plugin_manager()).dataset(dataset) if isinstance(dataset, str) else dataset
    path = default_oracle_path(ds.default_path())
    if not path.is_file():
        raise D3UserError(f"oracle {ds.name!r}: no trained oracle at {path}; train it with 'd3 oracle train "
                          f"--dataset {ds.name}' (or pass --oracle FILE for an oracle trained elsewhere)")
    return load_oracle(path, device, manager=manager)
