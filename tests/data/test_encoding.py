"""ACGT <-> tokens <-> one-hot, and the one N policy."""
import numpy as np
import pytest

from d3core.data.encoding import canonical, decode, encode, one_hot, reverse_complement, tokens_from_one_hot
from d3core.errors import D3UserError


def test_encode_decode_round_trip_and_mapping():
    tokens = encode(["ACGT", "ttga"])
    assert tokens.dtype == np.uint8
    assert tokens.tolist() == [[0, 1, 2, 3], [3, 3, 2, 0]]
    assert decode(tokens) == ["ACGT", "TTGA"]


def test_n_is_an_error_naming_file_and_row():
    with pytest.raises(D3UserError) as info:
        encode(["ACGT", "ACNT"], source="reads.fa", rows=[2, 4])
    message = str(info.value)
    assert "reads.fa row 4" in message and "'N'" in message and "position 3" in message
    assert "--replace-n random" in message


def test_random_replacement_is_seeded_and_only_touches_n():
    a = encode(["ANNNNNNT"] * 3, replace_n="random", rng=np.random.default_rng(5))
    b = encode(["ANNNNNNT"] * 3, replace_n="random", rng=np.random.default_rng(5))
    assert (a == b).all()
    assert (a[:, 0] == 0).all() and (a[:, -1] == 3).all()
    assert a.max() <= 3


def test_length_mismatch_and_unknown_policy():
    with pytest.raises(D3UserError, match="row 2: sequence has 3 bp, expected 4 bp"):
        encode(["ACGT", "ACG"])
    with pytest.raises(D3UserError, match="unknown N policy"):
        encode(["ACGT"], replace_n="drop")


def test_one_hot_axes_and_back():
    tokens = np.array([[0, 1, 2, 3, 3]])
    first = one_hot(tokens, channels_first=True)
    last = one_hot(tokens, channels_first=False, dtype=np.float32)
    assert first.shape == (1, 4, 5) and last.shape == (1, 5, 4)
    back, unknown = tokens_from_one_hot(first, channel_axis=1)
    assert back.tolist() == tokens.tolist() and not unknown.any()
    last[0, 2] = 0.0  # an N position (all zero)
    back, unknown = tokens_from_one_hot(last, channel_axis=2)
    assert unknown.tolist() == [[False, False, True, False, False]]


def test_reverse_complement_and_canonical():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert canonical("TTTT") == "AAAA" and canonical("AAAA") == "AAAA"
