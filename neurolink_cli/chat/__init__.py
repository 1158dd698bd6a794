"""One conversation turn: history in, the LLM call (``llm``, the only litellm importer), turns out."""

from neurolink_cli.chat.conversation import (
    Chat,
    ChatOptions,
    TurnStore,
    TurnWriter,
    is_store_outage,
)

__all__ = ["Chat", "ChatOptions", "TurnStore", "TurnWriter", "is_store_outage"]
