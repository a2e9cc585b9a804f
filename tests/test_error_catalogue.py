"""Bad input, everywhere: every case of the catalogue (tests/error_cases.py) ends with exit code 2, one ``Error:`` line
naming the problem and the fix, no traceback, and the user's files exactly as they were; docs/errors.md lists them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from error_cases import AREAS, CASES, MARKER, build_workspace, error_line, run_case, snapshot

ERRORS_DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("catalogue") / "work")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_line_and_changes_nothing(case, workspace, request):
    plugin_site = request.getfixturevalue("plugin_site") if case.plugins is not None else None
    before = snapshot(workspace)
    result = run_case(case, workspace, plugin_site)
    lines = error_line(result)
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == "", "nothing may be announced before the error"
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in case.says:
        assert fragment in lines[0], f"{fragment!r} not in: {lines[0]}"
    assert snapshot(workspace) == before, "the command modified or created files"
    assert not (workspace / MARKER).exists(), "a malicious file ran its code"


def test_catalogue_covers_every_area_with_at_least_25_cases():
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
    assert {case.area for case in CASES} == set(AREAS)


def test_docs_errors_lists_every_case():
    text = ERRORS_DOC.read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", text, re.M)
    assert sorted(documented) == sorted(case.id for case in CASES), (
        "docs/errors.md is out of date: run 'python scripts/gen_errors_doc.py'")
    for case in CASES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{case.id}` |"))
        for fragment in case.says:
            assert fragment.replace("|", "\\|") in row, f"{case.id}: {fragment!r} missing from its docs/errors.md row"
