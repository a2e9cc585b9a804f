"""Templates: sequences with some positions given (``ACGT``) and the rest free (``N``), for in-fill and variants.

``d3 sample --template SEQ|FILE.fasta`` and ``--fix START:SEQ`` fix positions: the sampler starts from the template
on them, puts them back after every step and after denoising, and the network sees them in place, so the free
positions are designed around them (spec §3). ``--start-from FILE.fasta --start-at T`` gives start sequences: they are
corrupted to time T (``N`` positions start fully noised) and the reverse process runs from T, so the designs are
variants of them.

A :class:`Template` holds one row for all designs or one row per design::

    template = parse_template("ACGTNNNNNNNNACGT", length=16)                 # one for all
    template = add_fixes(template, ["5:TGACTCA"], length=16)                 # 1-based start positions
    tokens, fixed = template.rows(0, 32, device)                             # [32, 16] long, [32, 16] bool
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from d3core.errors import D3UserError

LETTERS = "ACGTN"
FASTA_SUFFIXES = (".fasta", ".fa", ".fna", ".fasta.gz", ".fa.gz", ".fna.gz")
_TOKEN = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(LETTERS):
    _TOKEN[ord(_c)] = _i
    _TOKEN[ord(_c.lower())] = _i


@dataclass(frozen=True)
class Template:
    """Given positions of the designs: ``tokens uint8 [R, L]`` (0..3 where ``known``), ``known bool [R, L]``.

    ``R = 1``: the same for every design; otherwise one row per design. ``source`` names where it came from.
    """

    tokens: np.ndarray
    known: np.ndarray
    source: str = "template"

    @property
    def length(self) -> int:
        return int(self.tokens.shape[1])

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def select(self, start: int, stop: int) -> "Template":
        """The rows of designs ``start .. stop - 1`` (a one-row template stays one row)."""
        if len(self) == 1:
            return self
        return Template(self.tokens[start:stop], self.known[start:stop], self.source)

    def rows(self, start: int, stop: int, device):
        """``(tokens int64 [b, L], known bool [b, L])`` of designs ``start .. stop - 1``, on ``device``."""
        import torch

        part = self.select(start, stop)
        tokens = torch.as_tensor(part.tokens.astype(np.int64), device=device)
        known = torch.as_tensor(part.known, device=device)
        if len(part) == 1:
            shape = (stop - start, self.length)
            return tokens.expand(shape), known.expand(shape)
        return tokens, known

    def check_designs(self, total: int, what: str) -> None:
        """One row for all, or exactly one per design."""
        if len(self) not in (1, total):
            raise D3UserError(f"{what} {self.source}: {len(self)} sequences for {total} designs; give one sequence "
                              f"for all designs or exactly {total} (one per design, in output order)")


def encode_partial(text: str, *, length: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``"ACGTN..."`` -> ``(tokens uint8 [L], known bool [L])``; letters other than ACGTN (any case) are an error."""
    text = str(text).strip()
    raw = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
    codes = _TOKEN[raw]
    bad = np.nonzero(codes == 255)[0]
    if len(bad):
        position = int(bad[0])
        raise D3UserError(f"{what}: letter {text[position]!r} at position {position + 1} is not one of A, C, G, T "
                          "or N (N = free); use only those letters")
    if len(codes) != length:
        raise D3UserError(f"{what}: {len(codes)} bp, but the model makes {length} bp sequences; give exactly "
                          f"{length} letters (N for free positions)")
    known = codes < 4
    return np.where(known, codes, 0).astype(np.uint8), known


def is_fasta_path(value: str) -> bool:
    """A ``--template`` / ``--start-from`` value naming a FASTA file (an existing file, or a FASTA extension)."""
    return str(value).lower().endswith(FASTA_SUFFIXES) or Path(value).is_file()


def read_partial_fasta(path: str | os.PathLike, *, length: int, what: str) -> Template:
    """Every record of a FASTA file as a template row (ACGTN only, each exactly ``length`` bp)."""
    from d3core.data.importing import read_fasta

    source = read_fasta(path)
    tokens = np.empty((len(source.sequences), length), dtype=np.uint8)
    known = np.empty((len(source.sequences), length), dtype=bool)
    for i, (sequence, line) in enumerate(zip(source.sequences, source.lines)):
        tokens[i], known[i] = encode_partial(sequence, length=length, what=f"{what} {path} record {i + 1} "
                                                                         f"(line {line})")
    return Template(tokens, known, str(path))


def parse_template(value: str, *, length: int, what: str = "--template") -> Template:
    """A template from a sequence (``ACGTNN...``) or a FASTA file of them."""
    if is_fasta_path(value):
        return read_partial_fasta(value, length=length, what=what)
    tokens, known = encode_partial(value, length=length, what=what)
    return Template(tokens[None], known[None], "(sequence)")


def parse_fix(value: str, *, length: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``"START:SEQ"`` (START counted from 1) -> ``(0-based start, tokens, known)``."""
    start_text, colon, sequence = str(value).partition(":")
    what = f"--fix {value!r}"
    try:
        start = int(start_text)
    except ValueError:
        start = 0
    if not colon or start < 1 or not sequence.strip():
        raise D3UserError(f"{what}: expected START:SEQUENCE with START counted from 1, e.g. --fix 1:ACGTACGT")
    sequence = sequence.strip()
    if start - 1 + len(sequence) > length:
        raise D3UserError(f"{what}: positions {start}..{start + len(sequence) - 1} run past the end of the "
                          f"{length} bp sequence")
    tokens, known = encode_partial(sequence, length=len(sequence), what=what)
    return start - 1, tokens, known


def add_fixes(template: Template | None, fixes: Sequence[str], *, length: int) -> Template | None:
    """``template`` (or an all-free one) with the ``--fix`` segments added; a fix that contradicts the template or an
    earlier fix is an error."""
    if not fixes:
        return template
    if template is None:
        template = Template(np.zeros((1, length), np.uint8), np.zeros((1, length), bool), "--fix")
    tokens, known = template.tokens.copy(), template.known.copy()
    for value in fixes:
        start, seg_tokens, seg_known = parse_fix(value, length=length)
        window = slice(start, start + len(seg_tokens))
        clash = known[:, window] & seg_known & (tokens[:, window] != seg_tokens)
        if clash.any():
            row, offset = (int(v[0]) for v in np.nonzero(clash))
            by = "an earlier --fix" if template.source == "--fix" else f"{template.source} or an earlier --fix"
            raise D3UserError(f"--fix {value!r}: position {start + offset + 1} is already fixed to "
                              f"{LETTERS[tokens[row, start + offset]]} (by {by})")
        tokens[:, window] = np.where(seg_known, seg_tokens, tokens[:, window])
        known[:, window] |= seg_known
    source = template.source if template.source == "--fix" else f"{template.source} + --fix"
    return Template(tokens, known, source)


def check_free_positions(template: Template) -> None:
    """Every template row must leave at least one position free (else there is nothing to design)."""
    full = np.nonzero(template.known.all(axis=1))[0]
    if len(full):
        raise D3UserError(f"the template ({template.source}) fixes all {template.length} positions"
                          f"{f' of design {int(full[0]) + 1}' if len(template) > 1 else ''}; nothing is left to "
                          "sample: mark the positions to design with N")
