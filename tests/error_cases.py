"""The bad-input catalogue: what a user can get wrong, and the one line d3 answers with.

Each :class:`Case` is a ``d3`` command run by the installed console script in a workspace of real files
(:func:`build_workspace`). ``tests/test_error_catalogue.py`` checks every case (exit code 2, one ``Error:`` line holding
``says``, no traceback, nothing in the workspace modified); ``scripts/gen_errors_doc.py`` writes ``docs/errors.md``
from the same cases and their real messages.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from installed_d3 import D3_SCRIPT, user_env

#: the areas, in the order docs/errors.md lists them
AREAS = ("command line", "configuration", "data files", "checkpoints", "plugins")
#: a file that exists only if a malicious checkpoint or YAML file ran its code
MARKER = "PWNED"
RUN = "run/checkpoints/last.ckpt"  # a Conv tiny DeepSTARR checkpoint (2 steps)
#: an oracle checkpoint written by the original D3 code (PL_DeepSTARR)
ORIGINAL_ORACLE = Path(__file__).parent / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"
#: the recipe of a tiny original D3 run (tests/fixtures/README)
LEGACY_FIXTURE = Path(__file__).parent / "fixtures" / "legacy_runs" / "deepstarr_tran_tiny"
TRAIN = ("train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", "ds.h5",
         "--max_steps", "2", "--accelerator", "cpu")


@dataclass(frozen=True)
class Case:
    """One bad input: ``d3 *args`` must exit 2 with one ``Error:`` line containing every fragment of ``says``."""

    id: str
    area: str
    what: str  # what the user did, for docs/errors.md
    args: tuple[str, ...]
    says: tuple[str, ...]
    plugins: str | None = None  # D3_LOAD_PLUGINS value; not None: the fixture plugins are on PYTHONPATH
    env: dict[str, str] = field(default_factory=dict)
    cpu_only: bool = False  # the input is only wrong without a GPU: run with CUDA_VISIBLE_DEVICES=""


CASES: tuple[Case, ...] = (
    # -- command line --------------------------------------------------------------------------------------------------
    Case("unknown-command", "command line", "misspelled a command", ("trian",),
         ("No such command 'trian'", "Did you mean 'train'?", "See 'd3 --help'")),
    Case("unknown-option", "command line", "misspelled an option", ("train", "--datset", "deepstarr"),
         ("No such option '--datset'", "'--dataset'", "See 'd3 train --help'")),
    Case("unknown-global-option", "command line", "gave d3 itself an option it does not have", ("--verbose", "train"),
         ("No such option '--verbose'", "See 'd3 --help'")),
    Case("option-wrong-type", "command line", "gave text where a number is expected",
         (*TRAIN, "--batch_size", "abc"), ("'abc' is not a valid integer", "See 'd3 train --help'")),
    Case("option-out-of-range", "command line", "asked for zero sampling steps",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--steps", "0"),
         ("'--steps': 0 is not in the range x>=1",)),
    Case("unknown-dataset", "command line", "misspelled the dataset",
         ("train", "--dataset", "deepstar", "--arch", "Tran"),
         ("unknown dataset 'deepstar'", "did you mean 'deepstarr'?", "d3 plugins list --kind datasets")),
    Case("unknown-architecture", "command line", "misspelled the architecture",
         ("train", "--dataset", "deepstarr", "--arch", "Trann"),
         ("unknown architecture 'Trann'", "did you mean 'Tran'?", "Available: Conv, d3dna-Conv, d3dna-Tran, Tran")),
    Case("unknown-preset", "command line", "asked for a preset the architecture lacks",
         ("train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "huge", "--data", "ds.h5"),
         ("unknown preset 'huge'", "tiny, paper")),
    Case("unknown-logger", "command line", "misspelled a logger", (*TRAIN, "--logger", "tensorbord"),
         ("unknown logger 'tensorbord'", "did you mean 'tensorboard'?")),
    Case("callback-not-importable", "command line", "named a callback class that cannot be imported",
         (*TRAIN, "--callback", "mylab.callbacks:Probe"),
         ("--callback mylab.callbacks:Probe: cannot import", "registered callback name or an importable module:Class")),
    Case("no-gpu", "command line", "asked for GPUs on a machine without one",
         ("train", "--dataset", "deepstarr", "--arch", "Tran", "--preset", "tiny", "--data", "ds.h5", "--gpus", "2"),
         ("no CUDA GPU is visible", "--accelerator cpu"), cpu_only=True),
    Case("unknown-strategy", "command line", "misspelled the distributed strategy", (*TRAIN, "--strategy", "dpp"),
         ("lightning.strategy='dpp' is not a Lightning strategy", "did you mean 'ddp'?")),
    Case("unknown-precision", "command line", "gave an unknown training precision", (*TRAIN, "--precision", "fp8"),
         ("lightning.precision='fp8' is not one of", "bf16-mixed")),
    Case("zero-devices", "command line", "asked for zero devices", (*TRAIN, "--devices", "0"),
         ("lightning.devices=0 must be auto, a number of devices",)),
    Case("trainer-refused", "command line", "chose a strategy Lightning refuses on this accelerator",
         (*TRAIN, "--strategy", "fsdp", "--logger", "mlflow", "--work_dir", "new-run"),
         ("Lightning refused the trainer settings", "strategy='fsdp'", "requires a GPU accelerator",
          "fix the lightning.* keys")),
    Case("batch-not-divisible", "command line", "chose a global batch the devices cannot share",
         (*TRAIN, "--devices", "3", "--batch_size", "16"),
         ("training.batch_size=16 is the global batch and must divide by devices x nodes x accum = 3 x 1",
          "training.batch_size=15")),
    Case("run-directory-exists", "command line", "started a new run in an existing run directory",
         (*TRAIN, "--work_dir", "run"), ("run directory run already exists", "--resume_from last")),
    Case("resume-last-without-run", "command line", "resumed 'last' without saying which run",
         ("train", "--resume_from", "last"), ("--resume_from last needs --work_dir",)),
    Case("legacy-config-without-resume", "command line",
         "gave an original run's config without resuming its checkpoint",
         (*TRAIN, "--legacy_config", "original.yaml"),
         ("--legacy_config original.yaml only applies with --resume_from", "pass it as --config_path")),
    Case("callback-fails-to-start", "command line", "named a callback class that cannot be built without arguments",
         (*TRAIN, "--callback", "pytorch_lightning.callbacks:EarlyStopping", "--work_dir", "new-run"),
         ("callback pytorch_lightning.callbacks:EarlyStopping failed to start: TypeError",
          "it is built without arguments", "--traceback shows where")),
    Case("callback-twice", "command line", "gave one stateful callback twice, under two names",
         (*TRAIN, "--callback", "pytorch_lightning.callbacks:Timer", "--callback",
          "pytorch_lightning.callbacks.timer:Timer", "--work_dir", "new-run"),
         ("are two Timers with the same checkpoint state", "keep one of them")),
    Case("sample-unknown-format", "command line", "asked for an unknown sample file type",
         ("sample", RUN, "-o", "designed.txt", "--labels", "1,1"),
         ("designed.txt: unknown sample file type '.txt'", ".fasta")),
    Case("sample-output-exists", "command line", "would overwrite earlier samples",
         ("sample", RUN, "-o", "samples.fasta", "--labels", "1,1"), ("samples.fasta: already exists", "--force")),
    Case("sample-unknown-label", "command line", "named a label the model does not have",
         ("sample", RUN, "-o", "new.fasta", "--labels", "dev=1,foo=2"),
         ("unknown label 'foo'", "this model's labels are dev, hk")),
    Case("sample-no-labels", "command line", "sampled a conditional model without labels",
         ("sample", RUN, "-o", "new.fasta"), ("the model is conditioned on dev, hk", "--labels dev=1.0,hk=1.0")),
    Case("sample-bad-precision", "command line", "gave an unknown sampling precision",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--precision", "fp8"),
         ("--precision 'fp8': use one of",)),
    Case("sample-template-letters", "command line", "gave a template with a letter other than ACGTN",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--template", "ACGTX"),
         ("--template: letter 'X' at position 5 is not one of A, C, G, T or N",)),
    Case("sample-template-length", "command line", "gave a template shorter than the sequences",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--template", "ACGTNNNN"),
         ("--template: 8 bp, but the model makes 249 bp sequences",)),
    Case("sample-fix-past-end", "command line", "fixed a segment that runs past the sequence end",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--fix", "247:ACGTA"),
         ("--fix '247:ACGTA': positions 247..251 run past the end of the 249 bp sequence",)),
    Case("sample-bad-shard", "command line", "asked for a shard beyond the shard count",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--shard", "3/2"),
         ("--shard '3/2': K must be between 1 and N",)),
    Case("merge-not-d3-samples", "command line", "merged files that d3 sample did not write",
         ("merge", "samples.fasta", "-o", "all.fasta"), ("samples.fasta: its sequences carry no d3 index",)),
    Case("fetch-bad-hash", "command line", "pinned a malformed SHA-256",
         ("data", "fetch", "deepstarr", "--sha256", "xyz"), ("--sha256 'xyz': expected 64 hexadecimal digits",)),
    # -- configuration -------------------------------------------------------------------------------------------------
    Case("override-unknown-key", "configuration", "misspelled a config key", (*TRAIN, "optim.lrr=1e-4"),
         ("unknown config key 'optim.lrr'", "did you mean 'optim.lr'?")),
    Case("override-unknown-nested-key", "configuration", "set a nested key that does not exist",
         (*TRAIN, "no.such.key=3"), ("override: unknown config key 'no.such.key'",)),
    Case("override-wrong-type", "configuration", "gave text for a number", (*TRAIN, "optim.lr=fast"),
         ("optim.lr='fast' must be a number",)),
    Case("override-out-of-range", "configuration", "gave a negative learning rate", (*TRAIN, "optim.lr=-1"),
         ("optim.lr=-1 must be a number > 0",)),
    Case("label-dropout-out-of-range", "configuration", "asked for label dropout of 1 (every label dropped)",
         (*TRAIN, "training.label_dropout=1"), ("training.label_dropout=1 must be in [0, 1)",)),
    Case("override-not-key-value", "configuration", "forgot the value of an override", (*TRAIN, "optim.lr"),
         ("override 'optim.lr' is not key=value", "optim.lr=1e-4")),
    Case("override-replaces-section", "configuration", "set a whole section to a value", (*TRAIN, "model=5"),
         ("model is a section", "set one of its keys")),
    Case("model-does-not-fit", "configuration", "chose sizes the architecture cannot build",
         (*TRAIN, "model.n_heads=3", "--dry_run"), ("do not fit architecture Tran", "hidden_size / n_heads")),
    Case("config-file-missing", "configuration", "pointed --config_path at a missing file",
         (*TRAIN, "--config_path", "missing.yaml"), ("--config_path missing.yaml: no such file",)),
    Case("config-file-invalid-yaml", "configuration", "wrote a config file that is not YAML",
         (*TRAIN, "--config_path", "broken.yaml"), ("--config_path broken.yaml: not valid YAML",)),
    Case("config-file-unsafe-yaml", "configuration", "loaded a config file with a Python object tag",
         (*TRAIN, "--config_path", "unsafe.yaml"),
         ("--config_path unsafe.yaml: not valid YAML", "could not determine a constructor")),
    Case("config-file-not-mapping", "configuration", "wrote a config file that is a list",
         (*TRAIN, "--config_path", "list.yaml"), ("the top level must be a mapping of keys",)),
    Case("config-file-unknown-key", "configuration", "misspelled a key inside a config file",
         (*TRAIN, "--config_path", "typo.yaml"), ("--config_path typo.yaml: unknown config key", "'optim.lr'")),
    Case("config-file-original-without-plugin", "configuration",
         "gave an original D3 config.yaml with the plugin that translates it disabled",
         (*TRAIN, "--config_path", "original.yaml"),
         ("--config_path original.yaml: unknown config key 'ngpus'", "not a d3 config",
          "no installed checkpoint format translates it", "pip install d3-ckpt-legacy"),
         env={"D3_DISABLE_PLUGINS": "d3-ckpt-legacy"}),
    Case("logger-bad-setting", "configuration", "gave W&B's offline switch a value it does not take",
         (*TRAIN, "--logger", "wandb", "wandb.offline=sometimes", "--work_dir", "new-run"),
         ("config wandb.offline='sometimes' must be true, false or null", "offline when this machine has no W&B")),
    # -- data files ----------------------------------------------------------------------------------------------------
    Case("data-missing", "data files", "pointed --data at a file that does not exist",
         ("train", "--dataset", "deepstarr", "--arch", "Tran", "--data", "missing.h5"),
         ("deepstarr data not found at missing.h5", "d3 data fetch deepstarr", "d3 data synth deepstarr")),
    Case("data-not-hdf5", "data files", "gave a text file as the dataset",
         ("train", "--dataset", "deepstarr", "--arch", "Tran", "--data", "notes.txt"),
         ("notes.txt: cannot be read as HDF5", "fetch, import or synthesize it again")),
    Case("data-other-dataset", "data files", "gave an MPRA file to a DeepSTARR run",
         ("train", "--dataset", "deepstarr", "--arch", "Tran", "--data", "mpra.h5"),
         ("do not follow the deepstarr layout", "is it another dataset's file? pass --dataset NAME")),
    Case("data-truncated", "data files", "checked a half-copied dataset file", ("data", "info", "truncated.h5"),
         ("truncated.h5: cannot be read as HDF5", "truncated")),
    Case("data-nan-label", "data files", "checked a file with a NaN activity", ("data", "info", "nan.h5"),
         ("'Y_train' row 3 column 0 ('dev') is nan", "drop or fix that row")),
    Case("data-is-directory", "data files", "gave a folder as the dataset file", ("data", "info", "run"),
         ("run: is a directory, not an HDF5 file",)),
    Case("import-wrong-length", "data files", "imported sequences of the wrong length",
         ("data", "import", "deepstarr", "--fasta", "short.fa", "--activity", "activity.tsv", "--out", "new.h5"),
         ("short.fa line 1: sequence has 10 bp, expected 249 bp", "--trim LEFT,RIGHT")),
    Case("import-missing-table", "data files", "imported a table that does not exist",
         ("data", "import", "mpra", "--table", "train=missing.tsv", "--out", "new.h5"),
         ("missing.tsv: file not found",)),
    Case("synth-output-exists", "data files", "would overwrite an existing dataset file",
         ("data", "synth", "deepstarr", "--n", "10", "--out", "ds.h5"), ("ds.h5: already exists", "--force")),
    Case("samples-bad-letters", "data files", "evaluated a FASTA file with letters other than ACGT",
         ("evaluate", "odd.fasta", "--dataset", "deepstarr", "--data", "ds.h5"),
         ("is not A, C, G or T", "fix the file (only A, C, G and T can be read here)")),
    Case("score-wrong-length", "data files", "scored a sequence of the wrong length",
         ("score", "short.fa", "--checkpoint", RUN),
         ("short.fa: record 's1' (line 1) is 10 bp; the model scores 249 bp sequences",)),
    Case("score-bad-letters", "data files", "scored a FASTA record with letters other than ACGT",
         ("score", "odd.fasta", "--checkpoint", RUN),
         ("odd.fasta: record 'b' (line 3): letter 'Q' at position 4 is not A, C, G or T",)),
    Case("score-no-labels", "data files", "scored sequences without labels under a conditional model",
         ("score", "samples.fasta", "--checkpoint", RUN),
         ("samples.fasta carries no labels and the model is conditioned on dev, hk", "--labels dev=1.0,hk=1.0",
          "--unconditional")),
    Case("design-unknown-label", "command line", "designed for an objective naming a label the oracle lacks",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev - foo", "--labels", "1,1", "-o", "new.fasta"),
         ("--objective 'dev - foo': unknown name 'foo'; the oracle predicts dev, hk",)),
    # specificity, ensembles, constructs and synthesis rules (issue 28)
    Case("design-objective-and-specific", "command line", "gave both an objective and a cell type to be specific to",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--specific-to", "dev", "--labels", "1,1",
          "-o", "new.fasta"), ("--objective EXPRESSION or --specific-to CELL (one of them)",)),
    Case("design-specific-unknown-cell", "command line", "asked for specificity to a cell type the oracle lacks",
         ("design", RUN, "--oracle", "oracle.ckpt", "--specific-to", "HepG2", "--labels", "1,1", "-o", "new.fasta"),
         ("--specific-to HepG2: the oracle predicts dev, hk; name one of them",)),
    Case("design-constructs-undeclared", "command line", "asked for constructs of a dataset without adapters",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--constructs", "--labels", "1,1", "-o",
          "new.fasta"), ("--constructs: dataset 'deepstarr' declares no construct adapters",)),
    Case("design-ensemble-other-labels", "command line", "made an ensemble of oracles of different labels",
         ("design", RUN, "--oracle", "oracle.ckpt", "--oracle", "mpra_oracle.ckpt", "--objective", "dev",
          "--labels", "1,1", "-o", "new.fasta"), ("an ensemble needs oracles of the same labels",)),
    Case("synthesis-bad-gc", "command line", "gave a GC window upside down",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--gc", "0.6:0.4", "--labels", "1,1",
          "-o", "new.fasta"), ("--gc '0.6:0.4': give MIN:MAX as fractions with 0 <= MIN <= MAX <= 1",)),
    Case("synthesis-rules-with-sample-shards", "command line", "sampled one shard under synthesis rules",
         ("sample", RUN, "--labels", "1,1", "--gc", "0.4:0.6", "--shard", "1/2", "-o", "new.fasta"),
         ("--shard 1/2 with synthesis rules", "use d3 design --method none")),
    Case("synthesis-unknown-site", "command line", "asked to avoid a site that is neither letters nor an enzyme",
         ("sample", RUN, "--labels", "1,1", "--avoid", "BsaJJ", "-o", "new.fasta"),
         ("--avoid 'BsaJJ': neither IUPAC letters", "restriction enzyme known to REBASE")),
    Case("design-objective-code", "command line", "put Python code into a design objective",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", f"__import__('os').system('touch {MARKER}')",
          "--labels", "1,1", "-o", "new.fasta"), ("is not allowed", "numbers, + - * / ^, parentheses and min/max/abs")),
    Case("design-missing-oracle", "command line", "designed with an oracle file that does not exist",
         ("design", RUN, "--oracle", "missing.oracle.ckpt", "--objective", "dev", "--labels", "1,1", "-o",
          "new.fasta"), ("--oracle missing.oracle.ckpt: no such oracle file and no registered oracle of that name",
                         "d3 oracle train")),
    Case("design-smc-temperature-zero", "command line", "asked SMC for temperature 0",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--method", "smc", "--temperature", "0",
          "--labels", "1,1", "-o", "new.fasta"), ("--temperature 0: must be >= 0 for svdd and > 0 for smc",)),
    Case("design-bad-leash", "command line", "gave the likelihood leash neither a number nor a percentile",
         ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--min-likelihood", "q5", "--labels", "1,1",
          "-o", "new.fasta"), ("--min-likelihood 'q5': give bits per base (e.g. 1.95) or pN",)),
    # -- checkpoints ---------------------------------------------------------------------------------------------------
    Case("checkpoint-missing", "checkpoints", "sampled from a checkpoint that does not exist",
         ("sample", "missing.ckpt", "-o", "new.fasta"), ("missing.ckpt: no such checkpoint file or run directory",)),
    Case("checkpoint-not-torch", "checkpoints", "gave random bytes as a checkpoint",
         ("sample", "garbage.ckpt", "-o", "new.fasta"), ("garbage.ckpt: not a readable torch checkpoint",)),
    Case("checkpoint-truncated", "checkpoints", "used a half-copied checkpoint",
         ("checkpoint", "info", "truncated.ckpt"), ("truncated.ckpt: not a readable torch checkpoint",
                                                      "truncated or corrupt")),
    Case("checkpoint-runs-code", "checkpoints", "sampled from a checkpoint built to run code when unpickled",
         ("sample", "malicious.pth", "-o", "new.fasta"),
         ("refused: malicious.pth holds a non-allow-listed object", "weights_only=True")),
    Case("resume-lone-pth-without-config", "checkpoints", "resumed an original .pth kept apart from its run's config",
         ("train", "--resume_from", "lone/checkpoint.pth", "--data", "ds.h5", "--work_dir", "new-run"),
         ("lone/checkpoint.pth: an original D3 checkpoint without its run config",
          "pass the run's config with --legacy_config")),
    Case("resume-legacy-config-missing", "checkpoints", "pointed --legacy_config at a file that does not exist",
         ("train", "--resume_from", "lone/checkpoint.pth", "--legacy_config", "missing.yaml", "--data", "ds.h5",
          "--work_dir", "new-run"), ("--legacy_config missing.yaml: no such file",)),
    Case("resume-runs-code", "checkpoints", "resumed from a checkpoint built to run code",
         ("train", "--resume_from", "malicious.pth", "--work_dir", "new-run"),
         ("refused: malicious.pth holds a non-allow-listed object",)),
    Case("checkpoint-config-invalid", "checkpoints", "sampled from a checkpoint whose config was edited by hand",
         ("sample", "edited.ckpt", "-o", "new.fasta", "--labels", "1,1"),
         ("checkpoint edited.ckpt: its run config is invalid", "noise.type='cosine' is not one of: geometric, "
                                                                 "loglinear")),
    Case("original-unknown-noise", "checkpoints", "converted an original run trained with a noise schedule d3 lacks",
         ("convert", "odd-original", "--out", "converted"),
         ("odd-original/hydra/config.yaml", "noise.type='cosine' of the original config is not one d3 knows")),
    Case("checkpoint-not-an-oracle", "checkpoints", "gave a diffusion checkpoint where an oracle is expected",
         ("oracle", "info", RUN), ("fits no installed oracle network", "d3 oracle train")),
    Case("oracle-damaged", "checkpoints", "gave an original D3 oracle checkpoint with a tensor missing",
         ("oracle", "info", "damaged_oracle.ckpt"), ("tensor 'model.fc6.weight' is missing",)),
    Case("oracle-wrong-length", "checkpoints", "scored 10 bp sequences with the 249 bp DeepSTARR oracle",
         ("oracle", "predict", "oracle.ckpt", "short.fa", "-o", "p.tsv"), ("scores 249 bp sequences",)),
    Case("evaluate-unknown-oracle", "command line", "evaluated with an oracle name nothing registers or publishes",
         ("evaluate", "samples.fasta", "--dataset", "deepstarr", "--data", "ds.h5", "--oracle", "nosuch"),
         ("--oracle nosuch: no such oracle file and no registered oracle of that name", "registered: deepstarr",
          "published: ")),
    Case("oracle-dataset-untrained", "checkpoints", "named a dataset's oracle before 'd3 oracle train' trained it",
         ("oracle", "info", "deepstarr"), ("oracle 'deepstarr': no trained oracle at",
                                          "train it with 'd3 oracle train --dataset deepstarr'")),
    Case("resume-other-architecture", "checkpoints", "resumed a Conv run as Tran",
         ("train", "--resume_from", "last", "--work_dir", "run", "--arch", "Tran"),
         ("arch='Tran' conflicts with the checkpoint being resumed ('Conv')", "drop the flag")),
    Case("resume-other-dataset", "checkpoints", "resumed a DeepSTARR run on MPRA",
         ("train", "--resume_from", "last", "--work_dir", "run", "--dataset", "mpra"),
         ("dataset='mpra' conflicts with the checkpoint being resumed ('deepstarr')",)),
    Case("unknown-checkpoint-format", "checkpoints", "converted to a format no plugin provides",
         ("convert", RUN, "--to", "safetensor", "--out", "converted"),
         ("unknown checkpoint format 'safetensor'", "d3 plugins list --kind checkpoint_formats")),
    Case("checkpoint-unrecognised", "checkpoints", "converted a folder that holds no checkpoint",
         ("convert", "notes", "--out", "converted"), ("no installed checkpoint format recognises it",)),
    # a file names code: only what installed plugins register (or the user types) may be imported
    Case("resume-callback-from-file", "checkpoints", "resumed a checkpoint whose config names a callback module",
         ("train", "--resume_from", "callback_config.ckpt", "--data", "ds.h5", "--work_dir", "new-run"),
         ("the config of checkpoint callback_config.ckpt names the callback 'helper:Probe'",
          "d3 imports no code a file names", "--callback helper:Probe")),
    Case("config-file-callback", "configuration", "gave a YAML config whose callbacks list names a module",
         (*TRAIN, "--config_path", "callbacks.yaml", "--work_dir", "new-run"),
         ("--config_path callbacks.yaml names the callback 'helper:Probe'", "--callback helper:Probe")),
    Case("checkpoint-names-module", "checkpoints", "sampled from a checkpoint whose config names a module as arch",
         ("sample", "arch_module.ckpt", "-o", "new.fasta", "--labels", "1,1"),
         ("unknown architecture 'helper:Net'",)),
    Case("oracle-names-module", "checkpoints", "loaded an oracle file whose network names a module of the folder",
         ("oracle", "info", "planted.oracle.ckpt"),
         ("planted.oracle.ckpt: its oracle network 'helper:Net' is not one an installed plugin registers",
          "d3 imports no code a file names")),
    Case("oracle-names-os-system", "checkpoints", "scored with an oracle file whose network is 'os:system'",
         ("oracle", "predict", "system.oracle.ckpt", "samples.fasta", "-o", "p.tsv"),
         ("system.oracle.ckpt: its oracle network 'os:system' is not one an installed plugin registers",)),
    # -- plugins -------------------------------------------------------------------------------------------------------
    Case("plugin-hook-raises", "plugins", "used a dataset of a plugin whose registration hook raised",
         ("train", "--dataset", "flaky-data", "--arch", "Tran"),
         ("unknown dataset 'flaky-data'", "d3-hookfail-plugin 0.0.1 failed to load",
          "hook register_datasets raised RuntimeError", "fix or reinstall it"), plugins="d3-hookfail-plugin"),
    Case("plugin-broken-strict", "plugins", "ran with D3_STRICT_PLUGINS=1 and a plugin that fails to import",
         ("plugins", "list"), ("plugin d3-broken-plugin failed to load", "D3_STRICT_PLUGINS=1"),
         plugins="d3-broken-plugin", env={"D3_STRICT_PLUGINS": "1"}),
    Case("plugin-wrong-interface", "plugins", "used a dataset whose class is not a SequenceDataset",
         ("train", "--dataset", "example-data", "--arch", "Tran"),
         ("from d3-example-plugin 1.2.3", "not a d3core.data.SequenceDataset subclass", "pip uninstall"),
         plugins="d3-example-plugin,d3-arch-tran"),
    Case("plugin-name-clash", "plugins", "used a name two plugins register",
         ("train", "--dataset", "example-data", "--arch", "Tran"),
         ("is registered by several plugins", "d3-example-plugin:example-data", "D3_DISABLE_PLUGINS"),
         plugins="d3-example-plugin,d3-clash-plugin"),
    Case("plugin-logger-fails", "plugins", "logged to a plugin's logger whose constructor raises",
         (*TRAIN, "--logger", "lab-tracker", "--work_dir", "new-run"),
         ("logger 'lab-tracker' from d3-badlogger-plugin 0.0.1 failed to start",
          "ConnectionError: cannot reach the lab's tracking server", "pip uninstall d3-badlogger-plugin"),
         plugins="d3-badlogger-plugin,d3-deepstarr,d3-arch-tran"),
    Case("plugin-unknown-kind", "plugins", "listed a component kind that does not exist",
         ("plugins", "list", "--kind", "optimizer"), ("unknown component kind 'optimizer'", "architectures")),
    # -- outputs that cannot be written (issue 25): one case per writing command; notes.txt is a file ---------------
    *(Case(f"{name}-unwritable-output", "command line", f"{what} into a folder that cannot be created", args,
           ("cannot write into folder notes.txt", "notes.txt is a file, not a folder", f"choose another {flag}"))
      for name, what, flag, args in (
          ("sample", "sampled", "-o", ("sample", RUN, "-o", "notes.txt/new.fasta", "--labels", "1,1")),
          ("design", "designed", "-o", ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--labels",
                                        "1,1", "-o", "notes.txt/new.fasta")),
          ("design-report", "wrote a design report", "--report",
           ("design", RUN, "--oracle", "oracle.ckpt", "--objective", "dev", "--labels", "1,1", "-o", "new.fasta",
            "--report", "notes.txt/report")),
          ("score", "scored", "-o", ("score", "short.fa", "--checkpoint", RUN, "-o", "notes.txt/s.tsv")),
          ("oracle-predict", "predicted", "-o", ("oracle", "predict", "oracle.ckpt", "short.fa", "-o",
                                                 "notes.txt/p.tsv")),
          ("oracle-train", "trained an oracle", "-o", ("oracle", "train", "--dataset", "deepstarr", "--data", "ds.h5",
                                                       "-o", "notes.txt/ds.oracle.ckpt")),
          ("synth", "synthesized data", "--out", ("data", "synth", "deepstarr", "--n", "10", "--out",
                                                  "notes.txt/new.h5")),
          ("import", "imported data", "--out", ("data", "import", "deepstarr", "--fasta", "short.fa", "--activity",
                                                "activity.tsv", "--out", "notes.txt/new.h5")),
          ("merge", "merged shards", "-o", ("merge", "samples.fasta", "-o", "notes.txt/all.fasta")),
          ("evaluate", "evaluated", "--out", ("evaluate", "odd.fasta", "--dataset", "deepstarr", "--data", "ds.h5",
                                              "--out", "notes.txt/eval")),
          ("convert", "converted", "--out", ("convert", RUN, "--out", "notes.txt/converted")),
          ("train", "trained", "--work_dir", (*TRAIN, "--work_dir", "notes.txt/run")),
      )),
    Case("ddp-timeout-not-positive", "configuration", "gave the process-group timeout zero seconds",
         (*TRAIN, "lightning.ddp_timeout_s=0"),
         ("config lightning.ddp_timeout_s=0 must be a number of seconds > 0", "null for Lightning's default")),
)


# -- every bad input one line (issue 25): sample files, numbers that are not numbers, resource bounds ----------------
DESIGN = ("design", RUN, "--oracle", "oracle.ckpt", "--labels", "1,1", "--steps", "2", "-o", "new.fasta")
CASES += (
    Case("samples-npz-empty", "data files", "gave an empty (0-byte) .npz file",
         ("oracle", "predict", "oracle.ckpt", "empty.npz", "-o", "p.tsv"),
         ("empty.npz: the file is empty (0 bytes)", "write it again with d3 sample")),
    Case("samples-npz-truncated", "data files", "scored a half-copied .npz sample file",
         ("score", "truncated.npz", "--checkpoint", RUN),
         ("truncated.npz: not a readable .npz file (truncated or not NPZ?", "write it again with d3 sample")),
    Case("samples-npz-token-out-of-range", "data files", "merged an .npz whose tokens are not 0..3",
         ("merge", "bad_tokens.npz", "-o", "all.npz"),
         ("bad_tokens.npz: key 'tokens' row 1 position 5 holds 7", "tokens must be 0..3 (0=A, 1=C, 2=G, 3=T)")),
    Case("samples-npz-float-tokens", "data files", "evaluated an .npz whose tokens are floats",
         ("evaluate", "float_tokens.npz", "--dataset", "deepstarr", "--data", "ds.h5"),
         ("float_tokens.npz: key 'tokens' is float64 with shape [4, 249]", "integer token indices [N, L]")),
    Case("samples-h5-empty", "data files", "scored an empty (0-byte) .h5 file", ("score", "empty.h5", "--checkpoint", RUN),
         ("empty.h5: the file is empty (0 bytes)",)),
    Case("samples-csv-short-row", "data files", "scored a CSV with a row missing a cell",
         ("score", "short_row.csv", "--checkpoint", RUN),
         ("short_row.csv line 3: 2 cell(s) but the header has 3 (id, sequence, dev)",)),
    Case("samples-nan-label", "data files", "scored sequences whose FASTA headers carry a NaN label",
         ("score", "nan_label.fasta", "--checkpoint", RUN),
         ("nan_label.fasta: labels of sequence row 0 column 0 ('dev') is nan", "labels must be finite numbers")),
    Case("sequences-csv-not-utf8", "data files", "scored a CSV saved in Latin-1",
         ("score", "latin1.csv", "--checkpoint", RUN), ("latin1.csv: not UTF-8 text", "save it as UTF-8")),
    Case("sequences-tsv-no-sequence-column", "data files", "evaluated a TSV whose sequence column has another name",
         ("evaluate", "no_sequence.tsv", "--dataset", "deepstarr", "--data", "ds.h5"),
         ("no_sequence.tsv line 1: no 'sequence' column (columns: id, seq)", "name the column of sequences")),
    Case("sequences-tsv-bad-base", "data files", "scored a TSV with an N in a sequence",
         ("score", "bad_base.tsv", "--checkpoint", RUN),
         ("bad_base.tsv line 3: letter 'N' at position 249 is not A, C, G or T",)),
    Case("sequences-tsv-empty", "data files", "merged an empty TSV", ("merge", "empty.tsv", "-o", "all.tsv"),
         ("empty.tsv: holds no sequences", "write it again with d3 sample or d3 design")),
    Case("sequences-h5-truncated", "data files", "evaluated a truncated .h5 sample file",
         ("evaluate", "truncated.h5", "--dataset", "deepstarr", "--data", "ds.h5"),
         ("truncated.h5: not a readable .h5 file",)),
    Case("sample-labels-from-nan", "data files", "sampled for the label rows of a split holding a NaN",
         ("sample", RUN, "--labels-from", "train", "--data", "nan.h5", "-o", "new.fasta"),
         ("nan.h5: 'Y_train' row 3 column 0 ('dev') is nan", "drop or fix that row")),
    Case("score-split-nan", "data files", "scored a split whose labels hold a NaN",
         ("score", "--split", "train", "--data", "nan.h5", "--checkpoint", RUN),
         ("nan.h5: 'Y_train' row 3 column 0 ('dev') is nan", "labels must be finite numbers")),
    Case("score-split-missing-labels", "data files",
         "scored a split with missing labels (not measured) with a model trained on fully measured rows",
         ("score", "--split", "test", "--data", "unmeasured.h5", "--checkpoint", RUN),
         ("unmeasured.h5 (test split) has missing labels (not measured: hk in 1 of", "has no per-label nulls",
          "--labels dev=1.0,hk=1.0", "--unconditional")),
    Case("sample-labels-from-missing", "data files",
         "sampled for the label rows of a split with missing labels with a model trained on fully measured rows",
         ("sample", RUN, "--labels-from", "test", "--data", "unmeasured.h5", "-o", "new.fasta"),
         ("unmeasured.h5 (test split) has missing labels", "give --labels instead")),
    Case("option-not-finite", "command line", "gave NaN as the guidance strength",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--guidance", "nan"),
         ("'--guidance': 'nan' is not a finite number",)),
    Case("design-temperature-infinite", "command line", "gave an infinite design temperature",
         (*DESIGN, "--objective", "dev", "--temperature", "inf"), ("'--temperature': 'inf' is not a finite number",)),
    Case("override-not-finite", "configuration", "gave an infinite learning rate", (*TRAIN, "optim.lr=.inf"),
         ("optim.lr=inf must be a number > 0",)),
    Case("design-objective-overflow", "command line", "wrote an objective whose arithmetic overflows",
         (*DESIGN, "--objective", "dev + 2^1000000"),
         ("--objective 'dev + 2^1000000': '2^1000000' is not a finite real number",)),
    Case("design-candidates-too-many", "command line", "asked for more candidates than memory holds",
         (*DESIGN, "--objective", "dev", "--candidates", "1000000000"),
         ("--candidates 1000000000 x --batch-size 10: this request needs at least", "available",
          "lower --candidates")),
    Case("sample-num-too-many", "command line", "asked for more sequences than memory holds",
         ("sample", RUN, "-o", "new.fasta", "--labels", "1,1", "--num", "1000000000000"),
         ("--num 1000000000000 x --batch-size 256: this request needs at least", "labels of --num 1000000000000",
          "--shard K/N")),
    Case("score-samples-too-many", "command line", "asked for more likelihood draws than memory holds",
         ("score", "samples.fasta", "--checkpoint", RUN, "--labels", "1,1", "--samples", "100000000000"),
         ("--samples 100000000000 x --batch-size 256: this request needs at least", "lower --samples")),
)


def _bad_sample_files(workspace: Path) -> None:
    """Sample files a careless copy or another tool makes: empty, truncated, out-of-range and float tokens, a short
    CSV row, a NaN label."""
    import numpy as np

    tokens = np.random.default_rng(0).integers(0, 4, size=(4, 249)).astype(np.uint8)
    np.savez_compressed(workspace / "good.npz", tokens=tokens)
    data = (workspace / "good.npz").read_bytes()
    (workspace / "truncated.npz").write_bytes(data[: len(data) // 2])
    (workspace / "good.npz").unlink()
    (workspace / "empty.npz").write_bytes(b"")
    (workspace / "empty.h5").write_bytes(b"")
    bad = tokens.copy()
    bad[1, 4] = 7
    np.savez(workspace / "bad_tokens.npz", tokens=bad)
    np.savez(workspace / "float_tokens.npz", tokens=tokens.astype(np.float64))
    sequence = "ACGT" * 62 + "A"
    (workspace / "short_row.csv").write_text(f"id,sequence,dev\nd3_0,{sequence},1.5\nd3_1,{sequence}\n")
    (workspace / "nan_label.fasta").write_text(f">d3_0 dev=nan hk=1\n{sequence}\n")
    (workspace / "latin1.csv").write_bytes(f"id,sequence,note\nd3_0,{sequence},caf\xe9\n".encode("latin-1"))
    (workspace / "no_sequence.tsv").write_text(f"id\tseq\nd3_0\t{sequence}\n")
    (workspace / "bad_base.tsv").write_text(f"id\tsequence\nd3_0\t{sequence}\nd3_1\t{sequence[:-1]}N\n")
    (workspace / "empty.tsv").write_text("")
    import h5py

    with h5py.File(workspace / "whole.h5", "w") as f:
        f["tokens"] = np.tile(tokens, (64, 1))
    data = (workspace / "whole.h5").read_bytes()
    (workspace / "truncated.h5").write_bytes(data[: len(data) // 2])
    (workspace / "whole.h5").unlink()


# -- the workspace ---------------------------------------------------------------------------------------------------
class _RunsCode:
    """Unpickling this creates the MARKER file: the proof of code execution that must never appear."""

    def __reduce__(self):
        return exec, (f"open({MARKER!r}, 'w').write('unpickled')",)


def d3_env(workspace: Path, plugin_site: Path | None = None, plugins: str | None = None,
           extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a case: no inherited D3_* switches, the data cache inside the workspace."""
    if plugins is None:
        return user_env(D3_DATA_DIR=str(workspace / "cache"), **(extra or {}))
    assert plugin_site is not None, "plugin cases need the installed fixture plugins"
    return user_env(plugin_site, D3_DATA_DIR=str(workspace / "cache"), D3_LOAD_PLUGINS=plugins, **(extra or {}))


