"""The training step reads no value back from the device outside the logging steps (a host synchronisation per
step stalls a GPU): the probe records every ``.item()``/``float()``/``bool()`` of a tensor during a real run."""
import json
from pathlib import Path

import pytest

STEPS, LOG_EVERY = 12, 5


@pytest.fixture
def host_reads(d3_cli, tiny_args, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # probes.py
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", STEPS, "--val_check_interval", 1000,
                    f"lightning.logging.log_every_n_steps={LOG_EVERY}", "--logger", "csv",
                    "--callback", "probes:HostReads")
    assert result.exit_code == 0, result.output
    return {int(step): reads for step, reads in json.loads((run / "host_reads.json").read_text()).items()}, run


def test_no_fresh_value_is_read_between_logging_steps(host_reads):
    reads, run = host_reads
    logging_steps = {step for step in range(STEPS) if (step + 1) % LOG_EVERY == 0} | {STEPS - 1}
    assert all(reads.get(step) for step in logging_steps - {STEPS - 1})  # the probe sees the logging reads
    for step in sorted(set(range(STEPS)) - logging_steps):
        fresh = [read for read in reads.get(step, []) if not read["cached"] or read["by_d3"]]
        assert not fresh, (step, fresh)
    logged = [line.split(",") for line in (run / "csv" / "metrics.csv").read_text().splitlines()]
    steps_with_loss = {int(row[logged[0].index("step")]) for row in logged[1:] if row[logged[0].index("train_loss")]}
    assert steps_with_loss == {4, 9}  # what Lightning writes at log_every_n_steps = 5, as before
