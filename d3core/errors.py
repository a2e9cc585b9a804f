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
