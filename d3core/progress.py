"""The progress bar of every d3 command that shows one (sample, score, design, data synth, data/models fetch):
one tqdm on stderr, shown only when stderr is a terminal, gone when done."""
from __future__ import annotations

__all__ = ["progress_bar"]

#: counts (``{n:.0f}``: work done in fractions of a sequence shows whole), time left and the rate or the postfix
_COUNT_FORMAT = "{l_bar}{bar}| {n:.0f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def progress_bar(total: float, desc: str, unit: str = "seq", *, enabled: bool = True, download: bool = False):
    """A ``tqdm`` counting to ``total`` ``unit`` s, labelled ``desc``; hidden (its ``update``/``close`` do nothing)
    when not ``enabled`` or when stderr is no terminal. ``download``: bytes in KiB/MiB that stay on screen when done
    (what the fetch commands show; pooch sets ``total`` once the server said it)."""
    from tqdm.auto import tqdm

    disable = None if enabled else True  # None: tqdm hides itself when stderr is no terminal
    if download:
        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=True,
                    disable=disable)
    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=disable, dynamic_ncols=True,
                bar_format=_COUNT_FORMAT)
