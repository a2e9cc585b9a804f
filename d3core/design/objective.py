"""Design objectives: a small, safe arithmetic language over an oracle's label names.

``--objective`` takes an expression such as ``dev``, ``dev - hk``, ``-(dev - 4)^2`` or ``min(dev, 5) - 0.5*hk``.
It is parsed with Python's :mod:`ast` and only these nodes are accepted (nothing is ever evaluated by Python):

- names: the oracle's label names (``dev``, ``hk``; case-sensitive);
- numbers: ``4``, ``0.5``, ``1e-3``;
- ``+ - * /``, power ``^`` (or ``**``), unary ``-`` and ``+``, parentheses;
- the functions ``min(a, b, ...)``, ``max(a, b, ...)`` (element-wise) and ``abs(a)``.

``^`` means power, with the precedence of power (``-(dev - 4)^2`` is ``-((dev - 4)^2)``). An objective is evaluated
on predictions ``[N, C]`` (numpy or torch, columns in the oracle's label order) and gives ``[N]`` values, higher
better.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from d3core.errors import D3UserError

FUNCTIONS = ("min", "max", "abs")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}


def _minimum(values):
    import torch

    out = values[0]
    for value in values[1:]:
        out = torch.minimum(out, value) if torch.is_tensor(out) else np.minimum(out, value)
    return out


def _maximum(values):
    import torch

    out = values[0]
    for value in values[1:]:
        out = torch.maximum(out, value) if torch.is_tensor(out) else np.maximum(out, value)
    return out


@dataclass(frozen=True)
class Objective:
    """A parsed objective: ``text`` as given, the label ``names`` it uses, and ``__call__(predictions [N, C]) -> [N]``.
    """

    text: str
    label_names: tuple[str, ...]
    names: tuple[str, ...]
    _evaluate: Callable
    what: str = "--objective"

    def __call__(self, predictions, *, first: int = 0, unit: str = "row"):
        """Objective values ``[N]`` of predictions ``[N, C]`` (numpy -> float64 numpy, torch -> torch).

        A value that is not finite (a division by zero, an overflow) is a :class:`D3UserError` naming this objective,
        the row as ``<unit> <first + i>`` and the predictions of that row.
        """
        import torch

        if torch.is_tensor(predictions):
            columns = {name: predictions[:, i].double() for i, name in enumerate(self.label_names)}
            value = self._evaluate(columns)
            value = value if torch.is_tensor(value) else torch.full((predictions.shape[0],), float(value),
                                                                     dtype=torch.float64, device=predictions.device)
            finite = torch.isfinite(value).cpu().numpy()
        else:
            predictions = np.asarray(predictions, dtype=np.float64)
            columns = {name: predictions[:, i] for i, name in enumerate(self.label_names)}
            with np.errstate(all="ignore"):
                value = np.broadcast_to(np.asarray(self._evaluate(columns), dtype=np.float64),
                                        (predictions.shape[0],)).copy()
            finite = np.isfinite(value)
        if not finite.all():
            row = int(np.argmin(finite))
            shown = ", ".join(f"{name}={float(predictions[row, i]):.4g}" for i, name in enumerate(self.label_names))
            raise D3UserError(f"{self.what} {self.text!r} is {float(value[row])} for {unit} {first + row} (the oracle "
                              f"predicts {shown}); write an objective that stays finite (no division by a prediction "
                              "that can be 0, no powers that overflow), e.g. 'dev - hk'")
        return value

    def __str__(self) -> str:
        return self.text


def parse_objective(text: str, label_names: Sequence[str], *, what: str = "--objective") -> Objective:
    """Parse ``text`` over ``label_names`` (the oracle's outputs); a one-line :class:`D3UserError` for anything else.
    """
    label_names = tuple(str(n) for n in label_names)
    source = str(text).strip()
    if not source:
        raise D3UserError(f"{what}: empty; give an expression over {', '.join(label_names)}, e.g. "
                          f"{what} {label_names[0] if label_names else 'dev'}")
    try:
        tree = ast.parse(source.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise D3UserError(f"{what} {source!r}: not an expression ({exc.msg} at column {exc.offset}); use label names, "
                          "numbers, + - * / ^, parentheses and min/max/abs") from exc
    used: list[str] = []
    evaluate = _compile(tree.body, label_names, used, source, what)
    return Objective(source, label_names, tuple(dict.fromkeys(used)), evaluate, what)


def _compile(node: ast.AST, label_names: tuple[str, ...], used: list[str], source: str, what: str) -> Callable:
    """A closure ``columns -> value`` for one node; raises for every node outside the language."""

    def sub(child):
        return _compile(child, label_names, used, source, what)

    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _folded(lambda columns: float(node.value), node, source, what)
    if isinstance(node, ast.Name):
        if node.id not in label_names:
            hint = f" (a function: call it, {node.id}(...))" if node.id in FUNCTIONS else ""
            raise D3UserError(f"{what} {source!r}: unknown name {node.id!r}{hint}; the oracle predicts "
                              f"{', '.join(label_names)}")
        used.append(node.id)
        name = node.id
        return lambda columns: columns[name]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = sub(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda columns: -operand(columns)
        return operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = sub(node.left), sub(node.right)
        if not any(isinstance(n, ast.Name) for n in ast.walk(node)):
            return _folded(_binary(type(node.op), left, right), node, source, what)
        return _binary(type(node.op), left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise D3UserError(f"{what} {source!r}: {name}() takes plain arguments only")
        if name == "abs" and len(node.args) != 1 or name != "abs" and len(node.args) < 2:
            need = "one argument" if name == "abs" else "two or more arguments"
            raise D3UserError(f"{what} {source!r}: {name}() takes {need}, got {len(node.args)}")
        args = [sub(a) for a in node.args]
        if name == "abs":
            return lambda columns: abs(args[0](columns))
        combine = _minimum if name == "min" else _maximum
        return lambda columns: combine([_array(a(columns), columns) for a in args])
    segment = ast.get_source_segment(source.replace("^", "**"), node) or type(node).__name__
    raise D3UserError(f"{what} {source!r}: {segment!r} is not allowed; use label names ({', '.join(label_names)}), "
                      "numbers, + - * / ^, parentheses and min/max/abs")


def _binary(op: type, left: Callable, right: Callable) -> Callable:
    """The closure of ``left <op> right``."""
    if op is ast.Add:
        return lambda columns: left(columns) + right(columns)
    if op is ast.Sub:
        return lambda columns: left(columns) - right(columns)
    if op is ast.Mult:
        return lambda columns: left(columns) * right(columns)
    if op is ast.Div:
        return lambda columns: left(columns) / right(columns)
    return lambda columns: left(columns) ** right(columns)


def _folded(evaluate: Callable, node: ast.AST, source: str, what: str) -> Callable:
    """A part without label names (``2^10``, ``1/3``), computed once here: one that divides by zero, overflows or
    is not a finite real number is refused before anything runs."""
    segment = ast.get_source_segment(source.replace("^", "**"), node) or source
    try:
        value = evaluate({})
    except (ZeroDivisionError, OverflowError) as exc:
        value = exc
    if not isinstance(value, float) or not math.isfinite(value):
        why = "divides by zero" if isinstance(value, ZeroDivisionError) else "is not a finite real number"
        raise D3UserError(f"{what} {source!r}: {segment.replace('**', '^')!r} {why}; use numbers whose arithmetic "
                          "stays finite")
    return lambda columns: value


def _array(value, columns):
    """A number broadcast to the shape of the columns (for min/max of a number and a column)."""
    if isinstance(value, float):
        first = next(iter(columns.values()))
        import torch

        if torch.is_tensor(first):
            return torch.full_like(first, value)
        return np.full_like(first, value)
    return value


def specificity_objective(cell: str, label_names: Sequence[str]) -> str:
    """``--specific-to CELL``: the MinGap objective ``CELL - max(other labels)`` (activity in the target cell type
    minus the largest off-target activity), as text of the objective language."""
    names = list(label_names)
    if cell not in names:
        raise D3UserError(f"--specific-to {cell}: the oracle predicts {', '.join(names)}; name one of them")
    others = [n for n in names if n != cell]
    if not others:
        raise D3UserError(f"--specific-to {cell}: the oracle predicts only {cell}; specificity needs the other cell "
                          "types' activities too (an oracle of several labels)")
    return f"{cell} - {others[0]}" if len(others) == 1 else f"{cell} - max({', '.join(others)})"
