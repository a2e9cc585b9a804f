"""d3 plugin for the files of the D3 authors' package ``d3-dna`` (0.1.3; Zenodo record 19774653).

Registers, with light hook implementations only (no torch import at module level):

- the checkpoint format ``d3-dna`` (aliases ``d3dna``): its Lightning ``.ckpt`` and SEDD-layout ``.pth``, detected
  by content, read safely and written back (:mod:`d3_ckpt_d3dna.format`); registered ahead of the other formats
  (``tryfirst``), because d3-dna's files also have the generic shapes that the ``lightning`` and ``legacy`` formats
  look for;
- the architectures ``d3dna-Tran`` and ``d3dna-Conv``: d3-dna's networks, which are not d3's ``Tran``/``Conv``
  (:mod:`d3_ckpt_d3dna.architectures`);
- the datasets ``lentimpra-hepg2`` and ``lentimpra-k562`` (d3-dna's ``data_MPRA_*.h5``), whose oracle network is
  LegNet (:mod:`d3_ckpt_d3dna.legnet`): ``Oracle_MPRA_HepG2.ckpt``/``Oracle_MPRA_K562.ckpt`` load through them by
  content. d3-dna's ``data_DeepSTARR.h5`` and ``Oracle_DeepSTARR.ckpt`` are the layout and network of d3's own
  ``deepstarr`` dataset plugin.

:mod:`d3_ckpt_d3dna.published` lists the files of the Zenodo record as data; ``register_models`` makes them
names that `d3 models fetch` and every path option take.
"""
from d3core.api import hookimpl

_LENTIMPRA = {"length": 230, "label_names": ["activity"], "label_mode": "global",
              "keys": "onehot_{split} [N,230,4] channels-last, y_{split} [N,1]"}


@hookimpl(tryfirst=True)
def register_checkpoint_formats(register):
    register("d3-dna", "d3_ckpt_d3dna.format:D3dnaFormat", aliases=("d3dna",),
             description="d3-dna 0.1.3 checkpoints: its Lightning .ckpt and SEDD .pth (by content)", suffix=".ckpt")


@hookimpl
def register_architectures(register):
    register("d3dna-Tran", "d3_ckpt_d3dna.architectures:D3dnaTran",
             description="d3-dna's transformer: label embedding added at every position, unused label table",
             presets=["tiny", "paper"], label_modes=["global", "per_position", "none"], null_condition=False)
    register("d3dna-Conv", "d3_ckpt_d3dna.architectures:D3dnaConv",
             description="d3-dna's CNN: the label as a fifth input channel, current token not zeroed",
             presets=["tiny", "paper"], label_modes=["global", "per_position", "none"], null_condition=False)


@hookimpl
def register_datasets(register):
    register("lentimpra-hepg2", "d3_ckpt_d3dna.datasets:LentiMPRAHepG2",
             description="lentiMPRA elements in HepG2, 230 bp, one activity (d3-dna's data_MPRA_HepG2.h5)",
             file="data_MPRA_HepG2.h5", **_LENTIMPRA)
    register("lentimpra-k562", "d3_ckpt_d3dna.datasets:LentiMPRAK562",
             description="lentiMPRA elements in K562, 230 bp, one activity (d3-dna's data_MPRA_K562.h5)",
             file="data_MPRA_K562.h5", **_LENTIMPRA)


@hookimpl
def register_models(register):
    """Every file of the Zenodo record, by name (``d3 models list``; ``d3 sample deepstarr-tran ...``)."""
    from d3_ckpt_d3dna.published import FILES  # plain data, no torch

    for entry in FILES:
        arch = entry.architecture.split(" (")[0] if entry.architecture else None
        register(entry.name, entry.url, kind=entry.kind, arch=arch, dataset=entry.dataset,
                 record=entry.record, opens=entry.opens,
                 description=entry.file + (f" ({entry.note})" if entry.note else ""))
