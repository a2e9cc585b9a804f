"""The oracle interface: :class:`Oracle`, what every oracle file loads as (label names, sequence length,
``predict``, ``embed``, ``forward``, device), and :func:`one_hot_tensor`, the float one-hot its network takes.

The lowest of the oracle modules (import-linter keeps the order: :mod:`~d3core.evaluation.oracle` resolves and loads,
:mod:`~d3core.evaluation.original_oracles` reads the original checkpoints, :mod:`~d3core.evaluation.oracle_networks`
finds the networks; this module imports none of them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from d3core.errors import D3UserError

#: sequences per network call in :meth:`Oracle.predict` and :meth:`Oracle.embed`
DEFAULT_BATCH_SIZE = 512


def one_hot_tensor(tokens) -> "torch.Tensor":  # noqa: F821
    """Tokens ``[B, L]`` (integers 0..3, numpy or torch) -> float32 one-hot torch tensor ``[B, 4, L]``
    (channels-first, what oracle networks take), on the device ``tokens`` is on. The numpy one-hot of a data file is
    :func:`d3core.data.encoding.one_hot`."""
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
            x = one_hot_tensor(x)
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
