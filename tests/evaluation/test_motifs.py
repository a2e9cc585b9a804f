"""Motif analysis: FIMO (memelite) finds a planted JASPAR motif (pyjaspar, offline) at its position; enrichment and
co-occurrence against hand computations; a missing optional library is a one-line error naming the extra."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from d3core.evaluation import motifs


@pytest.fixture(scope="module")
def insects():
    return motifs.jaspar_motifs("JASPAR2022", "CORE", "insects")


def test_jaspar_ships_offline(insects):
    assert len(insects.names) > 100 and insects.release == "JASPAR2022"
    for matrix in list(insects.matrices.values())[:10]:
        assert matrix.shape[0] == 4 and np.allclose(matrix.sum(axis=0), 1.0)
    assert "insects" in insects.describe()


def test_fimo_finds_a_planted_jaspar_motif_at_its_position(insects):
    name = next(n for n in insects.names if n.endswith(" GATAd"))
    matrix = insects.matrices[name]
    consensus = matrix.argmax(axis=0)
    width = len(consensus)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 4, size=(20, 150)).astype(np.uint8)
    positions = rng.integers(0, 150 - width, size=20)
    for row, start in zip(tokens, positions):
        row[start:start + width] = consensus
    single = motifs.MotifDatabase({name: matrix}, "JASPAR2022", "CORE")
    scan = motifs.scan(tokens, single)
    assert scan.counts.shape == (20, 1) and (scan.counts[:, 0] >= 1).all()
    for i, start in enumerate(positions):
        hits = scan.hits_of(i)
        assert any(h["start"] == start and h["end"] == start + width and h["strand"] == "+" for h in hits), hits
    # and among all insect motifs, that motif is hit in every sequence
    full = motifs.scan(tokens, insects)
    assert (full.counts[:, insects.names.index(name)] >= 1).all()
    # the reverse complement is found on the minus strand at the same place
    reverse = (3 - tokens[:, ::-1]).astype(np.uint8)
    back = motifs.scan(reverse, single)
    for i, start in enumerate(positions):
        flipped = 150 - start - width
        assert any(h["start"] == flipped and h["strand"] == "-" for h in back.hits_of(i))


def test_enrichment_and_cooccurrence_by_hand():
    a = np.array([[1, 0, 2], [0, 1, 0], [1, 1, 1]])
    b = np.array([[2, 0, 4], [0, 2, 2]])
    totals_a, totals_b = a.sum(axis=0), b.sum(axis=0)  # [2, 2, 3] and [2, 2, 6]
    x, y = totals_a - totals_a.mean(), totals_b - totals_b.mean()
    assert motifs.enrichment_pearson(a, b) == pytest.approx((x @ y) / np.sqrt((x @ x) * (y @ y)))
    assert motifs.enrichment_pearson(a, a) == pytest.approx(1.0)
    assert motifs.cooccurrence_frobenius(a, a.copy()) == 0.0

    def cov(m):  # motifs as variables, sequences as observations (ddof 1), by hand
        centred = m - m.mean(axis=0)
        return centred.T @ centred / (len(m) - 1)

    assert motifs.cooccurrence_frobenius(a, b) == pytest.approx(np.sqrt(((cov(a) - cov(b)) ** 2).sum()))


def test_unknown_release_and_group_are_user_errors():
    from d3core.errors import D3UserError

    with pytest.raises(D3UserError, match="not a JASPAR release"):
        motifs.jaspar_motifs("JASPAR1999")
    with pytest.raises(D3UserError, match="no motifs"):
        motifs.jaspar_motifs("JASPAR2022", "CORE", "martians")


def test_missing_library_names_the_extra(monkeypatch):
    from d3core.evaluation.extras import MissingExtraError, require

    monkeypatch.setitem(sys.modules, "memelite", None)  # import memelite now raises ImportError
    with pytest.raises(MissingExtraError) as info:
        motifs.scan(np.zeros((1, 20), np.uint8), motifs.MotifDatabase({"m": np.full((4, 3), 0.25)}, "r", "c"))
    message = str(info.value)
    assert "pip install 'd3core[motifs]'" in message and "memelite" in message and "\n" not in message
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(MissingExtraError, match=r"captum.*d3core\[motifs\]"):
        require("captum.attr", "attribution maps")
