"""Finding and importing apps: each app is a folder with an ``app.py`` that defines ``app = App(...)``.

The folder is imported as a package of its own, so an app may split its
handlers into sibling modules and import them relatively.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

from .app import App
from .errors import ConfigError


def discover(root: Path) -> list[Path]:
    """Every app folder under ``root`` (a folder holding ``app.py``), sorted by name."""
    if not root.is_dir():
        raise ConfigError(f"no apps folder at {root}; pass app folders to the command")
    return sorted(p for p in root.iterdir() if (p / "app.py").is_file())


def load_app(folder: Path) -> App:
    folder = folder.resolve()
    if not (folder / "app.py").is_file():
        raise ConfigError(f"{folder} is not an app folder (it has no app.py)")
    pkg = f"stratus_apps.{folder.name.replace('-', '_')}"
    for name, path in (("stratus_apps", None), (pkg, folder)):
        if name in sys.modules:
            continue
        init = path / "__init__.py" if path else None
        if init is not None and init.exists():
            spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(path)])
        else:
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [str(path)] if path else []
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        if spec.loader is not None:
            spec.loader.exec_module(module)
    try:
        mod = importlib.import_module(f"{pkg}.app")
    except ImportError as exc:
        raise ConfigError(f"cannot import {folder / 'app.py'}: {exc}") from exc
    app = getattr(mod, "app", None)
    if not isinstance(app, App):
        raise ConfigError(f"{folder / 'app.py'} must define `app = App(...)`")
    return app
