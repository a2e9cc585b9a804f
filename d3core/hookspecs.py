"""The plugin contract of d3: every hook a plugin may implement (specs only).

A plugin is a module (usually the top-level module of a distribution, found through the entry-point group ``d3``)
holding functions decorated with :data:`d3core.api.hookimpl` whose names are the hook names below. Only the arguments a
hook implementation names are passed to it, so ``def register_datasets(register)`` is a complete implementation.

Keep plugin modules light: no torch import at module level. Registration stores *lazy factories* (``"module:attr"``)
that are imported only when the component is used, so ``d3 --help`` and ``d3 plugins list`` stay fast.

The seven ``register_*`` hooks all receive one callback::

    register(name, factory, *, aliases=(), description=None, replace=False, **metadata)

- ``name``: the name users type (``--dataset deepstarr``); matched case-insensitively, ``-`` equal to ``_``.
- ``factory``: ``"module:attr"`` (preferred: imported on first use) or the object itself.
- ``aliases``: other names for the same component.
- ``description``: one line for ``d3 plugins list``.
- ``replace``: set to ``True`` to knowingly replace a built-in of the same name (an external plugin clashing with
  another external plugin is an error when the name is used, whatever ``replace`` says).
- ``metadata``: plain JSON-able facts shown by ``d3 plugins list``/``show`` without importing the factory
  (sequence length, label names, presets, ...).

Hooks are called through pluggy, once per process: ``@hookimpl(tryfirst=True)`` / ``trylast=True`` order an
implementation before / after the others (which run latest-registered first: the built-ins before installed plugins),
and ``@hookimpl(wrapper=True)`` wraps the others (``results = yield``). Registry entries keep the call order, so a
``tryfirst`` checkpoint format is detected first. A plugin whose hook raises is skipped with a one-line warning (an
error under ``D3_STRICT_PLUGINS=1``), the other implementations still run, and nothing it registered is kept.
"""
import pluggy

from d3core import PROJECT_NAME

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: the marker of hook implementations; plugins import it as ``from d3core.api import hookimpl``
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_datasets(register):
    """Register dataset components (``--dataset NAME``).

    Called once, when the first registry is needed (start-up of a command that resolves a dataset, or
    ``d3 plugins list``). The factory resolves to a dataset class following :class:`d3core.data.SequenceDataset`:
    name, sequence length, label names and mode, ``default_path()``, ``open_split(path, split)``, ``validate(path)``,
    ``fetch()``, ``synthesize()``. Useful metadata: ``length``, ``label_names``, ``label_mode``.

    Example::

        @hookimpl
        def register_datasets(register):
            register("deepstarr", "d3_deepstarr.dataset:DeepSTARR", description="Drosophila S2 enhancers",
                     length=249, label_names=["dev", "hk"], label_mode="global")
    """


@hookspec
def register_architectures(register):
    """Register score-network architectures (``--arch NAME``).

    Called once, like :func:`register_datasets`. The factory resolves to an architecture following
    :class:`d3core.architecture.Architecture`: ``presets`` (e.g. ``tiny``, ``paper``), ``label_modes`` and
    ``build(model_config) -> torch.nn.Module`` whose forward is
    ``model(tokens[B, L] long, labels[B, C] | [B, L, C] | None, sigma[B]) -> log_scores[B, L, V]``.
    Useful metadata: ``presets``, ``label_modes``.

    Example::

        @hookimpl
        def register_architectures(register):
            register("Tran", "d3_arch_tran.model:TranArchitecture", aliases=("transformer",),
                     description="DDiT transformer", presets=["tiny", "paper"])
    """


@hookspec
def register_checkpoint_formats(register):
    """Register checkpoint formats (``--resume_from``, ``d3 sample``, ``d3 convert --to NAME``).

    Called once, like :func:`register_datasets`. The factory resolves to a format with ``detect(path) -> bool``
    (by content: a file or a run directory), ``load(path) -> CheckpointBundle`` and ``save(bundle, path)``
    (raising ``FormatCannotHold`` for a model the format has no form for). Optional: ``run_name(path)`` (``d3
    convert``'s naming), ``describe(bundle)`` (``d3 checkpoint info``'s facts) and ``config_from_file(path, arch=None)
    -> dict | None``: the d3 settings (a nested mapping of d3 keys) of a YAML file that is this format's own run
    config, None for any other file, so ``d3 train --config_path`` accepts it.

    Example::

        @hookimpl
        def register_checkpoint_formats(register):
            register("legacy", "d3_ckpt_legacy.format:LegacyRunFormat", description="original D3 .pth runs")
    """


