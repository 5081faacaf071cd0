"""Synthesized assemblies, shared: each app is synthesized once per test session for every test that only reads it.

A synthesis starts the CDK in a Node process and takes seconds, so ``assemblies(name)`` makes
each named assembly on first use and hands the same one to every later test. Tests that
synthesize are marked ``synth``: ``pytest -m "not synth"`` leaves them out of a quick inner
loop (CI runs everything).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stratus.aws.deploy.synth import SynthOptions, SynthResult, synthesize
from tests.conftest import OTHER, ROOT, TODO

SHOP = Path(__file__).parent / "fixtures" / "shop"  # a public route, route throttles, a cache opt-out
AUTHORING = ROOT / "tests" / "apps" / "fixtures" / "authoring"  # an Email, async and streaming handlers, typed bodies
PARTNERS = Path(__file__).parent / "fixtures" / "partners"  # groups, MFA, hosted sign-in, machine clients, scopes
FEED = ROOT / "tests" / "apps" / "fixtures" / "feed"  # triggers: a table's changes, a bucket's objects
BLOG = ROOT / "apps" / "blog"  # a global table, a thumbnailer confined to its prefix, Pillow (arm64) bundled
APPS: dict[str, tuple[Path, SynthOptions]] = {
    "todo": (TODO, SynthOptions()),
    "todo-no-dax": (TODO, SynthOptions(dax=False)),
    "shop": (SHOP, SynthOptions()),
    "other": (OTHER, SynthOptions()),
    "authoring": (AUTHORING, SynthOptions()),
    "partners": (PARTNERS, SynthOptions()),
    "feed": (FEED, SynthOptions()),
    "blog": (BLOG, SynthOptions()),
}


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SynthResult]:
    """``assemblies(name)``: the session's one synthesis of a named app (``APPS``); read it, never change it."""
    made: dict[str, SynthResult] = {}
    root = tmp_path_factory.mktemp("assemblies")

    def get(name: str) -> SynthResult:
        if name not in made:
            app_dir, options = APPS[name]
            made[name] = synthesize(app_dir, root / name, options)
        return made[name]
    return get