def run_case(case: Case, workspace: Path, plugin_site: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``d3 *case.args`` in ``workspace`` as a user would."""
    extra = {**case.env, **({"CUDA_VISIBLE_DEVICES": ""} if case.cpu_only else {})}
    return subprocess.run([str(D3_SCRIPT), *case.args], cwd=workspace, capture_output=True, text=True, timeout=300,
                          env=d3_env(workspace, plugin_site, case.plugins, extra))


# -- evaluation and oracle training at the speed of the question (issue 31) -----------------------------------------
CASES += (
    Case("evaluate-cache-and-no-cache", "command line", "asked for a reference cache folder and for no cache",
         ("evaluate", "samples.fasta", "--dataset", "deepstarr", "--data", "ds.h5", "--no-cache", "--cache-dir",
          "cache"), ("--cache-dir and --no-cache: give one",)),
    Case("oracle-train-test-rows", "command line", "asked to score a new oracle on one test row",
         ("oracle", "train", "--dataset", "deepstarr", "--data", "ds.h5", "--test-rows", "1"),
         ("'--test_rows': 1 is not in the range x>=2", "See 'd3 oracle train --help'")),
)



# -- missing labels (issue 30): an inner join that leaves nothing ---------------------------------------------------
REAL = Path(__file__).parent / "fixtures" / "real"
CASES += (
    Case("import-inner-join-empty", "data files", "joined two cell types' tables that share no sequence with --join inner",
         ("data", "import", "mpra", "--table", str(REAL / "lentimpra_val_HepG2_mpramnist_slice.tsv"), "--table",
          str(REAL / "lentimpra_WTC11_test_human_legnet_slice.tsv"), "--join", "inner", "--out", "joined.h5"),
         ("share no sequence; an inner join on the sequence leaves nothing", "Drop --join inner")),
)

def build_workspace(workspace: Path) -> Path:
    """Real files of every kind the cases need: datasets, a trained run, broken and malicious files."""
    import h5py
    import torch

    from d3_deepstarr.dataset import DeepSTARR
    from d3_mpra.dataset import MPRA

    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "cache").mkdir()
    DeepSTARR().synthesize(workspace / "ds.h5", 64, seed=1)
    MPRA().synthesize(workspace / "mpra.h5", 64, seed=1)
    trained = subprocess.run([str(D3_SCRIPT), "train", "--dataset", "deepstarr", "--arch", "Conv", "--preset", "tiny",
                              "--data", "ds.h5", "--work_dir", "run", "--max_steps", "2", "--batch_size", "16",
                              "--accelerator", "cpu"], cwd=workspace, capture_output=True, text=True, timeout=600,
                             env=d3_env(workspace))
    assert trained.returncode == 0, trained.stderr[-3000:]
    checkpoint = (workspace / RUN).read_bytes()
    edited = torch.load(workspace / RUN, weights_only=True)
    edited["d3_config"]["noise"]["type"] = "cosine"
    torch.save(edited, workspace / "edited.ckpt")
    _odd_original_run(workspace / "odd-original")
    (workspace / "truncated.ckpt").write_bytes(checkpoint[: len(checkpoint) // 3])
    (workspace / "garbage.ckpt").write_bytes(bytes(range(256)) * 20)
    torch.save({"model": _RunsCode(), "ema": {}, "optimizer": {}, "step": 1}, workspace / "malicious.pth")
    shutil.copyfile(workspace / "ds.h5", workspace / "nan.h5")
    with h5py.File(workspace / "nan.h5", "r+") as f:
        labels = f["Y_train"][:]
        labels[3, 0] = float("nan")
        f["Y_train"][:] = labels
    shutil.copyfile(workspace / "ds.h5", workspace / "unmeasured.h5")  # hk not measured in row 2 of every split
    with h5py.File(workspace / "unmeasured.h5", "r+") as f:
        measured = {}
        for split in ("train", "valid", "test"):
            labels = f[f"Y_{split}"][:]
            labels[2, 1] = float("nan")
            f[f"Y_{split}"][:] = labels
            measured[split] = {"dev": len(labels), "hk": len(labels) - 1}
        f.attrs["d3_measured"] = json.dumps(measured)
    data = (workspace / "ds.h5").read_bytes()
    (workspace / "truncated.h5").write_bytes(data[: len(data) // 4])
    (workspace / "samples.fasta").write_text(">earlier\n" + "ACGT" * 62 + "A\n")
    (workspace / "odd.fasta").write_text(">a\n" + "ACGT" * 62 + "A\n>b\n" + "ACGQ" * 62 + "A\n")
    (workspace / "short.fa").write_text(">s1\nACGTACGTAC\n")
    (workspace / "activity.tsv").write_text("sequence\tDev_log2_enrichment\tHk_log2_enrichment\nACGTACGTAC\t1\t2\n")
    (workspace / "notes.txt").write_text("lab notes\n")
    (workspace / "notes").mkdir()
    (workspace / "notes" / "README.txt").write_text("no checkpoints here\n")
    (workspace / "broken.yaml").write_text("optim:\n  lr: [1, 2\n")
    (workspace / "unsafe.yaml").write_text(f"optim: !!python/object/apply:os.system ['touch {MARKER}']\n")
    (workspace / "list.yaml").write_text("- optim\n- training\n")
    (workspace / "typo.yaml").write_text("optim:\n  lrr: 0.001\n")
    shutil.copyfile(ORIGINAL_ORACLE, workspace / "oracle.ckpt")
    shutil.copyfile(ORIGINAL_ORACLE.with_name("oracle_mpra_mpra_data.ckpt"), workspace / "mpra_oracle.ckpt")
    oracle = torch.load(ORIGINAL_ORACLE, weights_only=True)
    del oracle["state_dict"]["model.fc6.weight"]
    torch.save(oracle, workspace / "damaged_oracle.ckpt")
    (workspace / "original.yaml").write_text(  # the head of an original D3 run's config.yaml
        "ngpus: 1\ntokens: 4\ntraining:\n  batch_size: 256\n  n_iters: 1000000\n  snapshot_freq: 50000\n"
        "data:\n  train: deepstarr\n  cache_dir: data\nmodel:\n  name: small\n  hidden_size: 768\n"
        "  scale_by_sigma: false\n")
    _files_that_name_code(workspace)
    (workspace / "lone").mkdir()  # an original checkpoint's keys, far from its run's config
    torch.save({"model": {}, "ema": {}, "optimizer": {}, "step": 0}, workspace / "lone" / "checkpoint.pth")
    _bad_sample_files(workspace)
    return workspace


#: a module in the user's folder that a hostile file names; importing it leaves the MARKER file
PLANTED_MODULE = f"""open({MARKER!r}, 'w').write('imported')
import torch
from pytorch_lightning import Callback


class Probe(Callback):
    pass


class Net(torch.nn.Module):
    def __init__(self, num_outputs=2, length=249):
        super().__init__()
"""


def _files_that_name_code(workspace: Path) -> None:
    """Files naming code of the planted ``helper.py``: a checkpoint and a YAML config naming the callback
    ``helper:Probe``, a checkpoint naming ``helper:Net`` as its architecture, d3 oracle files naming ``helper:Net``
    and ``os:system`` as their network."""
    import torch

    (workspace / "helper.py").write_text(PLANTED_MODULE)
    checkpoint = torch.load(workspace / RUN, weights_only=True)
    checkpoint["d3_config"]["callbacks"] = ["helper:Probe"]
    torch.save(checkpoint, workspace / "callback_config.ckpt")
    checkpoint["d3_config"]["callbacks"], checkpoint["d3_config"]["arch"] = [], "helper:Net"
    torch.save(checkpoint, workspace / "arch_module.ckpt")
    (workspace / "callbacks.yaml").write_text("callbacks: [helper:Probe]\n")
    for name, network in (("planted", "helper:Net"), ("system", "os:system")):
        torch.save({"d3_oracle": {"version": 1, "dataset": "deepstarr", "network": network, "num_outputs": 2,
                                  "length": 249, "label_names": ["dev", "hk"]}, "state_dict": {}},
                   workspace / f"{name}.oracle.ckpt")


def _odd_original_run(run: Path) -> None:
    """An original D3 run (the tiny fixture's recipe) whose config names a noise schedule d3 does not have."""
    import yaml

    from d3_ckpt_legacy.testing import load_manifest, write_legacy_run

    write_legacy_run(load_manifest(LEGACY_FIXTURE / "MANIFEST.json"), run)
    config = yaml.safe_load((run / "hydra" / "config.yaml").read_text())
    config["noise"]["type"] = "cosine"
    (run / "hydra" / "config.yaml").write_text(yaml.safe_dump(config))


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """``{relative path: (sha256, mtime_ns)}`` of every file under ``folder`` (folders listed with an empty hash)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_dir():
            state[key] = ("", 0)
        else:
            state[key] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return state


def error_line(result: subprocess.CompletedProcess) -> list[str]:
    """The stderr lines of a failed command, without ``d3: warning:`` lines (a skipped plugin's notice)."""
    return [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("d3: warning:")]


# -- population search and edit budgets (issue 29) -------------------------------------------------------------------
EVOLVE = (*DESIGN, "--objective", "dev", "--method", "evolve")
CASES += (
    Case("design-evolve-flag-other-method", "command line", "gave a population-search flag to the svdd method",
         (*DESIGN, "--objective", "dev", "--population", "8"), ("--population: only --method evolve takes this",)),
    Case("design-renoise-out-of-range", "command line", "re-noised population members past time 1",
         (*EVOLVE, "--renoise", "1.5"), ("--renoise 1.5: a diffusion time in (0, 1]",)),
    Case("design-ess-out-of-range", "command line", "asked for an effective sample size above the population",
         (*EVOLVE, "--ess", "2"), ("--ess 2: a fraction of the population in (0, 1]",)),
    Case("design-budget-too-small", "command line", "gave the search fewer oracle calls than one round takes",
         (*EVOLVE, "--population", "8", "--budget", "10"),
         ("--budget 10: the first population takes 8 oracle call(s) and a round 8; give at least 16",)),
    Case("design-max-edits-without-start", "command line", "limited the edits without start sequences",
         (*EVOLVE, "--max-edits", "5"), ("--max-edits counts edits from a start sequence: give --start-from FILE",)),
)
