"""Where ``memory import`` reads documents from: a file, stdin, or an export directory.

Every source is offered as a function that yields ``(where, document)`` afresh on each
call, because the importer reads its input twice (check everything, then write). stdin
is spooled to a temporary file (in memory up to 16 MB) so it can be read twice. A
directory is read through its ``manifest.json``: only the files it lists, each checked
against its recorded sha256 and size; one that differs refuses the whole import.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from neurolink_cli.errors import BadInput
from neurolink_cli.export.files import MANIFEST
from neurolink_cli.export.registry import importable
from neurolink_cli.importer.documents import bad_input
from neurolink_cli.importer.lazy import LAZY_BYTES, lazy_value

SPOOL_BYTES = 16 << 20
# orjson reads integers beyond 64 bits as floats: text with a run of 19+ digits is parsed
# by the standard library instead, whose integers are exact. (Found by mapping every digit
# to "0" and everything else to " ", then a substring search: C speed, unlike a regex.)
_DIGIT_MAP = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"0" * 19

Warn = Callable[[str], None]


class JSONProblem(ValueError):
    """Input that is not strict JSON (RFC 8259), with the reason."""


def _constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONProblem(f"the number {text[:40]} is too large")
    return value


def parse_json(data: bytes) -> Any:
    """One JSON value, exactly: integers of any size kept, NaN/Infinity refused.

    orjson first (fast); the standard library for what it refuses or would round (long
    integers, lone surrogate escapes, a UTF-8 BOM). Raises :class:`JSONProblem`.
    """
    if _LONG_RUN not in data.translate(_DIGIT_MAP):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JSONProblem(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise JSONProblem("nested too deeply") from None
    except JSONProblem:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise JSONProblem(str(exc).splitlines()[0] if str(exc) else "invalid") from None


def _parse_error(where: str, exc: Exception) -> BadInput:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return bad_input(where, f"not valid JSON ({text})")


def iter_stream(fh: IO[bytes], name: str) -> Iterator[tuple[str, Any]]:
    """Parsed documents of a seekable binary file: JSONL, one JSON value, or several.

    Yields ``(where, document)``. A first non-blank line that is a complete JSON value
    means JSONL; otherwise the whole file is parsed as JSON (a document, an array of
    documents, or documents one after another).
    """
    fh.seek(0)
    first: bytes | None = None
    lineno = 0
    lines = _lines(fh)
    for line in lines:
        lineno += 1
        if line and not line.isspace():  # strip() would copy a long line
            first = line
            break
    if first is None:
        return
    where = f"{name} line {lineno}"

    def first_whole(line: bytes = first, where: str = where) -> list[Any]:
        try:
            return _items(parse_json(line))
        except JSONProblem as exc:  # not JSONL after all: the whole file's error
            fh.seek(0)
            for _ in _parse_whole(_read_rest(fh), name):
                pass
            raise _parse_error(where, exc) from None

    value = _lazy(first, first_whole)
    if value is None:
        try:
            value = parse_json(first)
        except JSONProblem:
            yield from _iter_whole(fh, name)
            return
    yield from _expand(value, where)
    for line in lines:
        lineno += 1
        if not line or line.isspace():
            continue
        where = f"{name} line {lineno}"
        value = _lazy(line, functools.partial(_parsed_items, line, where))
        if value is None:
            value = _parse(line, where)
        yield from _expand(value, where)


LINE_CHUNK = 1 << 20


def _lines(fh: IO[bytes]) -> Iterator[bytes]:
    """The lines of ``fh``, as iterating over it gives them; a line longer than
    :data:`LINE_CHUNK` is measured first and then read in one read of its size (iterating
    collects its chunks and joins them: twice the line in memory for a moment)."""
    while True:
        line = fh.readline(LINE_CHUNK)
        if not line:
            return
        if len(line) < LINE_CHUNK or line.endswith(b"\n"):
            yield line
            continue
        start = fh.tell() - len(line)
        del line
        while (chunk := fh.readline(LINE_CHUNK)) and not chunk.endswith(b"\n"):
            pass
        end = fh.tell()
        fh.seek(start)
        line = fh.read(end - start)
        fh.seek(end)
        yield line


def _parse(data: bytes, where: str) -> Any:
    try:
        return parse_json(data)
    except JSONProblem as exc:
        raise _parse_error(where, exc) from None


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _parsed_items(data: bytes, where: str) -> list[Any]:
    return _items(_parse(data, where))


def _lazy(data: bytes, whole: Callable[[], list[Any]]) -> Any | None:
    """``data``'s value with a big document's turns left as text, or None (parse it whole)."""
    if len(data) < LAZY_BYTES:
        return None
    return lazy_value(data, parse_json, whole)


def _expand(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield f"{where} item {i}", item
    else:
        yield where, value


def _iter_whole(fh: IO[bytes], name: str) -> Iterator[tuple[str, Any]]:
    fh.seek(0)
    data = _read_rest(fh)
    value = _lazy(data, lambda: [v for _, v in _parse_whole(data, name)])
    if value is not None:
        yield from _expand(value, name)
        return
    yield from _parse_whole(data, name)


def _read_rest(fh: IO[bytes]) -> bytes:
    """The rest of ``fh`` in one read of its known size (``read()`` collects chunks and
    joins them: twice the file in memory for a moment)."""
    try:
        here = fh.tell()
        size = fh.seek(0, os.SEEK_END) - here
        fh.seek(here)
    except (OSError, ValueError):
        return fh.read()
    data = fh.read(size) if size > 0 else b""
    rest = fh.read()  # the file grew meanwhile
    return data + rest if rest else data


def _parse_whole(data: bytes, name: str) -> Iterator[tuple[str, Any]]:
    """The documents of a whole file: one JSON value, or several one after another."""
    try:
        whole = parse_json(data)
    except JSONProblem as exc:
        first_error = exc
    else:
        yield from _expand(whole, name)
        return
    # Several documents one after another (``cat a.json b.json``).
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad_input(name, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    decoder = json.JSONDecoder(parse_constant=_constant, parse_float=_finite)
    pos, n, count = 0, len(text), 0
    values = []
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            raise _parse_error(name, first_error) from None
        values.append(value)
        count += 1
    for i, value in enumerate(values):
        yield from _expand(value, f"{name} document {i + 1}" if count > 1 else name)


def _is_path_text(name: str) -> bool:
    """A file name an export can have: UTF-8 text without NUL or backslash."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\0" not in name and "\\" not in name


