"""Training with missing labels: a file whose labels are partly NaN (counted in its ``d3_measured`` attribute) gives
the network a learned null per label; a missing label takes its null, a row with every label missing trains the
unconditional path, label dropout drops single labels too; files without missing labels train as before."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from d3core.config import ConfigSources
from d3core.errors import D3UserError
from d3core.testing.components import TinyArchitecture
from d3core.testing.helpers import with_missing_labels
from d3core.training.plan import build_run_network, plan_run


class NoLabelNullsArchitecture(TinyArchitecture):
    """tiny-arch as a third-party architecture without per-label nulls."""

    name = "no-label-nulls"


class _Plugin:
    from d3core.api import hookimpl

    @staticmethod
    @hookimpl
    def register_architectures(register):
        register("no-label-nulls", NoLabelNullsArchitecture, description="test: no per-label nulls")


@pytest.fixture(scope="module")
def missing_file(deepstarr_file, tmp_path_factory):
    """The synthesized DeepSTARR file with ``dev`` missing in a third of the rows and ``hk`` in another third."""
    def thirds(y):
        mask = np.zeros(y.shape, dtype=bool)
        third = len(y) // 3
        mask[:third, 0] = mask[third:2 * third, 1] = True
        return mask

    return with_missing_labels(deepstarr_file, tmp_path_factory.mktemp("missing") / "missing.h5", thirds)


def _plan(tmp_path, data, arch="Tran", **flags):
    from d3core.plugins import make_plugin_manager

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    manager.register(_Plugin, "test-no-label-nulls", version="0")
    sources = ConfigSources(flags={"dataset": "deepstarr", "arch": arch, "preset": "tiny", "data.path": str(data),
                                   "work_dir": str(tmp_path / "run"), **flags})
    return plan_run(sources, manager=manager, check_hardware=False)


def _module(plan):
    from d3core.training.module import D3LightningModule

    network = build_run_network(plan)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # away from Tran's initialisation, whose output is exactly 0 (no gradient to the labels)
        for parameter in network.parameters():
            parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    module = D3LightningModule(plan.config, network)
    module.log = lambda *args, **kwargs: None
    module.optimizers = lambda: torch.optim.SGD(module.parameters(), lr=0.1)
    return module


def _batch(path, rows):
    from d3_deepstarr.dataset import DeepSTARR

    return DeepSTARR().open_split(path, "train").read_batch(list(rows))


@pytest.mark.parametrize("arch, key", [("Tran", "vocab_embed.label_nulls.weight"), ("Conv", "label_nulls_track.weight")])
def test_data_with_missing_labels_gives_the_network_per_label_nulls(tmp_path, missing_file, deepstarr_file, arch, key):
    plan = _plan(tmp_path, missing_file, arch, **{"training.label_dropout": 0.0})
    assert plan.config.model.label_nulls is True and plan.config.model.null_condition is True
    assert key in build_run_network(plan).state_dict()
    full = _plan(tmp_path, deepstarr_file, arch)
    assert full.config.model.label_nulls is False  # files without missing labels: the network of before
    assert key not in build_run_network(full).state_dict()


def test_an_architecture_without_per_label_nulls_is_told_in_one_line(tmp_path, missing_file):
    plan = _plan(tmp_path, missing_file, "no-label-nulls")
    with pytest.raises(D3UserError) as error:
        build_run_network(plan)
    message = str(error.value)
    assert "\n" not in message and "no per-label null condition" in message and "--join inner" in message


def test_per_position_labels_with_missing_values_are_refused_in_one_line(tmp_path, missing_file):
    with pytest.raises(D3UserError) as error:
        _plan(tmp_path, missing_file, **{"model.label_mode": "per_position"})
    message = str(error.value)
    assert "\n" not in message and str(missing_file) in message and "measured in the train split: dev " in message
    assert "only global labels support" in message and "--join inner" in message


def test_a_row_with_every_label_missing_trains_the_unconditional_path(tmp_path, missing_file):
    module = _module(_plan(tmp_path, missing_file, **{"training.label_dropout": 0.0}))
    tokens, labels = _batch(missing_file, range(8))
    labels = torch.full_like(labels, float("nan"))  # nothing measured
    module.training_step((tokens, labels), 0).backward()
    embed = module.model.vocab_embed
    assert embed.null_embedding.grad.abs().sum() > 0  # the row null condition learns
    assert torch.count_nonzero(embed.signal_embedding.weight.grad) == 0  # no label reaches the network
    assert torch.count_nonzero(embed.signal_embedding.bias.grad) == 0
    assert torch.count_nonzero(embed.label_nulls.weight.grad) == 0


def test_a_missing_label_takes_its_own_null_and_the_measured_one_conditions(tmp_path, missing_file):
    module = _module(_plan(tmp_path, missing_file, **{"training.label_dropout": 0.0}))
    tokens, labels = _batch(missing_file, range(8))
    labels[:, 0] = float("nan")  # dev missing, hk measured
    module.training_step((tokens, labels), 0).backward()
    embed = module.model.vocab_embed
    grad = embed.label_nulls.weight.grad
    assert grad[0].abs().sum() > 0 and torch.count_nonzero(grad[1]) == 0
    assert torch.count_nonzero(embed.signal_embedding.weight.grad[:, 1]) > 0  # hk conditions
    assert torch.count_nonzero(embed.signal_embedding.weight.grad[:, 0]) == 0  # dev (missing, set to 0) does not
    assert torch.count_nonzero(embed.null_embedding.grad) == 0  # no row lacks every label
    module.zero_grad()
    module.validation_step((tokens, labels), 0)  # validation masks the missing labels too (finite loss)


def test_label_dropout_drops_single_labels_too(tmp_path, missing_file):
    module = _module(_plan(tmp_path, missing_file, **{"training.label_dropout": 0.25}))
    masks = []
    forward = module.model.forward

    def recording(tokens, labels, sigma, null_mask=None):
        masks.append(null_mask)
        return forward(tokens, labels, sigma, null_mask=null_mask)

    module.model.forward = recording
    tokens, labels = _batch(missing_file, range(100, 228))
    labels = labels.nan_to_num(0.0)  # fully measured rows: only dropout masks
    torch.manual_seed(0)
    for _ in range(8):
        module.training_step((tokens, labels), 0)
    mask = torch.cat(masks)
    assert mask.shape[1] == 2
    single = mask.float().mean().item()  # 1 - 0.75 * 0.75: the row draw, then a draw per label
    both = mask.all(dim=1).float().mean().item()  # 0.25 + 0.75 * 0.25 ** 2
    assert 0.38 < single < 0.5, single
    assert 0.24 < both < 0.33, both
