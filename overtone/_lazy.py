"""Names a package exports but imports only when first used (PEP 562 module ``__getattr__``).

A package lists them as ``{name: "module"}`` or ``{name: ("module", "attribute")}`` and
binds what :func:`lazy_exports` returns::

    __getattr__, __dir__ = lazy_exports(__name__, {"Thing": "pkg._thing"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, names: dict[str, str | tuple[str, str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__`` for ``names``; a name, once imported,
    becomes an ordinary attribute of the package."""

    def __getattr__(name: str) -> Any:
        try:
            where = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module, attribute = (where, name) if isinstance(where, str) else where
        value = getattr(importlib.import_module(module), attribute)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
