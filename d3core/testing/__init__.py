"""Helpers for d3's own tests and for plugin authors' tests (builders of fixture files; no pytest dependency here).

- :mod:`d3core.testing.legacy_runs`: rebuild an original-format D3 run directory (``hydra/config.yaml`` +
  ``checkpoints/checkpoint.pth``) from a ``MANIFEST.json`` recipe.
"""
