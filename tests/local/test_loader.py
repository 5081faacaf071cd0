"""Loading app folders: each folder is its own package, whatever its name."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stratus.errors import ConfigError
from stratus.loader import load_app, load_module
from tests.conftest import ROOT

SHOP_FIXTURE = ROOT / "tests" / "aws" / "fixtures" / "shop"


def _app(folder: Path, name: str, helper: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "helpers.py").write_text(f"WHO = {helper!r}\n")
    (folder / "app.py").write_text(textwrap.dedent(f"""
        from stratus import App
        from .helpers import WHO
        app = App({name!r})
        app.who = WHO
    """))
    return folder


def test_two_app_folders_of_one_name_are_two_apps(tmp_path: Path) -> None:
    """Two folders called ``shop`` (a fixture and an app, say) load as themselves, sibling modules included."""
    first = _app(tmp_path / "a" / "shop", "shop-a", "first")
    second = _app(tmp_path / "b" / "shop", "shop-b", "second")
    a, b = load_app(first), load_app(second)
    assert (a.name, a.who, b.name, b.who) == ("shop-a", "first", "shop-b", "second")  # type: ignore[attr-defined]
    assert load_app(first) is a  # and loading again is the same app
    assert load_app(SHOP_FIXTURE).name == "shop"  # the real fixture of that name too
    assert a.folder == first.resolve() and load_module(second, "helpers").WHO == "second"


def test_loading_what_is_not_an_app_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no app.py"):
        load_app(tmp_path)
    (tmp_path / "app.py").write_text("app = 3\n")
    with pytest.raises(ConfigError, match="must define `app = App"):
        load_app(tmp_path)


def test_importing_the_user_pool_makes_no_hash() -> None:
    """The dummy hash that equalises sign-in timing costs as much as a sign-in: it is made on first use, not at import."""
    code = ("from stratus.local.services.cognito_idp import model\n"
            "print(model._dummy_hash.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "0"
