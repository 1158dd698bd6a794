"""neurolink: chat with any LLM, keep every turn in Redis, export the history.

``from neurolink_cli import NeuroLink`` gives the SDK (CONTRACT §7); it is loaded on first
access so that ``import neurolink_cli`` (and every CLI command) stays cheap.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AsyncNeuroLink",
    "ExportReport",
    "GenerateResult",
    "NeuroLink",
    "NeuroLinkError",
    "__version__",
]

if TYPE_CHECKING:
    from neurolink_cli.errors import NeuroLinkError
    from neurolink_cli.sdk import GenerateResult, NeuroLink
    from neurolink_cli.sdk_async import AsyncNeuroLink
    from neurolink_cli.sdk_history import ExportReport

_LAZY = {
    "NeuroLink": "neurolink_cli.sdk",
    "GenerateResult": "neurolink_cli.sdk",
    "AsyncNeuroLink": "neurolink_cli.sdk_async",
    "ExportReport": "neurolink_cli.sdk_history",
    "NeuroLinkError": "neurolink_cli.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
