"""Optional libraries imported when first used, or MissingExtraError naming the extra.

``import ionq_async`` never imports matplotlib or pandas: the function that needs one calls
:func:`require` (``require("pandas", "pandas")``), which imports it then. When it is not
installed the error says what to install (``pip install "ionq-async[pandas]"``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingExtraError

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise MissingExtraError naming ``ionq-async[extra]``.

    The error names the module that is missing: ``module``'s package, or the dependency
    of it that failed to import (a broken install), with the ImportError as its cause.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = getattr(error, "name", None) or module.split(".", 1)[0]
        raise MissingExtraError(missing, extra) from error
