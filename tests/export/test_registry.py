"""Issue 11: one table of formats, read by the commands, the stream mapping and import."""

from __future__ import annotations

import click
import orjson
from support.helpers import add_conversation

from neurolink_cli.cli.memory import memory_export, memory_export_all
from neurolink_cli.export import registry


def choices(command: click.Command) -> list[str]:
    (fmt,) = [p for p in command.params if p.name == "fmt"]
    assert isinstance(fmt.type, click.Choice)
    return list(fmt.type.choices)


def test_click_choices_come_from_the_table() -> None:
    assert choices(memory_export) == registry.single_choices() == list(registry.FORMATS)
    assert choices(memory_export_all) == registry.bulk_choices()
    assert registry.bulk_choices() == ["json", "csv", "jsonl", "chat-jsonl"]


def test_every_row_is_consistent() -> None:
    directory = [f for f in registry.FORMATS.values() if f.directory]
    assert len({f.extension for f in directory}) == len(directory)
    for fmt in registry.FORMATS.values():
        assert fmt.stream_as is None or registry.get(fmt.stream_as).stream_as == fmt.stream_as
    assert registry.importable() == ["json", "jsonl"]


def test_a_stream_of_json_is_jsonl_and_a_dir_file_is_the_single_export(cli, store) -> None:
    add_conversation(store, "s1", 2)
    stream = cli("memory", "export-all", "--format", "json")
    single = cli("memory", "export", "--session-id", "s1", "--format", "json")
    out = cli.cwd / "out"
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
    assert stream.stdout_bytes.count(b"\n") == 1
    assert orjson.loads(stream.stdout_bytes) == orjson.loads(single.stdout_bytes)
    assert (out / "s1.json").read_bytes() == single.stdout_bytes


def test_import_names_the_formats_it_reads(cli, store) -> None:
    add_conversation(store, "s1", 2)
    out = cli.cwd / "out"
    assert cli("memory", "export-all", "--output", str(out), "--format", "csv").exit_code == 0
    result = cli("memory", "import", str(out))
    assert result.exit_code == 2
    assert "'csv' format; import reads json or jsonl" in result.stderr
