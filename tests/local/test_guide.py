"""docs/guide.md stays true: its app, put together from its examples, runs under its own test."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "guide.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)


def test_the_guides_app_passes_the_guides_test(tmp_path: Path) -> None:
    declaring, routes, testing = _python_blocks()
    app_dir = tmp_path / "notes"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(declaring + "\n" + routes)
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(testing).replace('"apps/notes"', repr(str(app_dir))), namespace)  # noqa: S102
    namespace["test_notes"]()  # type: ignore[operator]
