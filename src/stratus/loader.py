"""Finding and importing apps: each app is a folder with an ``app.py`` that defines ``app = App(...)``.

The folder is imported as a package of its own, so an app may split its handlers into sibling
modules and import them relatively; its tour for ``stratus demo`` is the folder's ``tour.py``.
The package is named after the folder's name and its full path (``stratus_apps.shop_1a2b3c4d``),
so two app folders with the same name (two ``shop``s) are two apps, never the first one twice.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from .errors import ConfigError
from .graph import App

ROOT_PACKAGE = "stratus_apps"


def discover(root: Path) -> list[Path]:
    """Every app folder under ``root`` (a folder holding ``app.py``), sorted by name."""
    if not root.is_dir():
        raise ConfigError(f"no apps folder at {root}; pass app folders to the command")
    return sorted(p for p in root.iterdir() if (p / "app.py").is_file())


def package_of(folder: Path) -> str:
    """The package the app folder is imported as (registered on first use)."""
    folder = folder.resolve()
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    pkg = f"{ROOT_PACKAGE}.{re.sub(r'[^0-9A-Za-z_]', '_', folder.name)}_{digest}"
    for name, path in ((ROOT_PACKAGE, None), (pkg, folder)):
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
    return pkg


def load_module(folder: Path, name: str) -> ModuleType:
    """The module ``name`` of an app folder (``app``, ``tour``, a handlers module), imported in the app's package."""
    try:
        return importlib.import_module(f"{package_of(folder)}.{name}")
    except ImportError as exc:
        raise ConfigError(f"cannot import {folder.resolve() / (name + '.py')}: {exc}") from exc


def load_app(folder: Path) -> App:
    folder = folder.resolve()
    if not (folder / "app.py").is_file():
        raise ConfigError(f"{folder} is not an app folder (it has no app.py)")
    app = getattr(load_module(folder, "app"), "app", None)
    if not isinstance(app, App):
        raise ConfigError(f"{folder / 'app.py'} must define `app = App(...)`")
    app.folder = folder
    return app
