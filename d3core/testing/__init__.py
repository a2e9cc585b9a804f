"""Helpers for d3's own tests and for plugin authors' tests.

Nothing here is imported at ``import d3core.testing`` time (it stays light: pytest loads the fixtures of
:mod:`d3core.testing.pytest_plugin` in every session through the ``pytest11`` entry point, and that must not import
torch).

- :mod:`d3core.testing.pytest_plugin`: the pytest fixtures, active whenever d3core is installed::

      d3_plugin_manager   a fresh plugin manager (built-ins + the tiny test components, no entry points, strict),
                          installed as the process-wide one for the test
      d3_register         d3_register(plugin, name): register an in-process plugin for this test only
      d3_tiny_h5          d3_tiny_h5(n=64, length=32, label_names=("activity",)): a tiny synthetic HDF5 file
      d3_tiny_batch       d3_tiny_batch(batch=4, length=32, num_labels=1): (tokens, labels, sigma) for a forward pass
      d3_train_smoke      d3_train_smoke(dataset="tiny-dna", arch="tiny-arch"): one optimizer step, on the CPU
      d3_run_cli          d3_run_cli("plugins", "list"): the d3 command line in-process, on d3_plugin_manager

- :mod:`d3core.testing.helpers`: the same as plain functions (no pytest needed): :func:`~.helpers.fresh_manager`,
  :func:`~.helpers.registered`, :func:`~.helpers.write_tiny_h5`, :func:`~.helpers.tiny_batch`,
  :func:`~.helpers.train_smoke`.
- :mod:`d3core.testing.components`: the tiny test components ``tiny-dna`` (a 32 bp dataset with one label) and
  ``tiny-arch`` (a small convolutional score network), registered by :mod:`d3core.testing.plugin`.

Original-format D3 runs for tests are built by the plugin that knows that format: ``d3_ckpt_legacy.testing``.
"""
