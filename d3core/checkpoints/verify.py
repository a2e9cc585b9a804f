"""``d3 checkpoint verify``: detect, load, build, convert to another format, reload, compare bit for bit, compare the
model outputs -- one :class:`Check` each, stopping at the first failure.

A model that no other installed format can hold (the original D3 format's convolutional network is hard-wired to one
size, so a Conv ``tiny`` run has no original form) is not a failure of the checkpoint: the conversion and the checks
that need it are reported as not applicable, with the reason."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from d3core.checkpoints.bundle import CheckpointBundle
from d3core.checkpoints.formats import detect_format, format_suffix, get_format, load_bundle, save_bundle
from d3core.checkpoints.models import model_from_bundle, parameter_count
from d3core.errors import FormatCannotHold, one_line

__all__ = ["CHECKS", "Check", "compare_bundles", "random_inputs", "round_trip_format", "round_trip_formats",
           "verify_checkpoint"]

#: the checks, in order
CHECKS = ("detect", "load", "model", "convert", "reload", "round trip", "outputs")


#: a check's outcomes
PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "n/a"


@dataclass(frozen=True)
class Check:
    """One check's outcome (:data:`PASS`, :data:`FAIL` or :data:`NOT_APPLICABLE`), its title, one line of detail."""

    status: str
    title: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status == PASS


def random_inputs(config: dict[str, Any], noise, seed: int = 0, batch: int = 2):
    """``(tokens [B, L], labels [B, C] | [B, L, C] | None, sigma [B])`` for a model of ``config``: seeded random
    sequences and labels, sigma at times spread over (0.1, 0.9)."""
    import torch

    model = config.get("model") or {}
    length = int(model.get("length") or 0) or 64
    tokens = int(config.get("tokens", 4))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, tokens, (batch, length), generator=generator)
    labels_n, mode = int(model.get("num_labels") or 0), model.get("label_mode", "global")
    if not labels_n or mode == "none":
        labels = None
    elif mode == "per_position":
        labels = torch.randn(batch, length, labels_n, generator=generator)
    else:
        labels = torch.randn(batch, labels_n, generator=generator)
    sigma = noise(torch.linspace(0.1, 0.9, batch))[0]
    return x, labels, sigma


def compare_bundles(a: CheckpointBundle, b: CheckpointBundle) -> str:
    """Bit-exact comparison of trained weights, EMA and optimizer moments of two bundles (by parameter name).

    Returns a one-line summary; raises :class:`AssertionError` naming the first difference."""
    import torch

    def same(x, y) -> bool:
        return tuple(x.shape) == tuple(y.shape) and torch.equal(x.float(), y.float())

    diff = [k for k in a.model if k not in b.model or not same(a.model[k], b.model[k])]
    if diff:
        raise AssertionError(f"weight {diff[0]} differs ({len(diff)} tensors)")
    shadow_a, shadow_b = (a.ema or {}).get("shadow") or {}, (b.ema or {}).get("shadow") or {}
    diff = [k for k in shadow_a if k not in shadow_b or not same(shadow_a[k], shadow_b[k])]
    if diff:
        raise AssertionError(f"EMA of {diff[0]} differs ({len(diff)} tensors)")
    moments_a = (a.optimizer or {}).get("state") or {}
    moments_b = (b.optimizer or {}).get("state") or {}
    if set(moments_a) != set(moments_b):
        raise AssertionError(f"optimizer moments for {len(moments_a)} vs {len(moments_b)} parameters")
    count = 0
    for name, state in moments_a.items():
        for key, value in state.items():
            if hasattr(value, "shape") and not same(value, moments_b[name][key]):
                raise AssertionError(f"optimizer {key} of {name} differs")
            count += hasattr(value, "shape") and value.dim() > 0
    if int(a.step) != int(b.step):
        raise AssertionError(f"step {a.step} vs {b.step}")
    return (f"bit-exact: {len(a.model)} weights, {len(shadow_a)} EMA tensors, {count} Adam moment tensors, "
            f"step {a.step}")


