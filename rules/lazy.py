"""Package exports loaded on first use, so that a command needing one corner of a
package (``licit audit query``) does not pay for importing all of it."""
from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` (PEP 562): ``exports[name]`` is the module that defines
    ``name``, or ``module:attribute`` when the package exports it under another name."""
    def __getattr__(name: str) -> object:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = source.partition(":")
        return getattr(importlib.import_module(module), attribute or name)
    return __getattr__
