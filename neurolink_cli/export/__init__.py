"""Export: store → :class:`~neurolink_cli.models.SessionDoc` → format → destination.

- :mod:`.transform` what changes a document before it is written: the time window,
  redaction, the metadata switch. Each is applied once, in one place, for every format.
- :mod:`.registry`  the table of formats (name, extension, writer, what each is offered
  for), read by every command, the REPL's ``/export`` and the importer: a new format is a row.
- :mod:`.formats`   the formatters (JSON, JSONL, CSV, Markdown); each writes bytes to a
  binary stream, one session at a time, without holding more than one session.
- :mod:`.shared`    export-all to a stream on two cores: the pages shared by two processes.
- :mod:`.redact`    the redaction rules of ``--redact``.
- :mod:`.naming`    the file name of a session in ``export-all --output DIR``.
- :mod:`.files`     ``export-all --output DIR``: lock, one atomic file per session, manifest,
  ``--resume``.
- :mod:`.ledger`    what a bulk export did, recorded once (summary line and manifest).
- :mod:`.run`       the orchestration the ``memory export``/``export-all`` commands call.

Every file is written by :mod:`neurolink_cli.util.atomic`.
"""
