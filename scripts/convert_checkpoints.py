#!/usr/bin/env python
"""The original D3 repository's checkpoint converter, kept for its users: ``d3 convert PATH [--recursive] ...``.

    python scripts/convert_checkpoints.py exp_local/deepstarr/Tran                 # -> Lightning .ckpt beside it
    python scripts/convert_checkpoints.py model_zoo/ --recursive --out converted/  # a whole tree
    python scripts/convert_checkpoints.py runs/x/checkpoints/last.ckpt --to legacy --out for-original-code/

Every option of ``d3 convert`` is accepted (``--to``, ``--out``, ``--dry_run``, ``--force``, ``--arch``,
``--legacy_config``); see docs/migrating.md.
"""
import sys

from d3core.cli import main

if __name__ == "__main__":
    main(["convert", *sys.argv[1:]])
