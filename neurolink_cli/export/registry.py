"""The export formats: one table, read by every command, the REPL and the importer.

One row per format (the iredis command-table idea): its name, the extension of its files,
the writer class, and what it is offered for. ``memory export``, ``memory export-all``
(its Click choices and what a stream uses), the REPL's ``/export``, and the importer's
check of an export directory all read this table; a new format is one new row.

The writers' modules are imported when a writer is made, not with the table: the CLI reads
the table for its Click choices on every start (``memory list`` too), and the writers and
their imports cost more start-up than the table itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from neurolink_cli.export.formats import Failure
    from neurolink_cli.models import SessionDoc


class Writer(Protocol):
    """What every formatter does: ``write`` each session, then ``close``."""

    def write(self, doc: SessionDoc) -> None: ...

    def close(self) -> list[Failure]: ...


WriterFactory = Callable[[IO[bytes], bool, bool], Writer]  # (out, include_metadata, csv_guard)


@dataclass(frozen=True)
class Format:
    """One export format and what it is offered for."""

    name: str
    extension: str
    writer: WriterFactory
    single: bool  # ``memory export`` / ``/export``: one session
    stream_as: str | None  # ``export-all`` on stdout writes this format (None: not offered)
    directory: bool  # ``export-all --output DIR``: one file per session
    importable: bool  # ``memory import`` reads it (files and export-all directories)
    # the turns a session has in this format, when not all of them: 0 leaves it out
    # (``export-all`` lists it as skipped), and ``--min-turns`` compares with it
    turns_of: Callable[[SessionDoc], int] | None = None


FORMATS: dict[str, Format] = {}


def _register(fmt: Format) -> None:
    FORMATS[fmt.name] = fmt


def _formats() -> Any:
    from neurolink_cli.export import formats

    return formats


def _finetune() -> Any:
    from neurolink_cli.export import finetune

    return finetune


_register(Format("json", "json", lambda o, m, g: _formats().JsonWriter(o, m), True, "jsonl",
                 True, True))  # fmt: skip
_register(Format("csv", "csv", lambda o, m, g: _formats().CsvWriter(o, m, g), True, "csv", True,
                 False))  # fmt: skip
_register(Format("jsonl", "jsonl", lambda o, m, g: _formats().JsonlWriter(o, m), True, "jsonl",
                 True, True))  # fmt: skip
_register(Format("markdown", "md", lambda o, m, g: _formats().MarkdownWriter(o, m), True, None,
                 False, False))  # fmt: skip
# fine-tuning data: OpenAI fine-tuning, Hugging Face TRL "messages", most services (issue 18)
_register(Format("chat-jsonl", "chat.jsonl", lambda o, m, g: _finetune().ChatJsonlWriter(o), True,
                 "chat-jsonl", True, False,
                 turns_of=lambda doc: _finetune().example_turns(doc)))  # fmt: skip


def kept_turns(fmt: Format, doc: SessionDoc) -> int:
    """How many turns ``doc`` has in format ``fmt`` (for ``--min-turns``)."""
    return fmt.turns_of(doc) if fmt.turns_of is not None else doc.turn_count()


def get(name: str) -> Format:
    """The row of ``name``; ValueError for an unknown format."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown export format {name!r}") from None


def single_choices() -> list[str]:
    """Formats of ``memory export`` (one session)."""
    return [f.name for f in FORMATS.values() if f.single]


def bulk_choices() -> list[str]:
    """Formats of ``memory export-all`` (a stream on stdout or a directory)."""
    return [f.name for f in FORMATS.values() if f.stream_as or f.directory]


def importable() -> list[str]:
    """Formats ``memory import`` reads."""
    return [f.name for f in FORMATS.values() if f.importable]


def make_writer(name: str, out: IO[bytes], include_metadata: bool = True,
                csv_guard: bool = True) -> Writer:  # fmt: skip
    """The writer of format ``name`` on ``out``."""
    return get(name).writer(out, include_metadata, csv_guard)


def render(doc: SessionDoc, name: str, include_metadata: bool = True,
           csv_guard: bool = True) -> bytes:  # fmt: skip
    """One session as the whole content of a file of format ``name``."""
    buf = io.BytesIO()
    writer = make_writer(name, buf, include_metadata, csv_guard)
    writer.write(doc)
    writer.close()
    return buf.getvalue()
