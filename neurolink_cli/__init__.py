"""neurolink: chat with any LLM, keep every turn in Redis, export the history.

``from neurolink_cli import NeuroLink`` gives the SDK (CONTRACT §7); it is loaded on first
access so that ``import neurolink_cli`` (and every CLI command) stays cheap.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["NeuroLink", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "NeuroLink":
        from neurolink_cli.sdk import NeuroLink

        return NeuroLink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
