"""The ``neurolink loop`` REPL on prompt_toolkit: state, key bindings, toolbar, slash commands.

- :mod:`.state`: :class:`ChatState`, the one object the rest reads;
- :mod:`.bindings` and :mod:`.toolbar`: factories over that state (the toolbar does no I/O);
- :mod:`.commands`: the slash-command registry, filled by the ``@slash_command`` decorator;
- :mod:`.app`: the read-send-print loop (:func:`run_repl`);
- :mod:`.runner`: from the command's options and the ``AppContext`` to a running loop.
"""