@hookspec
def register_loggers(register):
    """Register experiment loggers (``--logger NAME``, repeatable).

    Called once, like :func:`register_datasets`. The factory is called as ``factory(run_dir, config)`` (``run_dir``
    a :class:`pathlib.Path`, ``config`` the resolved run configuration) and returns a Lightning logger. Set the
    metadata ``requires="package"`` so ``d3 plugins list`` shows ``available: false`` when it is not installed.

    Example::

        @hookimpl
        def register_loggers(register):
            register("neptune", "d3_neptune:make_logger", description="Neptune.ai", requires="neptune")
    """


@hookspec
def register_callbacks(register):
    """Register Lightning callbacks (``--callback NAME``, repeatable).

    Called once, like :func:`register_datasets`. The factory is called as ``factory(config)`` with the resolved run
    configuration and returns a ``pytorch_lightning.Callback``.

    Example::

        @hookimpl
        def register_callbacks(register):
            register("grad_norm", "my_pkg.callbacks:make_grad_norm_logger", description="log gradient norms")
    """


@hookspec
def register_oracles(register):
    """Register oracles: activity predictors that guide and judge designs (``d3 design --oracle NAME``, ``--judge``).

    Called once, like :func:`register_datasets`. The factory is called as ``factory(device)`` (``"cpu"``,
    ``"cuda:0"``) and returns an oracle: an object with ``label_names`` (the C outputs' names), ``length`` (the
    sequence length it scores) and ``predict(x) -> [N, C]`` (numpy or torch) for one-hot ``x`` float ``[N, 4, L]``
    (d3 passes soft one-hots too: the posterior mean of a partly denoised sequence); optional ``forward(x)``,
    differentiable. A :class:`d3core.api.Oracle` (e.g. from :func:`d3core.api.load_oracle`) fits. Useful metadata:
    ``label_names``, ``length``, ``differentiable``. Oracle files (``d3 oracle train``, the original D3 oracles) need
    no registration: ``--oracle FILE``. Nor does a dataset's oracle: a dataset that declares its network (class
    attribute ``oracle = "module:Class"``) has its trained oracle registered under its own name by d3; this hook is
    for oracles no dataset declares (one registered here under a dataset's name comes first).

    Example::

        @hookimpl
        def register_oracles(register):
            register("my-cnn", "my_pkg.oracle:load_my_cnn", description="our lab's enhancer CNN",
                     label_names=["dev", "hk"], length=249)
    """


@hookspec
def register_models(register):
    """Register published files -- trained models, oracles, data -- that ``d3 models fetch NAME`` downloads and that
    every command taking a checkpoint, oracle or data path also takes by name (fetched into the cache when missing).

    Called once, like :func:`register_datasets`. The factory is the file's download URL (never imported); the last
    part of its path is the file name in the cache. Metadata: ``kind`` (``"model"``, ``"oracle"`` or ``"data"``,
    required), ``size`` (bytes, shown before a download), ``sha256`` (pinned; without it the first download's hash is
    recorded and checked afterwards), ``arch``, ``dataset``, ``record`` (where the file is published).

    Example::

        @hookimpl
        def register_models(register):
            register("lab-tran", "https://example.org/files/Lab_Tran.ckpt", kind="model", arch="Tran",
                     dataset="deepstarr", size=123_456_789, description="our lab's DeepSTARR model")
    """


@hookspec
def register_commands(cli):
    """Add sub-commands to the ``d3`` command line.

    Called once while the click app is built (every ``d3`` invocation, so keep it light: define commands, import
    heavy libraries inside them). ``cli`` is the top-level :class:`click.Group`.

    Example::

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                "Say hello."
                click.echo("hello from my plugin")
    """


@hookspec
def configure_trainer(trainer_kwargs, config):
    """Adjust the keyword arguments of the Lightning ``Trainer`` before it is built.

    Called by ``d3 train`` once per run, on every rank, after d3 has filled ``trainer_kwargs`` (a dict:
    ``max_steps``, ``precision``, ``callbacks``, ``logger``, ``plugins``, ...) from the resolved ``config``. Edit the
    dict in place; the return value is ignored.

    Example::

        @hookimpl
        def configure_trainer(trainer_kwargs, config):
            trainer_kwargs["detect_anomaly"] = True
    """
