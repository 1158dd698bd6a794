"""Issue 17: ``memory archive`` to a local directory — export, durable, verify, then
compare-and-delete exactly the version archived; both layouts, one Redis and a Cluster."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.archive_helpers import DAY_MS, Both, archived_docs, manifests

from neurolink_cli.archive.destination import LocalDestination
from neurolink_cli.archive.run import KEPT_CHANGED, ArchiveRequest, archive
from neurolink_cli.errors import BadInput
from neurolink_cli.export.transform import ExportOptions


def test_archives_old_sessions_of_both_layouts_then_deletes_them(
    both: Both, tmp_path: Path
) -> None:
    for i in range(5):
        both.native_session(f"old-{i}", age_ms=40 * DAY_MS)
    both.native_session("new-0", age_ms=DAY_MS)
    both.ts_session("ts-old", age_ms=40 * DAY_MS)
    both.ts_session("ts-new", age_ms=DAY_MS)
    report = archive(both.repo, ArchiveRequest(to=str(tmp_path), older_than="30d", batch=2))

    assert report.archived == 6 and report.deleted == 6 and not report.kept and not report.failed
    assert both.present() == {("native", "new-0"), ("neurolink-ts", "ts-new")}
    (run,) = [p for p in tmp_path.iterdir()]
    assert run.name == report.run and run.name.endswith("Z")
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    assert manifest["complete"] and len(manifest["sessions"]) == 6
    assert {d["sessionId"] for d in manifest["deleted"]} == {
        *(f"old-{i}" for i in range(5)),
        "ts-old",
    }
    for entry in manifest["sessions"]:
        data = (run / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        doc = orjson.loads(gzip.decompress(data))
        assert doc["sessionId"] == entry["sessionId"] and len(doc["turns"]) == entry["turns"]
    assert {d["sessionId"] for d in archived_docs(tmp_path)} == {
        *(f"old-{i}" for i in range(5)),
        "ts-old",
    }
    # nothing left to do: the next run archives nothing, in a folder of its own
    again = archive(both.repo, ArchiveRequest(to=str(tmp_path), older_than="30d"))
    assert again.archived == 0 and again.run != report.run


def test_session_ids_keep_and_plain_jsonl(both: Both, tmp_path: Path) -> None:
    both.native_session("a")
    both.native_session("b")
    request = ArchiveRequest(
        to=str(tmp_path), session_ids=("a",), keep=True, compress="none",
        export=ExportOptions(format="jsonl"),
    )  # fmt: skip
    report = archive(both.repo, request)
    assert report.archived == 1 and report.deleted == 0
    assert both.present() == {("native", "a"), ("native", "b")}
    (manifest,) = manifests(tmp_path)
    assert manifest["kept"][0]["reason"].startswith("--keep")
    assert (tmp_path / report.run / "a.jsonl").read_bytes().count(b"\n") == 1


def test_dry_run_touches_nothing(both: Both, tmp_path: Path) -> None:
    both.native_session("a", age_ms=40 * DAY_MS)
    request = ArchiveRequest(to=str(tmp_path / "x"), everything=True, dry_run=True)
    report = archive(both.repo, request)
    assert report.selected == ["a"] and not (tmp_path / "x").exists()
    assert both.present() == {("native", "a")}


def test_time_window_needs_keep(both: Both, tmp_path: Path) -> None:
    opts = ExportOptions(start_ms=0)
    with pytest.raises(BadInput, match="--keep"):
        archive(both.repo, ArchiveRequest(to=str(tmp_path), everything=True, export=opts))


class Meddling(LocalDestination):
    """A real local destination that lets a test act between the steps of a batch."""

    def __init__(self, root: Path, **hooks: Any) -> None:
        super().__init__(root)
        self.hooks = hooks
        self.calls: dict[str, int] = {}

    def _hook(self, step: str) -> None:
        self.calls[step] = self.calls.get(step, 0) + 1
        if step in self.hooks:
            self.hooks[step](self.calls[step])

    def put(self, run: str, items: list[tuple[str, bytes]]) -> None:
        self._hook("put")
        super().put(run, items)

    def make_durable(self, run: str) -> None:
        super().make_durable(run)
        self._hook("durable")

    def verify(self, run: str, items: list[tuple[str, str]]) -> list[str]:
        bad = super().verify(run, items)
        self._hook("verify")
        return bad


def test_a_session_written_after_it_was_read_is_kept(both: Both, tmp_path: Path) -> None:
    for sid in ("a", "b", "c"):
        both.native_session(sid)
    both.ts_session("t")

    def write(n: int) -> None:  # between read and delete: one more turn, a changed blob
        if n == 1:  # the native batch
            both.native_session("b", turns=1)
        else:  # the TypeScript layout's
            both.client.set(f"{both.c}u1:t", both.client.get(f"{both.c}u1:t") + b" ")

    dest = Meddling(tmp_path, verify=write)
    report = archive(both.repo, ArchiveRequest(to=str(tmp_path), everything=True), destination=dest)
    assert {k["sessionId"] for k in report.kept} == {"b", "t"}
    assert all(k["reason"] == KEPT_CHANGED for k in report.kept)
    assert both.present() == {("native", "b"), ("neurolink-ts", "t")}
    assert "b turn 0" in both.contents()  # the newer version is whole in Redis
    # the next run takes them, in their new state
    nxt = archive(both.repo, ArchiveRequest(to=str(tmp_path), everything=True))
    assert nxt.archived == 2 and nxt.deleted == 2 and both.present() == set()


def test_a_file_that_does_not_verify_is_never_followed_by_a_delete(
    both: Both, tmp_path: Path
) -> None:
    both.native_session("a")
    both.native_session("b")

    def corrupt(n: int) -> None:
        for run in tmp_path.iterdir():
            if (run / "a.json.gz").exists():
                (run / "a.json.gz").write_bytes(b"garbage")

    dest = Meddling(tmp_path, durable=corrupt)
    report = archive(both.repo, ArchiveRequest(to=str(tmp_path), everything=True), destination=dest)
    assert [f["sessionId"] for f in report.failed] == ["a"]
    assert both.present() == {("native", "a")}


class Interrupt(BaseException):
    pass


@pytest.mark.parametrize("step", ["put", "durable", "verify"])
def test_interrupted_run_is_finished_by_the_same_command(
    both: Both, tmp_path: Path, step: str
) -> None:
    for i in range(10):
        both.native_session(f"s{i}")
    both.ts_session("t1")

    def stop(n: int) -> None:
        if n == 3:  # in the second batch (the first put is run.json)
            raise Interrupt

    request = ArchiveRequest(to=str(tmp_path), everything=True, batch=4)
    with pytest.raises(Interrupt):
        archive(both.repo, request, destination=Meddling(tmp_path, **{step: stop}))
    # every session is in Redis or in the archive
    left = {sid for _, sid in both.present()}
    in_archive = {d["sessionId"] for d in archived_docs(tmp_path)}
    assert left | in_archive == {*(f"s{i}" for i in range(10)), "t1"}
    assert not list(tmp_path.glob("*/manifest.json"))

    report = archive(both.repo, request)
    assert report.resumed and both.present() == set()
    (run,) = list(tmp_path.iterdir())  # the same folder, finished
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    names = [s["file"] for s in manifest["sessions"]]
    assert len(names) == len(set(names)) == 11
    assert len(manifest["deleted"]) == 11 and not manifest["kept"]
    assert sorted(d["sessionId"] for d in archived_docs(tmp_path)) == sorted(
        [*(f"s{i}" for i in range(10)), "t1"]
    )


def test_a_resumed_run_rewrites_a_damaged_file_and_keeps_a_changed_session(
    both: Both, tmp_path: Path
) -> None:
    for sid in ("a", "b", "c"):
        both.native_session(sid)

    def stop(n: int) -> None:
        raise Interrupt

    request = ArchiveRequest(to=str(tmp_path), everything=True)
    with pytest.raises(Interrupt):  # after the files are durable and verified, before deleting
        archive(both.repo, request, destination=Meddling(tmp_path, verify=stop))
    assert both.present() == {("native", "a"), ("native", "b"), ("native", "c")}
    (run,) = tmp_path.iterdir()
    (run / "a.json.gz").write_bytes(b"damaged")  # lost between the runs
    both.native_session("b", turns=1)  # written to between the runs

    report = archive(both.repo, request)
    assert report.resumed and report.reused == 1 and report.archived == 1  # c reused, a again
    assert [k["sessionId"] for k in report.kept] == ["b"]
    assert both.present() == {("native", "b")}
    assert orjson.loads(gzip.decompress((run / "a.json.gz").read_bytes()))["sessionId"] == "a"
    # b's older file stays as archived; the next (fresh) run takes b in its new state
    nxt = archive(both.repo, request)
    assert nxt.run != report.run and nxt.archived == 1 and both.present() == set()
    assert (
        len(orjson.loads(gzip.decompress((tmp_path / nxt.run / "b.json.gz").read_bytes()))["turns"])
        == 3
    )
