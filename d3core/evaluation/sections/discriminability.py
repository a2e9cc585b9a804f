"""Real-vs-generated classifier AUROC (§9.6): the paper trains the oracle architecture on training sequences."""
from __future__ import annotations

import numpy as np

from d3core.evaluation.sections.base import Run, Section


def compute(run: Run) -> None:
    """``auroc`` (0.5: indistinguishable) and ``auroc_n_per_class``."""
    from d3core.evaluation.discriminator import discriminability_auroc

    p = run.protocol
    if p.discriminator_real == "train":
        n = min(len(run.train), len(run.gen), p.discriminator_max_per_class)
        rows = np.sort(np.random.default_rng(run.seed + 1).choice(len(run.train), size=n, replace=False))
        real = run.train_tokens(rows)
    else:
        real = run.ref_tokens
    network = None
    if p.discriminator == "oracle":
        from d3core.evaluation.oracle_networks import oracle_network_class

        cls = oracle_network_class(run.dataset)
        length = run.gen.shape[1]
        network = lambda: cls(num_outputs=1, length=length)  # noqa: E731
    disc = discriminability_auroc(real, run.gen, seed=run.seed, device=run.device, network=network,
                                  max_per_class=p.discriminator_max_per_class,
                                  max_epochs=p.discriminator_max_epochs, patience=p.discriminator_patience,
                                  on_epoch=lambda e: run.say(f"discriminability: epoch {e}") if e % 10 == 0
                                  else None)
    run.metrics.update(auroc=disc["auroc"], auroc_n_per_class=disc["n_per_class"])
    run.say(f"discriminability: AUROC {disc['auroc']:.3f} on {disc['n_per_class']} sequences per class "
            f"({p.discriminator} classifier, real = {p.discriminator_real}; 0.5 = indistinguishable)")


SECTION = Section("discriminability", compute, directions={"auroc": "closer to 0.5"},
                  applies=lambda run: run.discriminator)
