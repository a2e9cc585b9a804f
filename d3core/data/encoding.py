"""DNA sequence encoding: letters ACGT <-> tokens 0..3 <-> one-hot.

Token index = one-hot channel index: 0=A, 1=C, 2=G, 3=T (the original D3 mapping). Lower-case letters (soft-masked
genome sequence) are accepted. Any other letter (``N``, IUPAC codes, ``-``) is handled by one policy, ``replace_n``:

- ``"error"`` (default): :class:`~d3core.errors.D3UserError` naming the source file, the row and the letter;
- ``"random"``: the letter is replaced by a base drawn uniformly from ACGT with the caller's seeded generator.

In one-hot files, a position that is all zeros or all 0.25 is the usual encoding of ``N`` (the DeepSTARR notebooks
write ``N`` as ``[0, 0, 0, 0]``); :func:`tokens_from_one_hot` reports such positions so the reader can apply the same
"replace at random" rule (seeded per row, so every epoch and every worker sees the same base).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from d3core.errors import D3UserError

ALPHABET = "ACGT"
#: values of ``replace_n``
N_POLICIES = ("error", "random")

_INVALID = 255
_LUT = np.full(256, _INVALID, dtype=np.uint8)
for _i, _c in enumerate(ALPHABET):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i

_COMPLEMENT = str.maketrans("ACGTacgtNn", "TGCAtgcaNn")

#: IUPAC nucleotide codes -> the bases they stand for (used to sample motif instances)
IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}


def check_policy(replace_n: str) -> str:
    """Return ``replace_n`` if it is a known policy, else raise a user error."""
    if replace_n not in N_POLICIES:
        raise D3UserError(f"unknown N policy {replace_n!r}; use one of: {', '.join(N_POLICIES)}")
    return replace_n


def encode(sequences: Sequence[str], *, length: int | None = None, replace_n: str = "error",
           rng: np.random.Generator | None = None, source: str = "<input>",
           rows: Sequence[int] | None = None, unit: str = "row", can_replace: bool = True) -> np.ndarray:
    """Encode equal-length DNA strings as tokens.

    Args:
        sequences: N strings of the same length L.
        length: the required L (checked); default: the length of the first sequence.
        replace_n: ``"error"`` or ``"random"`` (see the module docstring).
        rng: generator used by ``"random"`` (default: ``np.random.default_rng(0)``).
        source: the file name used in error messages.
        rows: the row (line) number of each sequence in ``source``, for error messages; default 1..N.
        unit: what ``rows`` count in messages (``"row"``, or ``"line"`` for line numbers of a text file).
        can_replace: whether the caller offers ``--replace-n random`` (dataset import does); the error names it then.

    Returns:
        ``uint8`` array ``[N, L]`` with values 0..3.
    """
    check_policy(replace_n)
    n = len(sequences)
    if n == 0:
        return np.zeros((0, length or 0), dtype=np.uint8)
    want = len(sequences[0]) if length is None else length
    row_of = (lambda i: rows[i]) if rows is not None else (lambda i: i + 1)
    for i, seq in enumerate(sequences):
        if len(seq) != want:
            raise D3UserError(f"{source} {unit} {row_of(i)}: sequence has {len(seq)} bp, expected {want} bp; "
                              "fix or drop that row (all sequences of a dataset must have the same length)")
    raw = np.frombuffer("".join(sequences).encode("ascii", errors="replace"), dtype=np.uint8)
    tokens = _LUT[raw].reshape(n, want)
    bad = tokens == _INVALID
    if bad.any():
        if replace_n == "error":
            i, pos = (int(v[0]) for v in np.nonzero(bad))
            letter = sequences[i][pos]
            count = int(bad.sum())
            raise D3UserError(
                f"{source} {unit} {row_of(i)}: letter {letter!r} at position {pos + 1} is not A, C, G or T "
                f"({count} such letter(s) in {int(bad.any(axis=1).sum())} row(s)); fix the file"
                + (" or pass --replace-n random (replace_n='random') to replace them by random bases"
                   if can_replace else " (only A, C, G and T can be read here)"))
        rng = rng if rng is not None else np.random.default_rng(0)
        tokens[bad] = rng.integers(0, 4, size=int(bad.sum()), dtype=np.uint8)
    return tokens


def decode(tokens: np.ndarray | Iterable[Iterable[int]]) -> list[str]:
    """Tokens ``[N, L]`` (0..3) -> N strings over ACGT."""
    arr = np.asarray(tokens)
    if arr.ndim == 1:
        arr = arr[None]
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[arr.astype(np.int64)]
    return [row.tobytes().decode("ascii") for row in letters]


def one_hot(tokens: np.ndarray, *, channels_first: bool, dtype: str | np.dtype = np.uint8) -> np.ndarray:
    """Tokens ``[N, L]`` -> one-hot ``[N, 4, L]`` (channels-first) or ``[N, L, 4]`` (channels-last)."""
    tokens = np.asarray(tokens)
    out = np.eye(4, dtype=dtype)[tokens.astype(np.int64)]  # [N, L, 4]
    return np.ascontiguousarray(out.transpose(0, 2, 1)) if channels_first else out


def tokens_from_one_hot(x: np.ndarray, *, channel_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """One-hot ``[N, 4, L]`` or ``[N, L, 4]`` -> (tokens ``int64 [N, L]``, unknown ``bool [N, L]``).

    ``unknown`` marks positions without a single 1 (all zeros or all 0.25: the ``N`` encodings); their token is
    meaningless until the caller replaces it. Values are not checked here (see :mod:`d3core.data.validation`); tokens
    are always within 0..3. Computed from the four channel planes (the token is ``c1 + 2 c2 + 3 c3`` for a one-hot
    position), several times faster than ``argmax`` over a strided channel axis.
    """
    x = np.asarray(x)
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    planes = np.moveaxis(x, channel_axis, 0)
    a, c, g, t = planes[0], planes[1], planes[2], planes[3]
    tokens = (c + 2 * g + 3 * t).astype(np.int64)
    np.clip(tokens, 0, 3, out=tokens)
    unknown = np.maximum(np.maximum(a, c), np.maximum(g, t)) < 0.5
    return tokens, unknown


def reverse_complement(seq: str) -> str:
    """The reverse complement of a DNA string (case kept; ``N`` stays ``N``)."""
    return seq.translate(_COMPLEMENT)[::-1]


def canonical(seq: str) -> str:
    """The smaller of a sequence and its reverse complement (keeps a sequence and its RC in one split)."""
    rc = reverse_complement(seq)
    return seq if seq <= rc else rc
