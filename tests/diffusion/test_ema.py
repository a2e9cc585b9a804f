"""Exponential moving average keyed by parameter name (spec §5.2)."""
import io

import pytest
import torch

from d3core.diffusion import ExponentialMovingAverage


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.frozen = torch.nn.Parameter(torch.ones(4), requires_grad=False)
        self.register_buffer("counter", torch.zeros(1))


def set_all(model, value):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def test_tracks_trainable_parameters_by_name():
    ema = ExponentialMovingAverage(Net(), decay=0.9999)
    assert set(ema.shadow) == {"linear.weight", "linear.bias"}


def test_warmup_decay_numbers():
    model = Net()
    set_all(model, 0.0)
    ema = ExponentialMovingAverage(model, decay=0.9999)
    set_all(model, 1.0)
    ema.update(model)  # n = 1: d = 2/11, shadow = 0 - (1 - 2/11)(0 - 1) = 9/11
    assert ema.num_updates == 1 and ema.current_decay() == pytest.approx(2 / 11)
    torch.testing.assert_close(ema.shadow["linear.bias"], torch.full((2,), 9 / 11))
    ema.update(model)  # n = 2: d = 3/12, shadow = 9/11 + (3/4)(2/11) = 10.5/11
    torch.testing.assert_close(ema.shadow["linear.weight"], torch.full((2, 3), 10.5 / 11))
    assert ema.current_decay(10**6) == 0.9999  # capped at the target decay
    assert ExponentialMovingAverage(model, decay=0.5).current_decay(1) == 2 / 11  # min(0.5, 2/11)
    assert ExponentialMovingAverage(model, decay=0.9, warmup=False).current_decay(1) == 0.9
    assert model.frozen.eq(1.0).all()


def test_swap_in_and_restore():
    model = Net()
    set_all(model, 0.0)
    ema = ExponentialMovingAverage(model)
    set_all(model, 2.0)
    ema.update(model)
    with ema.swapped_in(model):
        torch.testing.assert_close(model.linear.weight, torch.full((2, 3), 2.0 * 9 / 11))
    assert model.linear.weight.eq(2.0).all() and model.frozen.eq(2.0).all()
    ema.store(model)
    ema.copy_to(model)
    assert model.linear.bias.eq(ema.shadow["linear.bias"]).all()
    ema.restore(model)
    assert model.linear.bias.eq(2.0).all()
    with pytest.raises(RuntimeError, match="without a preceding store"):
        ema.restore(model)


def test_state_dict_round_trip_with_weights_only_load():
    model = Net()
    ema = ExponentialMovingAverage(model, decay=0.999)
    for step in range(3):
        set_all(model, float(step))
        ema.update(model)
    buffer = io.BytesIO()
    torch.save(ema.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["decay"] == 0.999 and state["num_updates"] == 3 and isinstance(state["num_updates"], int)
    restored = ExponentialMovingAverage(Net(), decay=0.5)
    restored.load_state_dict(state)
    assert restored.decay == 0.999 and restored.num_updates == 3
    for name, shadow in ema.shadow.items():
        assert torch.equal(restored.shadow[name], shadow)
    assert restored.current_decay() == ema.current_decay()


def test_state_is_matched_by_name_not_position():
    class Reordered(torch.nn.Module):  # same names, other registration order
        def __init__(self):
            super().__init__()
            self.frozen = torch.nn.Parameter(torch.ones(4), requires_grad=False)
            self.linear = torch.nn.Linear(3, 2)

    source = Net()
    ema = ExponentialMovingAverage(source)
    target = ExponentialMovingAverage(Reordered())
    target.load_state_dict(ema.state_dict())
    assert torch.equal(target.shadow["linear.weight"], source.linear.weight)


def test_mismatched_state_is_refused():
    ema = ExponentialMovingAverage(Net())
    state = ema.state_dict()
    with pytest.raises(KeyError, match="unexpected \\['extra'\\]"):
        ema.load_state_dict({**state, "shadow": {**state["shadow"], "extra": torch.zeros(1)}})
    with pytest.raises(ValueError, match="'linear.bias' has shape \\(3,\\)"):
        ema.load_state_dict({**state, "shadow": {**state["shadow"], "linear.bias": torch.zeros(3)}})
    with pytest.raises(KeyError, match="does not have"):
        ema.update(torch.nn.Linear(3, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_shadows_follow_the_model_to_cuda():
    model = Net()
    ema = ExponentialMovingAverage(model)  # built on the CPU, as a callback would before the model moves
    model.cuda()
    ema.update(model)
    assert all(s.device.type == "cuda" for s in ema.shadow.values())
    with ema.swapped_in(model):
        pass


def _per_tensor_update(shadows: dict, model, one_minus_decay: float) -> None:
    """The EMA step as it was written before the foreach form (and as the original D3 writes it), tensor by tensor."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in shadows:
                shadows[name].sub_(one_minus_decay * (shadows[name] - param))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_foreach_update_is_bit_for_bit_the_per_tensor_update(dtype):
    from d3_arch_tran.model import TranArchitecture

    torch.manual_seed(0)
    model = TranArchitecture.build({"num_labels": 2, "length": 16}, preset="tiny").to(dtype)
    ema = ExponentialMovingAverage(model, decay=0.9999)
    reference = {name: s.clone() for name, s in ema.shadow.items()}
    for _ in range(25):  # parameters moving by random steps of very different sizes, the warm-up decay moving too
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 10 ** torch.randint(-6, 1, ()).item())
        ema.update(model)
        _per_tensor_update(reference, model, 1.0 - ema.current_decay())
    for name, shadow in ema.shadow.items():
        assert shadow.dtype == dtype and torch.equal(shadow, reference[name]), name