def round_trip_formats(source_format: str, manager, to: str | None = None) -> list[str]:
    """The formats to convert to, in the order tried: ``to``; else ``lightning`` for any other format; for a
    Lightning checkpoint every other installed format, in registry order."""
    if to:
        return [get_format(to, manager)[0]]
    if source_format != "lightning":
        return ["lightning"]
    names = manager.registry("checkpoint_formats").names()
    others = [n for n in names if n.lower() not in ("lightning", source_format.lower())]
    if not others:
        raise AssertionError("no other checkpoint format installed to convert to (install d3-ckpt-legacy)")
    return others


def round_trip_format(source_format: str, manager, to: str | None = None) -> str:
    """The first of :func:`round_trip_formats`."""
    return round_trip_formats(source_format, manager, to)[0]


def verify_checkpoint(path: Path, manager, *, to: str | None = None, tolerance: float = 1e-4,
                      **options: Any) -> list[Check]:
    """Run :data:`CHECKS` on ``path`` (the conversion goes to a temporary directory, removed afterwards; outputs are
    compared on fixed random inputs with the EMA weights); stops after the first failure. When no target format can
    hold the model (:class:`FormatCannotHold`), the conversion and the checks after it are :data:`NOT_APPLICABLE`.
    ``options`` reach the format's ``load``."""
    import torch

    state: dict[str, Any] = {}
    results: list[Check] = []

    def detect():
        state["format"] = detect_format(path, manager)[0]
        return f"format {state['format']}"

    def load():
        state["bundle"] = bundle = load_bundle(path, manager, format=state["format"], **options)[1]
        return f"{bundle.architecture} on {bundle.dataset}, step {bundle.step:,}"

    def build():
        state["model"], _, state["noise"] = model_from_bundle(state["bundle"], manager=manager)
        return f"weights fit {state['bundle'].architecture} ({parameter_count(state['bundle'], manager):,} parameters)"

    with tempfile.TemporaryDirectory(prefix="d3-verify-") as tmp:
        def convert():
            refusals = []
            for target_name in round_trip_formats(state["format"], manager, to):
                _, fmt = get_format(target_name, manager)
                target = Path(tmp) / f"converted-{target_name}{format_suffix(target_name, fmt)}"
                try:
                    save_bundle(state["bundle"], target_name, target, manager)
                except FormatCannotHold as exc:  # the model has no form in that format: try the next one
                    refusals.append(f"{target_name}: {one_line(exc, with_type=False)}")
                    continue
                state["target"], state["target_format"] = target, target_name
                return f"wrote {target_name} in a temporary directory"
            raise FormatCannotHold("no other installed format can hold this model (" + "; ".join(refusals) + ")")

        def reload():
            found = detect_format(state["target"], manager)[0]
            if found != state["target_format"]:
                raise AssertionError(f"the converted checkpoint is detected as {found}, not {state['target_format']}")
            state["converted"] = load_bundle(state["target"], manager, format=found)[1]
            return f"detected as {found} and loaded"

        def outputs():
            other, _, _ = model_from_bundle(state["converted"], manager=manager)
            x, labels, sigma = random_inputs(state["bundle"].config, state["noise"])
            with torch.no_grad():
                first = state["model"].eval()(x, labels, sigma)
                second = other.eval()(x, labels, sigma)
            worst = (first - second).abs().max().item()
            if not worst <= tolerance:
                raise AssertionError(f"max |difference| {worst:.3g} > {tolerance:g}")
            return f"max |difference| {worst:.3g} <= {tolerance:g} on {x.shape[0]} random sequences (EMA weights)"

        steps: dict[str, Callable[[], str]] = {
            "detect": detect, "load": load, "model": build, "convert": convert, "reload": reload,
            "round trip": lambda: compare_bundles(state["bundle"], state["converted"]), "outputs": outputs}
        for title in CHECKS:
            try:
                results.append(Check(PASS, title, steps[title]()))
            except FormatCannotHold as exc:  # not the checkpoint's fault: the checks needing a conversion do not apply
                results.append(Check(NOT_APPLICABLE, title, one_line(exc, with_type=False)))
                results += [Check(NOT_APPLICABLE, rest, "nothing converted")
                            for rest in CHECKS[CHECKS.index(title) + 1:]]
                break
            except Exception as exc:  # every failure is reported as a line, not a traceback
                results.append(Check(FAIL, title, one_line(exc, with_type=False)))
                break
    return results
