"""The ``d3`` command line: a click app built by :func:`d3core.cli.app.make_cli`.

``main()`` is the console-script entry point: errors the user can fix (:class:`d3core.errors.D3UserError`) are
printed as ``Error: ...`` with exit code 2 and no traceback, unless ``--traceback`` is given or ``D3_DEBUG=1``.
"""
from d3core.cli.app import main, make_cli

__all__ = ["main", "make_cli"]
