"""Checkpoint-format plugin for d3: original D3 .pth run directories.

This module holds only light hook implementations (no torch import at module level)."""
