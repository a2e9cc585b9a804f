"""The planted-motif setup shared by the conditioning, likelihood and design tests and benchmarks.

The ``two-motifs`` dataset (:class:`d3core.testing.components.TwoMotifDataset`: 100 bp, AP-1 -> dev, Dref -> hk; the
true activity of a sequence is its motif count) on 2000 synthetic rows, a Conv ``tiny`` model trained on it by
``d3 train``, and two small oracles fitted by ``d3 oracle train`` on different random halves of the training rows (a
guide and a judge)::

    d3 = in_process_d3(two_motif_manager())
    checkpoint, data = train_two_motif_model(work, d3)           # skips what is already in ``work``
    guide, judge = train_guide_and_judge(work, d3, data)

Nothing here imports torch at module level.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from d3core.api import hookimpl

#: optimizer steps of the model: enough for it to condition on the motifs (about a minute on 2 quiet CPUs)
MOTIF_STEPS = 400


class TwoMotifPlugin:
    """Registers the ``two-motifs`` and ``three-cells`` datasets (not registered by default)."""

    @staticmethod
    @hookimpl
    def register_datasets(register):
        register("two-motifs", "d3core.testing.components:TwoMotifDataset",
                 description="planted AP-1 -> dev, Dref -> hk (tests and benchmarks)", length=100)
        register("three-cells", "d3core.testing.components:ThreeCellDataset",
                 description="a motif per cell type and generic activators (specificity tests)", length=120,
                 label_names=["HepG2", "K562", "WTC11"])


def two_motif_manager(gc_content: float | None = None):
    """A plugin manager (installed plugins, strict) that also knows the ``two-motifs`` dataset; ``gc_content`` (e.g.
    0.4, an AT-rich background as in Drosophila enhancers) replaces the dataset's background GC fraction, so that a
    sequence's composition carries information too (dinucleotide shuffles keep it, uniform random DNA does not)."""
    from d3core.plugins import make_plugin_manager
    from d3core.testing.components import TwoMotifDataset

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    if gc_content is None:
        manager.register(TwoMotifPlugin, "d3-testing-two-motifs", version="0")
        return manager
    background = type("TwoMotifDatasetGC", (TwoMotifDataset,), {"gc_content": float(gc_content)})

    class Plugin:
        @staticmethod
        @hookimpl
        def register_datasets(register):
            register("two-motifs", background, description=f"two-motifs on a GC {gc_content} background",
                     length=100)

    manager.register(Plugin, "d3-testing-two-motifs", version="0")
    return manager


def in_process_d3(manager) -> Callable:
    """``d3(*args)``: run the d3 app in this process on ``manager``; an exit code other than 0 raises
    ``AssertionError`` with the output. Returns click's Result."""
    from click.testing import CliRunner

    from d3core.cli import make_cli

    def d3(*args):
        result = CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return d3


def train_two_motif_model(work: Path, d3: Callable, *, steps: int = MOTIF_STEPS, dataset: str = "two-motifs",
                          rows: int = 2000) -> tuple[Path, Path]:
    """``(last.ckpt, data)``: ``rows`` rows of ``dataset`` (seed 0) in ``work/motifs.h5`` and Conv ``tiny`` trained
    on them for ``steps`` steps (label dropout 0.1, one validation at the end, CSV logger) in ``work/run``."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    data, checkpoint = work / "motifs.h5", work / "run" / "checkpoints" / "last.ckpt"
    if not data.is_file():
        d3("data", "synth", dataset, "--n", rows, "--seed", "0", "-o", data)
    if not checkpoint.is_file():
        d3("train", "--dataset", dataset, "--arch", "Conv", "--preset", "tiny", "--data", data,
           "--work_dir", work / "run", "--max_steps", steps, "--batch_size", "32", "--val_check_interval", steps,
           "--accelerator", "cpu", "--logger", "csv", "optim.lr=2e-3", "optim.warmup=20", "eval.batch_size=200",
           "lightning.checkpoint.save_top_k=0")
    return checkpoint, data


def train_guide_and_judge(work: Path, d3: Callable, data: Path, *, dataset: str = "two-motifs") -> tuple[Path, Path]:
    """``(guide, judge)`` oracle files in ``work``: the dataset's small CNN fitted by ``d3 oracle train`` on different
    random halves of the training rows (seeds 1 and 2, ``--train-fraction 0.5``, at most 12 epochs)."""
    paths = []
    for name, seed in (("guide", 1), ("judge", 2)):
        path = Path(work) / f"{name}.oracle.ckpt"
        if not path.is_file():
            d3("oracle", "train", "--dataset", dataset, "--data", data, "-o", path, "--seed", seed,
               "--train-fraction", "0.5", "--max-epochs", "12", "--patience", "3", "--lr", "5e-3", "--accelerator",
               "cpu")
        paths.append(path)
    return paths[0], paths[1]