@dataclass
class Manifest:
    """The checked parts of an ``export-all`` directory's manifest.json."""

    directory: Path
    entries: list[dict[str, Any]]
    complete: bool
    failed: list[Any]


def read_manifest(directory: Path, warn: Warn | None = None) -> Manifest:
    """Load and check ``DIR/manifest.json``; BadInput when the directory cannot be imported."""
    path = directory / MANIFEST
    if not path.is_file():
        raise BadInput(
            f"{directory} has no {MANIFEST}: import reads directories written by "
            "'neurolink memory export-all --output DIR'; import single files by name"
        )
    try:
        data = parse_json(path.read_bytes())
    except (OSError, JSONProblem) as exc:
        raise bad_input(str(path), f"cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sessions"), list):
        raise bad_input(str(path), "not an export-all manifest (no sessions list)")
    fmt = data.get("format")
    if fmt not in importable():
        raise bad_input(
            str(path),
            f"the export is in {fmt!r} format; import reads {' or '.join(importable())} "
            "(export again with --format json)",
        )
    entries = []
    for i, entry in enumerate(data["sessions"]):
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("file"), str)
            and isinstance(entry.get("sessionId"), str)
            and isinstance(entry.get("sha256"), str)
        )
        if not ok:
            raise bad_input(str(path), f"sessions[{i}] lacks file, sessionId or sha256")
        name = entry["file"]
        if not _is_path_text(name) or Path(name).name != name or name in ("", ".", ".."):
            raise bad_input(
                str(path), f"sessions[{i}] names a file outside the directory: {name!r}"
            )
        entries.append(entry)
    listed = {e["file"] for e in entries}
    if warn:
        for child in sorted(directory.iterdir()):
            if child.name not in listed and child.name != MANIFEST and child.name[:1] != ".":
                warn(f"{child}: not listed in {MANIFEST}, ignored")
    failed = data.get("failed") or []
    if not isinstance(failed, list):
        raise bad_input(str(path), "its failed field is not a list")
    return Manifest(directory, entries, data.get("complete") is not False, failed)


def _read_checked(manifest: Manifest, entry: dict[str, Any]) -> bytes:
    path = manifest.directory / entry["file"]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(
            f"{path}: listed in {MANIFEST} but cannot be read ({exc.strerror or exc}); "
            "nothing imported"
        ) from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"].lower():
        raise BadInput(
            f"{path}: its sha256 differs from {MANIFEST} (the file was changed or is "
            "damaged); nothing imported. Export it again, or import it alone by file name"
        )
    return data


def iter_directory(manifest: Manifest) -> Iterator[tuple[str, Any]]:
    """Documents of an export-all directory, each file checked against the manifest."""
    for entry in manifest.entries:
        data = _read_checked(manifest, entry)
        name = str(manifest.directory / entry["file"])
        value = _lazy(data, functools.partial(_parsed_items, data, name))
        if value is None:
            value = _parse(data, name)
        if isinstance(value, dict) and value.get("sessionId") != entry["sessionId"]:
            raise bad_input(name, f"holds session {value.get('sessionId')!r}, not the one listed")
        yield name, value


@contextlib.contextmanager
def open_source(
    source: str, stdin: IO[bytes] | None = None, warn: Warn | None = None
) -> Iterator[Callable[[], Iterator[tuple[str, Any]]]]:
    """A function that yields ``(where, document)`` afresh on every call (for two passes)."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            shutil.copyfileobj(stream, spool)
            yield lambda: iter_stream(spool, "stdin")  # type: ignore[arg-type]
        return
    if not source:  # Path("") is the current directory
        raise BadInput("no input named: give a FILE, an export-all DIR, or - for stdin")
    path = Path(source)
    if path.is_dir():
        manifest = read_manifest(path, warn)
        if warn and not manifest.complete:
            warn(f"{path}: the export did not complete; importing the files it finished")
        if warn and manifest.failed:
            warn(f"{path}: {len(manifest.failed)} sessions failed to export and are not in it")
        yield lambda: iter_directory(manifest)
        return
    try:
        fh = path.open("rb")
        regular = stat.S_ISREG(os.fstat(fh.fileno()).st_mode)
    except OSError as exc:
        raise BadInput(f"cannot read {source}: {exc.strerror or exc}") from None
    with fh:
        if regular:
            yield lambda: iter_stream(fh, source)
            return
        # A pipe or device (/dev/stdin, <(cmd), a FIFO) can be read once: spool it, or
        # pass two would find it empty and import nothing.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            try:
                shutil.copyfileobj(fh, spool)
            except OSError as exc:
                raise BadInput(f"cannot read {source}: {exc.strerror or exc}") from None
            yield lambda: iter_stream(spool, source)  # type: ignore[arg-type]
