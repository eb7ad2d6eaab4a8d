"""The WORLD vocoder (pyworld), loaded so that it works with any setuptools.

pyworld 0.3.5's package `__init__` imports `pkg_resources` only to read its own version, and
setuptools 81+ no longer ships `pkg_resources`. When that import fails, the compiled extension
(which needs nothing from it) is loaded directly.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    try:
        import pyworld

        return pyworld
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
    spec = importlib.util.find_spec("pyworld")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyworld")
    folder = Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"pyworld{suffix}"
        if path.exists():
            loader = importlib.machinery.ExtensionFileLoader("pyworld.pyworld", str(path))
            ext_spec = importlib.util.spec_from_loader("pyworld.pyworld", loader)
            assert ext_spec is not None
            module = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(module)
            sys.modules.setdefault("pyworld.pyworld", module)
            return module
    raise ModuleNotFoundError("pyworld's compiled extension was not found")


pw = _load()
