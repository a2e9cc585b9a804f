"""The tiny test components as a plugin (light: nothing heavy is imported until a component is used).

:func:`d3core.testing.helpers.fresh_manager` registers this module under the name :data:`PLUGIN_NAME` as a built-in,
so a plugin under test may register the same names with ``replace=True`` if it really wants to.
"""
from d3core.api import hookimpl

#: the name this plugin is registered under (shown as the provider of ``tiny-dna`` and ``tiny-arch``)
PLUGIN_NAME = "d3core.testing"
TINY_DATASET = "tiny-dna"
TINY_ARCH = "tiny-arch"


@hookimpl
def register_datasets(register):
    register(TINY_DATASET, "d3core.testing.components:TinyDataset",
             description="tests only: 32 bp synthetic DNA, one label (d3core.testing)",
             length=32, label_names=["activity"], label_mode="global")


@hookimpl
def register_architectures(register):
    register(TINY_ARCH, "d3core.testing.components:TinyArchitecture",
             description="tests only: a small convolutional score network (d3core.testing)",
             presets=["tiny", "paper"], label_modes=["global", "per_position", "none"], null_condition=True)
