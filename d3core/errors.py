"""Error types shared by the core and the plugins.

`D3UserError` is an error the user can fix: the CLI prints its message (one line, or a few) and exits with code 2,
without a traceback unless ``--traceback`` or ``D3_DEBUG=1``. The message names the file, key or value that was wrong
and says what to do, e.g.::

    raise D3UserError(f"{path}: key 'X_train' has shape (10, 4, 200); the deepstarr layout needs [N, 4, 249]. "
                      "Import the data with 'd3 data import deepstarr ...'.")
"""


class D3UserError(Exception):
    """A problem with the user's input (a file, a flag, a config value) rather than a bug; CLI exit code 2."""

    exit_code = 2


class PluginError(D3UserError):
    """A plugin could not be loaded, or a registry name cannot be resolved (unknown, ambiguous, failed provider)."""


class FormatCannotHold(D3UserError):
    """A checkpoint format cannot represent this model (e.g. the original D3 code's convolutional network is
    hard-wired to one size): nothing is wrong with the checkpoint; saving it in that format does not apply.

    A format's ``save`` raises it, before writing anything, for a model its layout has no place for; ``d3 checkpoint
    verify`` reports the conversion as not applicable (``N/A``) instead of failed; ``d3 convert`` exits 2 with it."""


def one_line(exc: BaseException, *, with_type: bool = True) -> str:
    """``exc`` as one line for a message: its text with every run of whitespace (newlines included) collapsed to one
    space, after its type name (``ValueError: bad value``) when ``with_type``; the bare type name when it has no text."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if with_type else text
