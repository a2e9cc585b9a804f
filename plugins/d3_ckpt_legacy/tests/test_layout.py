"""The original SEDD layout per dataset variant: the spec's parameter-count anchors (§4.3) and the unused lists."""
import math

import pytest

from d3_ckpt_legacy import layout


@pytest.mark.parametrize("variant,arch,total", [
    ("deepstarr", "Tran", 105_724_958), ("deepstarr", "Conv", 113_016_350),
    ("mpra", "Tran", 105_637_481), ("mpra", "Conv", 112_994_865),
])
def test_total_parameter_counts_match_the_spec(variant, arch, total):
    v = layout.VARIANTS[variant]
    entries = layout.original_layout(v, arch=arch, hidden_size=768, n_blocks=12, n_heads=12,
                                     cond_dim=128 if arch == "Tran" else 256, length=v.length)
    assert sum(math.prod(e.shape) for e in entries if e.key not in layout.BUFFERS) == total


def test_used_transformer_parameters_match_the_spec():
    v = layout.VARIANTS["deepstarr"]
    entries = layout.original_layout(v, arch="Tran", hidden_size=768, n_blocks=12, n_heads=12, cond_dim=128,
                                     length=249)
    unused = layout.UNUSED_MODULES[("deepstarr", "Tran")]
    used = [e for e in entries if e.key not in layout.BUFFERS and not layout.in_modules(e.key, unused)]
    assert sum(math.prod(e.shape) for e in used) == 92_389_124


def test_every_original_key_is_either_used_or_listed_unused():
    for (variant, arch), unused in layout.UNUSED_MODULES.items():
        v = layout.VARIANTS[variant]
        for with_embed in ((True, False) if v.has_embed else (False,)):
            entries = layout.original_layout(v, arch=arch, hidden_size=64, n_blocks=2, n_heads=4, cond_dim=32,
                                             length=v.length, with_embed=with_embed)
            for e in entries:
                used = layout.in_modules(e.key, layout.TOWERS[arch])
                assert used != layout.in_modules(e.key, unused), (variant, arch, e.key)


def test_promoter_has_no_label_mlp_and_mpra_label_widths():
    promoter = layout.original_layout(layout.VARIANTS["promoter"], arch="Tran", hidden_size=64, n_blocks=1,
                                      n_heads=4, cond_dim=32, length=1024)
    assert not any(e.key.startswith(("label_emb.", "embed.")) for e in promoter)
    assert dict((e.key, e.shape) for e in promoter)["linear.weight"] == (256, 5, 9)
    for arch, width in (("Tran", 2), ("Conv", 3)):
        mpra = layout.original_layout(layout.VARIANTS["mpra"], arch=arch, hidden_size=64, n_blocks=1, n_heads=4,
                                      cond_dim=32, length=200)
        shapes = dict((e.key, e.shape) for e in mpra)
        assert shapes["label_emb.0.weight"] == (200, width) and shapes["label_embed.embedding_table.weight"][0] == 4
