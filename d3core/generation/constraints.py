"""Synthesis rules: what a vendor can make and a cloning scheme can use, checked on every sequence d3 writes.

``--gc MIN:MAX`` (GC fraction of the whole sequence: fixed positions and construct adapters included),
``--max-homopolymer N`` (no run of one letter longer than N) and ``--avoid MOTIF`` (IUPAC letters, both strands;
restriction enzyme names such as ``BsaI``, ``BsmBI``, ``EcoRI``, ``XbaI`` stand for their sites, from Biopython's
REBASE tables). With construct adapters (``flanks``), the rules hold on adapter + sequence + adapter, so a site formed
across a junction counts.

The rules are enforced by the model, not by editing: :class:`SynthesisRules` finds, per sequence, the stretch that
breaks a rule (a homopolymer run or a site, widened by :data:`MARGIN` positions; for GC, one of the windows whose GC
is furthest off), and the sampler redraws that stretch with everything else fixed (in-fill, see
:meth:`d3core.generation.sampling_model.SamplingModel.iter_samples`). A redraw is kept only when it lowers the sequence's
:meth:`~SynthesisRules.penalty`; after ``attempts`` redraws, a sequence still breaking a rule is reported in a
:class:`SynthesisLog` and not written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from d3core.errors import D3UserError

#: positions around a broken rule that are redrawn with it (the model needs context to write something else)
MARGIN = 3
#: in-fill redraws per sequence before it is reported as failing the rules
DEFAULT_ATTEMPTS = 8
#: the seed of redraw ``a`` of a chunk is ``seed + SEED_STRIDE * a`` (apart from the leash's redraws)
SEED_STRIDE = 7_919_000
LETTERS = "ACGT"
_IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
          "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}
_COMPLEMENT = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")
RULES = ("gc", "homopolymer", "site")


@dataclass(frozen=True)
class Site:
    """A sequence to avoid: ``name`` as given (``BsaI``, ``GAATTC``), its IUPAC ``pattern`` (forward strand)."""

    name: str
    pattern: str

    @property
    def label(self) -> str:
        return self.pattern if self.name == self.pattern else f"{self.name} ({self.pattern})"

    @property
    def regex(self) -> re.Pattern:
        """Matches the site on either strand (lookahead: overlapping hits count)."""
        reverse = self.pattern.translate(_COMPLEMENT)[::-1]
        alternatives = {_iupac_regex(self.pattern), _iupac_regex(reverse)}
        return re.compile(f"(?=({'|'.join(sorted(alternatives))}))")


def _iupac_regex(pattern: str) -> str:
    return "".join(f"[{_IUPAC[c]}]" if len(_IUPAC[c]) > 1 else c for c in pattern)


@lru_cache(maxsize=1)
def _enzymes() -> dict[str, tuple[str, str]]:
    """``{lower-case name: (name, recognition site)}`` of REBASE's enzymes (Biopython)."""
    from Bio.Restriction.Restriction_Dictionary import rest_dict

    return {name.lower(): (name, str(entry["site"]).upper()) for name, entry in rest_dict.items()}


def parse_site(text: str) -> Site:
    """``--avoid`` value -> :class:`Site`: an enzyme name (case-insensitive) or IUPAC letters."""
    value = str(text).strip()
    enzyme = _enzymes().get(value.lower())
    if enzyme is not None:
        return Site(enzyme[0], enzyme[1])
    upper = value.upper()
    if upper and all(c in _IUPAC for c in upper):
        if set(upper) == {"N"}:
            raise D3UserError(f"--avoid {value}: a motif of only N matches everywhere; give letters or an enzyme")
        return Site(upper, upper)
    raise D3UserError(f"--avoid {value!r}: neither IUPAC letters (ACGTRYSWKMBDHVN) nor a restriction enzyme known to "
                      "REBASE (e.g. BsaI, BsmBI, EcoRI, XbaI)")


