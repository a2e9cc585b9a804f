#!/usr/bin/env python
"""The original D3 repository's training entry point, kept for its users: exactly ``d3 train`` (same flags).

    python scripts/train_lightning.py --dataset deepstarr --arch Tran --gpus 2 --max_steps 100000
    python scripts/train_lightning.py --dataset deepstarr --arch Tran --resume_from exp_local/deepstarr/Tran

See ``python scripts/train_lightning.py --help`` and docs/migrating.md (flags of the original script that changed).
"""
import sys

from d3core.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
