"""The files of the D3 authors' Zenodo record 19774653 (what d3-dna 0.1.3 downloads), as plain data.

One :class:`PublishedFile` per file: a short ``name`` to ask for it by (``deepstarr-tran``, ``hepg2-conv``,
``oracle-k562``, ``data-hepg2``), the record's file name, its ``kind`` (``model``, ``oracle`` or ``data``), the d3
architecture or oracle network that reads it, the d3 dataset it belongs to, and whether d3 can open it (the Sei
promoter oracle cannot: see ``docs/checkpoints.md``). No hashes are published with the record; a downloader pins the
SHA-256 at the first download. Nothing here downloads: ``d3 models`` (d3core) finds them through the plugin's
``register_models`` hook.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

RECORD = "19774653"
URL = "https://zenodo.org/records/{record}/files/{file}?download=1"


@dataclass(frozen=True)
class PublishedFile:
    """One file of the record."""

    name: str
    file: str
    kind: str
    architecture: str | None
    dataset: str | None
    opens: bool = True
    note: str = ""
    record: str = RECORD

    @property
    def url(self) -> str:
        return URL.format(record=self.record, file=self.file)

    def as_dict(self) -> dict:
        return {**asdict(self), "url": self.url}


_LEGNET = "LegNet (d3_ckpt_d3dna.legnet:LegNetOracle)"
_DEEPSTARR = "DeepSTARR CNN (d3_deepstarr.oracle:DeepSTARROracle)"
_PROMOTER = "no d3 dataset plugin provides the promoter data (4096 bp, per-position labels)"

FILES: tuple[PublishedFile, ...] = (
    PublishedFile("deepstarr-tran", "D3_Tran_DeepSTARR.ckpt", "model", "d3dna-Tran", "deepstarr"),
    PublishedFile("deepstarr-conv", "D3_Conv_DeepSTARR.pth", "model", "d3dna-Conv", "deepstarr",
                  note="SEDD .pth without a config: pass d3-dna's examples/deepstarr/config_conv.yaml as "
                       "--legacy_config; d3-dna's CNN cannot take DeepSTARR's two labels (unconditional)"),
    PublishedFile("hepg2-tran", "D3_Tran_MPRA_HepG2.ckpt", "model", "d3dna-Tran", "lentimpra-hepg2"),
    PublishedFile("hepg2-conv", "D3_Conv_MPRA_HepG2.pth", "model", "d3dna-Conv", "lentimpra-hepg2",
                  note="SEDD .pth without a config: pass d3-dna's examples/hepg2/config_conv.yaml as --legacy_config"),
    PublishedFile("k562-tran", "D3_Tran_MPRA_K562.ckpt", "model", "d3dna-Tran", "lentimpra-k562"),
    PublishedFile("k562-conv", "D3_Conv_MPRA_K562.ckpt", "model", "d3dna-Conv", "lentimpra-k562"),
    PublishedFile("promoter-tran", "D3_Tran_Promoter.ckpt", "model", "d3dna-Tran", "promoter", note=_PROMOTER),
    PublishedFile("promoter-conv", "D3_Conv_Promoter.ckpt", "model", "d3dna-Conv", "promoter", note=_PROMOTER),
    PublishedFile("oracle-deepstarr", "Oracle_DeepSTARR.ckpt", "oracle", _DEEPSTARR, "deepstarr"),
    PublishedFile("oracle-hepg2", "Oracle_MPRA_HepG2.ckpt", "oracle", _LEGNET, "lentimpra-hepg2"),
    PublishedFile("oracle-k562", "Oracle_MPRA_K562.ckpt", "oracle", _LEGNET, "lentimpra-k562"),
    PublishedFile("oracle-promoter", "Oracle_Promoter.pth.tar", "oracle", "Sei", "promoter", opens=False,
                  note="Sei (4096 bp in, 21,907 outputs, ~500 M parameters, ~2 GB) is not supported by d3"),
    PublishedFile("data-deepstarr", "data_DeepSTARR.h5", "data", None, "deepstarr"),
    PublishedFile("data-hepg2", "data_MPRA_HepG2.h5", "data", None, "lentimpra-hepg2"),
    PublishedFile("data-k562", "data_MPRA_K562.h5", "data", None, "lentimpra-k562"),
)


def published_files() -> list[dict]:
    """:data:`FILES` as JSON-able dicts (``name, file, kind, architecture, dataset, opens, note, record, url``)."""
    return [entry.as_dict() for entry in FILES]