def parse_gc(text: str) -> tuple[float, float]:
    """``--gc MIN:MAX`` (fractions, e.g. ``0.40:0.60``) -> ``(min, max)``."""
    low, sep, high = str(text).partition(":")
    try:
        bounds = (float(low), float(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or not all(np.isfinite(bounds)) or not 0 <= bounds[0] <= bounds[1] <= 1:
        raise D3UserError(f"--gc {text!r}: give MIN:MAX as fractions with 0 <= MIN <= MAX <= 1, e.g. --gc 0.40:0.60")
    return bounds


def _runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every run of one letter in ``row [L]``."""
    change = np.flatnonzero(np.diff(row.astype(np.int16))) + 1
    starts = np.concatenate([[0], change])
    return starts, np.concatenate([change, [len(row)]])


def longest_homopolymer(tokens: np.ndarray) -> np.ndarray:
    """``[N]`` length of the longest run of one letter in each row of ``tokens [N, L]``."""
    out = np.zeros(len(tokens), dtype=np.int64)
    for i, row in enumerate(np.asarray(tokens)):
        starts, ends = _runs(row)
        out[i] = int((ends - starts).max()) if len(row) else 0
    return out


def gc_fraction(tokens: np.ndarray) -> np.ndarray:
    """``[N]`` fraction of C and G in each row of ``tokens [N, L]`` (tokens 0..3 = ACGT)."""
    tokens = np.asarray(tokens)
    return ((tokens == 1) | (tokens == 2)).mean(axis=1) if tokens.shape[1] else np.zeros(len(tokens))


@dataclass(frozen=True)
class SynthesisRules:
    """The rules of one request; ``flanks`` are the construct's adapters (ACGT text) the rules are checked with."""

    gc: tuple[float, float] | None = None
    max_homopolymer: int | None = None
    avoid: tuple[Site, ...] = ()
    flanks: tuple[str, str] = ("", "")
    attempts: int = DEFAULT_ATTEMPTS

    def __post_init__(self):
        if self.max_homopolymer is not None and self.max_homopolymer < 1:
            raise D3UserError(f"--max-homopolymer {self.max_homopolymer}: must be at least 1")
        if self.attempts < 0:
            raise D3UserError(f"--synthesis-attempts {self.attempts}: must be 0 or more")
        for side, flank in zip(("left", "right"), self.flanks):  # GC is the whole construct's: not checked here
            broken = [rule for rule in self.problems(np.asarray([_encode(flank)]), bare=True)[0] if rule != "gc"]
            if flank and broken:
                broken = ", ".join(broken)
                raise D3UserError(f"the {side} adapter {flank} itself breaks the synthesis rules ({broken}); no design "
                                  "can meet them: drop that rule or use other adapters")

    @property
    def active(self) -> bool:
        return self.gc is not None or self.max_homopolymer is not None or bool(self.avoid)

    def describe(self) -> str:
        parts = []
        if self.gc is not None:
            parts.append(f"GC {self.gc[0]:.2f}-{self.gc[1]:.2f}")
        if self.max_homopolymer is not None:
            parts.append(f"homopolymers <= {self.max_homopolymer}")
        if self.avoid:
            parts.append("no " + ", ".join(site.label for site in self.avoid) + " (both strands)")
        if any(self.flanks):
            parts.append("checked on adapter + sequence + adapter")
        return "; ".join(parts) or "none"

    def as_dict(self) -> dict:
        """Plain data for file metadata."""
        return {"gc": list(self.gc) if self.gc else None, "max_homopolymer": self.max_homopolymer,
                "avoid": [site.label for site in self.avoid], "flanks": list(self.flanks), "attempts": self.attempts}

    # -- checking -------------------------------------------------------------------------------------------------
    def _construct(self, tokens: np.ndarray, bare: bool) -> tuple[np.ndarray, int]:
        """``(adapter + tokens + adapter [N, L'], offset of the sequence)``."""
        if bare or not any(self.flanks):
            return np.asarray(tokens), 0
        left, right = (np.broadcast_to(_encode(f), (len(tokens), len(f))) for f in self.flanks)
        return np.concatenate([left, np.asarray(tokens), right], axis=1), len(self.flanks[0])

    def _hits(self, row: np.ndarray) -> list[tuple[str, int, int]]:
        """``(rule, start, end)`` of every broken local rule in one construct row (``homopolymer``,
        ``site:<name>``)."""
        hits = []
        if self.max_homopolymer is not None:
            starts, ends = _runs(row)
            long = (ends - starts) > self.max_homopolymer
            hits += [("homopolymer", int(s), int(e)) for s, e in zip(starts[long], ends[long])]
        if self.avoid:
            text = "".join(LETTERS[t] for t in row)
            for site in self.avoid:
                hits += [(f"site:{site.name}", m.start(), m.start() + len(m.group(1)))
                         for m in site.regex.finditer(text)]
        return hits

    def _gc_excess(self, row: np.ndarray) -> float:
        """Bases of GC (or AT) too many for the GC window, 0 inside it."""
        if self.gc is None or not len(row):
            return 0.0
        gc = float(((row == 1) | (row == 2)).mean())
        return max(self.gc[0] - gc, gc - self.gc[1], 0.0) * len(row)

    def problems(self, tokens: np.ndarray, *, bare: bool = False) -> list[list[str]]:
        """Per row of ``tokens [N, L]``, the broken rules (``gc``, ``homopolymer``, ``site:<name>``); empty = fine."""
        rows, _ = self._construct(tokens, bare)
        out = []
        for row in rows:
            local = {rule for rule, _, _ in self._hits(row)}
            out.append((["gc"] if self._gc_excess(row) > 0 else []) + sorted(local))
        return out

    def penalty(self, tokens: np.ndarray) -> np.ndarray:
        """``[N]`` how far each row is from meeting the rules (0 = meets them): GC bases too many or too few, letters
        of homopolymer runs beyond the limit, and one per site occurrence."""
        rows, _ = self._construct(tokens, False)
        out = np.zeros(len(rows), dtype=np.float64)
        for i, row in enumerate(rows):
            hits = self._hits(row)
            out[i] = self._gc_excess(row) + sum(
                (end - start - self.max_homopolymer) if rule == "homopolymer" else 1.0 for rule, start, end in hits)
        return out

    def redraw_mask(self, tokens: np.ndarray, fixed: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """``bool [N, L]``: the positions of each row to draw again (free positions only: ``fixed [N, L]`` marks
        the template's): every broken local rule widened by :data:`MARGIN` (cut to the sequence, so a site across
        an adapter junction redraws the sequence's side), and for GC one window of ``max(12, L // 6)`` positions
        among the three whose GC is furthest off in the offending direction."""
        tokens = np.asarray(tokens)
        rows, offset = self._construct(tokens, False)
        length = tokens.shape[1]
        mask = np.zeros(tokens.shape, dtype=bool)
        width = min(length, max(12, length // 6))
        for i, row in enumerate(rows):
            for _, start, end in self._hits(row):
                a, b = max(start - offset - MARGIN, 0), min(end - offset + MARGIN, length)
                if a < b:
                    mask[i, a:b] = True
            if self._gc_excess(row) > 0:
                gc = ((tokens[i] == 1) | (tokens[i] == 2)).astype(np.float64)
                window = np.convolve(gc, np.ones(width), mode="valid")
                too_high = float(((row == 1) | (row == 2)).mean()) > self.gc[1]
                order = np.argsort(-window if too_high else window, kind="stable")[:3]
                start = int(rng.choice(order))
                mask[i, start:start + width] = True
        if fixed is not None:
            mask &= ~np.asarray(fixed, dtype=bool)
        return mask


def _encode(text: str) -> np.ndarray:
    """ACGT text -> tokens ``uint8 [L]``."""
    upper = str(text).upper()
    if any(c not in LETTERS for c in upper):
        raise D3UserError(f"adapter {text!r}: only the letters A, C, G and T are allowed")
    return np.array([LETTERS.index(c) for c in upper], dtype=np.uint8)


def rules_from_flags(gc: str | None = None, max_homopolymer: int | None = None, avoid=(), *,
                     attempts: int | None = None, flanks: tuple[str, str] = ("", "")) -> SynthesisRules | None:
    """The rules of ``--gc``, ``--max-homopolymer``, ``--avoid`` (repeatable) and ``--synthesis-attempts``; None when
    no rule is asked for."""
    rules = SynthesisRules(parse_gc(gc) if gc is not None else None, max_homopolymer,
                           tuple(dict.fromkeys(parse_site(a) for a in avoid or ())), tuple(flanks),
                           DEFAULT_ATTEMPTS if attempts is None else int(attempts))
    return rules if rules.active else None


@dataclass
class SynthesisLog:
    """What enforcing the rules did: sequences redrawn in part, redraws, and the sequences (global indices) that
    still break a rule after the last attempt, with the rules they break."""

    redrawn: int = 0
    redraws: int = 0
    failed: dict[int, list[str]] = field(default_factory=dict)

    def written(self, first: int, count: int) -> np.ndarray:
        """``bool [count]``: which of sequences ``first .. first + count - 1`` meet the rules (are written)."""
        return np.array([first + i not in self.failed for i in range(count)], dtype=bool)

    def failed_by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rules in self.failed.values():
            for rule in rules:
                counts[rule] = counts.get(rule, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self, total: int) -> str:
        """One line for the command's output."""
        line = f"synthesis rules: {self.redrawn} of {total} sequence(s) had a stretch redrawn by the model"
        if self.failed:
            rules = ", ".join(f"{rule} {count}" for rule, count in self.failed_by_rule().items())
            line += f"; {len(self.failed)} still break a rule after the last attempt ({rules}) and were not written"
        return line
