"""The guide of a design: one oracle, or the mean of several (an ensemble), on one strand or both.

``d3 design --oracle A --oracle B`` guides with the mean of A's and B's predictions per label (their label sets must
be the same; columns follow A's order), and the design files and the report show how much the members disagree (the
standard deviation across them, per label: where it is large, the ensemble is extrapolating). ``--strands both``
averages each oracle over a sequence and its reverse complement: right for oracles trained on both orientations, or
when the element's orientation in the final construct is not known; keep ``forward`` (the default) for elements
cloned in one orientation between fixed adapters, as in lentiMPRA libraries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from d3core.errors import D3UserError
from d3core.evaluation.oracle_interface import one_hot_tensor

STRANDS = ("forward", "both")


def reverse_complement(one_hot: torch.Tensor) -> torch.Tensor:
    """One-hot ``[N, 4, L]`` (ACGT channels) of the reverse complement: A<->T and C<->G are the channels read
    backwards, the positions too."""
    return one_hot.flip(1).flip(2)


def as_one_hot(x, device) -> torch.Tensor:
    """Tokens ``[N, L]`` (integers) or a (soft) one-hot ``[N, 4, L]`` -> float one-hot ``[N, 4, L]`` on ``device``."""
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    if x.ndim == 2 and not x.dtype.is_floating_point:
        x = one_hot_tensor(x)
    return x.float().to(device)


@dataclass
class Guide:
    """Oracles ``members`` seen as one: ``predict(x) -> [N, C]`` the mean over members (and strands) in the first
    member's label order; ``spread(x) -> [N, C]`` the standard deviation across members. ``x``: tokens ``[N, L]`` or
    a (soft) one-hot ``[N, 4, L]``."""

    members: Sequence
    strands: str = "forward"

    def __post_init__(self):
        first = self.members[0]
        self.label_names = list(first.label_names)
        self.length = int(first.length)
        self.device = getattr(first, "device", "cpu")
        self._columns = []
        for member in self.members:
            names = list(member.label_names)
            if sorted(names) != sorted(self.label_names):
                raise D3UserError(f"--oracle {_name(member)} predicts {', '.join(names)} but "
                                  f"{_name(first)} predicts {', '.join(self.label_names)}: an ensemble needs oracles "
                                  "of the same labels")
            if int(member.length) != self.length:
                raise D3UserError(f"--oracle {_name(member)} scores {member.length} bp sequences, {_name(first)} "
                                  f"{self.length} bp: an ensemble needs oracles of one length")
            self._columns.append([names.index(n) for n in self.label_names])
        if self.strands not in STRANDS:
            raise D3UserError(f"--strands {self.strands!r}: use one of {', '.join(STRANDS)}")

    @property
    def path(self) -> str:
        """How reports and metadata name the guide."""
        names = " + ".join(_name(m) for m in self.members)
        return names + (" (both strands)" if self.strands == "both" else "")

    def describe(self) -> str:
        kind = f"an ensemble of {len(self.members)} oracles" if len(self.members) > 1 else "the oracle"
        return f"{kind} {self.path}"

    def member_predictions(self, x) -> torch.Tensor:
        """``[M, N, C]``: each member's predictions (strand-averaged), columns in the guide's label order."""
        one_hot = as_one_hot(x, self.device)
        views = [one_hot] + ([reverse_complement(one_hot)] if self.strands == "both" else [])
        out = []
        for member, columns in zip(self.members, self._columns):
            per_strand = [torch.as_tensor(member.predict(v), dtype=torch.float32).to(one_hot.device) for v in views]
            out.append(torch.stack(per_strand).mean(0)[:, columns])
        return torch.stack(out)

    def predict(self, x) -> torch.Tensor:
        """``[N, C]`` mean prediction of the members (float32, on the guide's device)."""
        return self.member_predictions(x).mean(0)

    def spread(self, x) -> np.ndarray:
        """``[N, C]`` standard deviation of the members' predictions (0 for one oracle)."""
        return self.member_predictions(x).std(0, unbiased=False).cpu().numpy().astype(np.float64)


def _name(oracle) -> str:
    return str(getattr(oracle, "path", None) or getattr(oracle, "name", None) or type(oracle).__name__)


def make_guide(oracles: Sequence, strands: str = "forward"):
    """The guide of ``oracles``: the oracle itself when there is one on the forward strand, else a :class:`Guide`."""
    if len(oracles) == 1 and strands == "forward":
        return oracles[0]
    return Guide(list(oracles), strands)
