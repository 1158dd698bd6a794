"""The repository layer: every read and write of conversation history goes through here.

- :mod:`.native`   the layout of CONTRACT §3 (a LIST of turns + a HASH per session, a ZSET index).
- :mod:`.upstream` the layout of the TypeScript SDK ``@juspay/neurolink`` (CONTRACT §4).
- :mod:`.memory`   an in-process store for ``loop --store memory`` (nothing is persisted).
- :mod:`.scripts`  the Lua scripts of the native layout (atomic append, safe prune).
- :mod:`.keyspace` SCAN over every primary and slot-grouped UNLINK (one Redis or a Cluster).
- :mod:`.batchread` the fast pipelined batch reads of export-all.
- :mod:`.nativedoc` the native session document from its HGETALL + LRANGE replies.
- :mod:`.walk`     the keyset walk over the index: every session exactly once.
- :mod:`.deletion` selection and compare-and-delete on the server (``memory delete``).
- :mod:`.repository` one façade over the native and upstream layouts that the commands use:
  list, get, iterate and delete sessions of either layout as one collection.

- :mod:`.connection` settings to a client (:func:`make_client`), redis-py errors to exit codes,
  and :class:`Connection`, the lazily connecting, never printing object the CLI and SDK hold.
- :mod:`.embedded` the embedded redis-server; :mod:`.resp` the tiny raw-RESP client it and
  ``--version`` use instead of redis-py.

Stores take a ready redis client (built by :func:`neurolink_cli.store.connection.make_client`);
their constructors do no I/O.
"""
