"""The one progress bar (``d3core.progress.progress_bar``): shown on a terminal's stderr, whole counts for fractional
work, hidden without a terminal or when switched off; and the commands that show it (data synth, fetch) through it."""
from __future__ import annotations

import io
import sys

from d3core.progress import progress_bar
from local_server import serving


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws on it."""

    def isatty(self) -> bool:
        return True


def _terminal(monkeypatch) -> Terminal:
    """Make stderr a terminal for the rest of the test (inside the test: pytest sets its own stderr after the
    fixtures ran)."""
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    return stderr


def _last_frame(stderr: Terminal) -> str:
    """The bar as last drawn ("" when it was wiped off)."""
    return stderr.getvalue().rstrip("\r\n").split("\r")[-1].strip()


def test_the_bar_counts_fractional_work_in_whole_units(monkeypatch):
    terminal = _terminal(monkeypatch)
    bar = progress_bar(4, "d3 sample")
    bar.update(2.5)
    bar.refresh()
    assert "d3 sample" in _last_frame(terminal) and "2/4" in _last_frame(terminal)
    bar.set_postfix_str("objective 0.5")
    bar.update(1.5)
    bar.refresh()
    assert "4/4" in _last_frame(terminal) and "seq/s, objective 0.5]" in _last_frame(terminal)
    bar.close()
    assert _last_frame(terminal) == ""  # gone when done (leave=False)


def test_switched_off_or_without_a_terminal_nothing_is_drawn(monkeypatch):
    terminal = _terminal(monkeypatch)
    bar = progress_bar(4, "d3 score", enabled=False)
    bar.update(3)
    bar.close()
    assert terminal.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a log file: no bar
    bar = progress_bar(4, "d3 score")
    bar.update(3)
    bar.close()
    assert sys.stderr.getvalue() == ""


def test_data_synth_shows_its_progress(tmp_path, data_pm, monkeypatch):
    terminal = _terminal(monkeypatch)
    dataset = data_pm.get("datasets", "deepstarr").load()()
    dataset.synthesize(tmp_path / "s.h5", 40, seed=0, progress=True)
    assert "synth deepstarr:   0%" in terminal.getvalue() and "0/48" in terminal.getvalue()  # 40 train, 2 x 4 more


def test_a_download_shows_bytes_and_stays_on_screen(tmp_path, monkeypatch):
    from d3core.data.fetch import download

    terminal = _terminal(monkeypatch)
    body = b"x" * 3000
    with serving({"/f.bin": body}, monkeypatch) as base:
        download(f"{base}/f.bin", tmp_path / "f.bin", progress=True, echo=lambda line: None)
    final = _last_frame(terminal)
    assert final.startswith("f.bin: 100%") and "2.93k/2.93k" in final  # KiB (1024), left on screen (leave=True)
