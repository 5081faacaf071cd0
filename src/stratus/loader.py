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
import traceback
from pathlib import Path
from types import ModuleType

from .errors import ConfigError, StratusError
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
            try:
                spec.loader.exec_module(module)
            except BaseException:  # a package that failed to run is not imported: the next try runs it again
                del sys.modules[name]
                raise
    return pkg


def load_module(folder: Path, name: str) -> ModuleType:
    """The module ``name`` of an app folder (``app``, ``tour``, a handlers module), imported in the app's package.

    A mistake in the app's own code (a syntax error, a name not defined, a declaration the platform refuses)
    is a ``ConfigError`` that shows the app's file, line and error, with none of the platform's or the import
    machinery's frames (the whole traceback is the error's cause, which ``--debug`` shows)."""
    folder = folder.resolve()
    module = None
    try:  # the folder's __init__.py runs here, if it has one
        module = f"{package_of(folder)}.{name}"
        return importlib.import_module(module)
    except ImportError as exc:
        if module is not None and exc.name == module:
            raise ConfigError(f"cannot import {folder / (name + '.py')}: there is no such module") from exc
        raise ConfigError(_in_app(exc, folder, where=folder / f"{name}.py")) from exc
    except StratusError as exc:  # a declaration refused: where in the app it was made
        raise ConfigError(_in_app(exc, folder, brief=True)) from exc
    except Exception as exc:
        raise ConfigError(_in_app(exc, folder, where=folder / f"{name}.py")) from exc


def _shown(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _in_app(exc: BaseException, folder: Path, brief: bool = False, where: Path | None = None) -> str:
    """``exc`` as the app's author needs it: the app's own frames, then the error (named after ``where`` when
    none of the app's frames is in it, as for a file Python cannot read at all)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        line = f"{_shown(exc.filename)}, line {exc.lineno}"
        text = (exc.text or "").rstrip("\n")
        pointer = ""
        if text.strip() and exc.offset:
            indent = len(text) - len(text.lstrip())
            pointer = "\n    " + " " * max(0, exc.offset - 1 - indent) + "^"
        return f"{line}: {type(exc).__name__}: {exc.msg}" + (f"\n    {text.strip()}{pointer}" if text.strip() else "")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _within(f.filename, folder)]
    error = f"{type(exc).__name__}: {exc}" if not brief else str(exc)
    internal = rf"{re.escape(ROOT_PACKAGE)}\.\w+_[0-9a-f]{{8}}"  # the app's package: its modules by their names
    error = re.sub(internal, _shown(str(folder)), re.sub(internal + r"\.", "", error))
    if not frames:
        return f"{_shown(str(where))}: {error}" if where is not None else error
    if brief:
        return f"{_shown(frames[-1].filename)}, line {frames[-1].lineno}: {error}"
    lines = ["in the app's code (most recent call last):"]
    for f in frames:
        lines.append(f"  {_shown(f.filename)}, line {f.lineno}, in {f.name}")
        if f.line:
            lines.append(f"    {f.line.strip()}")
    return "\n".join([*lines, error])


def _within(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def load_app(folder: Path) -> App:
    folder = folder.resolve()
    if not (folder / "app.py").is_file():
        raise ConfigError(f"{folder} is not an app folder (it has no app.py)")
    app = getattr(load_module(folder, "app"), "app", None)
    if not isinstance(app, App):
        raise ConfigError(f"{folder / 'app.py'} must define `app = App(...)`")
    app.folder = folder
    return app
