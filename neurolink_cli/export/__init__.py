"""Export: turning :class:`~neurolink_cli.models.SessionDoc` streams into bytes.

- :mod:`.transform` what changes a document before it is written: the time window,
  redaction, the metadata switch. Each is applied once, in one place, for every format.
- :mod:`.formats`   the formatters (JSON, JSONL, CSV, Markdown); each writes bytes to a
  binary stream, one session at a time, without holding more than one session.
- :mod:`.redact`    the redaction rules of ``--redact``.
- :mod:`.files`     ``export-all --output DIR``: one atomic file per session + manifest.
- :mod:`.run`       the orchestration the ``memory export``/``export-all`` commands call.
"""
