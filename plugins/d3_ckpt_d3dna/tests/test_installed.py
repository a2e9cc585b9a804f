"""The distribution is installed with its entry point, registers its components, and its format is asked first."""
from importlib.metadata import distribution


def test_entry_point_in_group_d3():
    eps = [ep for ep in distribution("d3-ckpt-d3dna").entry_points if ep.group == "d3"]
    assert [(ep.name, ep.value) for ep in eps] == [("d3-ckpt-d3dna", "d3_ckpt_d3dna")]


def test_registers_its_components_and_comes_before_the_generic_formats():
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_LOAD_PLUGINS": "d3-ckpt-d3dna,d3-ckpt-legacy", "D3_STRICT_PLUGINS": "1"})
    formats = [entry.name for entry in manager.registry("checkpoint_formats").entries()]
    assert formats.index("d3-dna") < formats.index("legacy") and formats.index("d3-dna") < formats.index("lightning")
    assert manager.get("checkpoint_formats", "d3dna").provider.distribution == "d3-ckpt-d3dna"
    assert {"d3dna-Tran", "d3dna-Conv"} <= set(manager.registry("architectures").names())
    for name in ("lentimpra-hepg2", "lentimpra-k562"):
        assert manager.get("datasets", name).metadata["length"] == 230
        assert manager.get("oracles", name).metadata["network"] == "d3_ckpt_d3dna.legnet:LegNetOracle"


def test_the_original_d3_pth_is_still_the_legacy_formats():
    """Both towers in one state dict (the original SEDD class) is not d3-dna's layout."""
    from d3_ckpt_d3dna.layout import tower_of

    both = ["vocab_embed.embedding", "output_layer.linear.weight", "linear.weight", "final.2.weight",
            "conv_blocks.0.weight", "blocks.0.norm1.weight"]
    assert tower_of(both) is None
    assert tower_of(both[:2] + ["blocks.0.norm1.weight"]) == "d3dna-Tran" and tower_of(both[2:5]) == "d3dna-Conv"
    # the original class's transformer alone still has its scale and Fourier embed: not d3-dna's
    assert tower_of(both[:2] + ["blocks.0.norm1.weight", "scale", "embed.0.W"]) is None


def test_published_files():
    from d3_ckpt_d3dna.published import FILES, RECORD, published_files

    names = [f.name for f in FILES]
    assert len(set(names)) == len(names) == 15
    assert {f.kind for f in FILES} == {"model", "oracle", "data"}
    by_name = {f.name: f for f in FILES}
    assert by_name["deepstarr-tran"].file == "D3_Tran_DeepSTARR.ckpt"
    assert by_name["oracle-k562"].dataset == "lentimpra-k562" and by_name["data-hepg2"].file == "data_MPRA_HepG2.h5"
    assert not by_name["oracle-promoter"].opens
    row = published_files()[0]
    assert row["url"] == f"https://zenodo.org/records/{RECORD}/files/D3_Tran_DeepSTARR.ckpt?download=1"
