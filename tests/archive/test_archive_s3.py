"""Issue 17 on S3: against a real S3-compatible server (moto's, in its own process on a
free local port), never the network and never a mock of boto3. Upload with a checksum,
verify, compare-and-delete, the server killed mid-run, wrong credentials, a bucket that
does not exist, and a writer appending during the run."""

from __future__ import annotations

import gzip
import hashlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.archive_helpers import Both
from support.s3_server import SECRET_KEY, S3Server

from neurolink_cli.archive.run import ArchiveRequest, archive
from neurolink_cli.archive.s3 import S3Destination
from neurolink_cli.errors import DestinationUnavailable
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.util.timeutil import now_rfc3339

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def aws(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return s3


def bucket(server: S3Server) -> str:
    name = f"b{random.randrange(10**9)}"
    server.client().create_bucket(Bucket=name)
    return name


def objects(server: S3Server, name: str) -> dict[str, bytes]:
    c = server.client()
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=name):
        for o in page.get("Contents", []):
            out[o["Key"]] = c.get_object(Bucket=name, Key=o["Key"])["Body"].read()
    return out


def docs(objs: dict[str, bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(gzip.decompress(v)) for k, v in objs.items() if k.endswith(".json.gz")]


def test_upload_verify_then_compare_and_delete(aws: S3Server, both: Both) -> None:
    for i in range(30):
        both.native_session(f"n{i}")
    both.ts_session("t1")
    name = bucket(aws)
    request = ArchiveRequest(to=f"s3://{name}/nl/", everything=True, batch=8, jobs=4)
    report = archive(both.repo, request)
    assert report.archived == 31 and report.deleted == 31 and both.present() == set()
    objs = objects(aws, name)
    manifest = orjson.loads(objs[f"nl/{report.run}/manifest.json"])
    assert len(manifest["sessions"]) == len(manifest["deleted"]) == 31
    for entry in manifest["sessions"]:
        body = objs[f"nl/{report.run}/{entry['file']}"]
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
    head = aws.client().head_object(
        Bucket=name, Key=f"nl/{report.run}/n0.json.gz", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"]  # uploaded with an SHA-256 checksum S3 keeps
    assert {d["sessionId"] for d in docs(objs)} == {*(f"n{i}" for i in range(30)), "t1"}


def test_a_concurrent_writer_loses_nothing(aws: S3Server, both: Both) -> None:
    written = set()
    for i in range(120):
        both.native_session(f"n{i}", turns=1)
        written.add(f"n{i} turn 0")
    stop = threading.Event()

    def writer() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            both.native.append_turn(f"n{k % 120}", make_turn("user", f"w{k}", now_rfc3339()))
            written.add(f"w{k}")

    name = bucket(aws)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = archive(
            both.repo, ArchiveRequest(to=f"s3://{name}/", everything=True, batch=10, jobs=4)
        )
    finally:
        stop.set()
        thread.join()
    assert report.deleted > 0
    archived = {t["content"] for d in docs(objects(aws, name)) for t in d["turns"]}
    assert written <= archived | both.contents()


class Killing(S3Destination):
    """A real S3 destination whose server is killed before its ``n``-th put."""

    def __init__(self, url: str, server: S3Server, n: int, seen: dict[str, bytes]) -> None:
        super().__init__(url, jobs=2, endpoint_url=server.url)
        self.server, self.n, self.calls, self.seen = server, n, 0, seen

    def put(self, run: str, items: list[tuple[str, bytes]]) -> None:
        self.calls += 1
        if self.calls == self.n:
            self.seen.update(objects(self.server, self.bucket))  # what the archive held
            self.server.stop()
        super().put(run, items)


def test_server_killed_mid_run(both: Both, monkeypatch: pytest.MonkeyPatch) -> None:
    server = S3Server().start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    for i in range(40):
        both.native_session(f"n{i}")
    name = bucket(server)
    seen: dict[str, bytes] = {}
    request = ArchiveRequest(to=f"s3://{name}/", everything=True, batch=10)
    try:
        with pytest.raises(DestinationUnavailable, match="unreachable"):
            archive(both.repo, request, destination=Killing(request.to, server, 4, seen))
    finally:
        server.stop()
    left = {sid for _, sid in both.present()}
    archived = {d["sessionId"] for d in docs(seen)}
    assert left | archived == {f"n{i}" for i in range(40)}  # never in neither
    assert 0 < len(left) < 40
    # a server back (here: a new one, moto keeps nothing), the same command finishes the job
    again = S3Server().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", again.url)
        again.client().create_bucket(Bucket=name)
        report = archive(both.repo, request)
        assert report.archived == len(left) and both.present() == set()
    finally:
        again.stop()


def _cli_env(server: S3Server, **extra: str) -> dict[str, str]:
    return {**server.env(), **extra}


def test_cli_archives_to_s3(cli: Any, store: NativeStore, aws: S3Server) -> None:
    both_ids = ["s1", "s2"]
    for sid in both_ids:
        store.append_turn(sid, make_turn("user", "hi", "2026-01-01T00:00:00.000Z"), user_id="u")
    name = bucket(aws)
    result = cli(
        "memory", "archive", "--to", f"s3://{name}/x", "--older-than", "30d", "--yes",
        "--jobs", "2", env=_cli_env(aws),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"s3://{name}/x/" in result.stderr and not store.exists("s1")
    assert {d["sessionId"] for d in docs(objects(aws, name))} == set(both_ids)


def test_missing_bucket_is_exit_4(cli: Any, store: NativeStore, aws: S3Server) -> None:
    store.append_turn("s1", make_turn("user", "hi", "2026-01-01T00:00:00.000Z"))
    result = cli("memory", "archive", "--to", "s3://no-such-bucket/", "--all", "--yes",
                 env=_cli_env(aws))  # fmt: skip
    assert result.exit_code == 4
    assert "no-such-bucket" in result.stderr and "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and store.exists("s1")


def test_wrong_credentials_are_exit_4_and_no_secret_shown(
    cli: Any, store: NativeStore, tmp_path: Path
) -> None:
    server = S3Server(auth=True).start()
    try:
        store.append_turn("s1", make_turn("user", "hi", "2026-01-01T00:00:00.000Z"))
        result = cli("memory", "archive", "--to", "s3://bkt/", "--all", "--yes",
                     env=_cli_env(server))  # fmt: skip
    finally:
        server.stop()
    assert result.exit_code == 4 and "credentials refused" in result.stderr
    assert SECRET_KEY not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and store.exists("s1")


def test_unreachable_server_is_exit_4(cli: Any, store: NativeStore) -> None:
    server = S3Server()  # never started: nothing listens on its port
    store.append_turn("s1", make_turn("user", "hi", "2026-01-01T00:00:00.000Z"))
    result = cli("memory", "archive", "--to", "s3://bkt/", "--all", "--yes",
                 env=_cli_env(server))  # fmt: skip
    assert result.exit_code == 4 and "unreachable" in result.stderr
    assert store.exists("s1")


def test_export_all_to_s3_through_the_same_layer(
    cli: Any, store: NativeStore, aws: S3Server
) -> None:
    for sid in ("s1", "team/a:1"):
        store.append_turn(sid, make_turn("user", "hi", "2026-01-01T00:00:00.000Z"), user_id="u")
    name = bucket(aws)
    result = cli("memory", "export-all", "--output", f"s3://{name}/exp/", env=_cli_env(aws))
    assert result.exit_code == 0, result.stderr
    objs = objects(aws, name)
    manifest = orjson.loads(objs["exp/manifest.json"])
    assert sorted(e["file"] for e in manifest["sessions"]) == ["s1.json", "team%2Fa%3A1.json"]
    for e in manifest["sessions"]:
        assert hashlib.sha256(objs[f"exp/{e['file']}"]).hexdigest() == e["sha256"]
    assert store.exists("s1")  # an export deletes nothing
    resumed = cli("memory", "export-all", "--output", f"s3://{name}/exp/", "--resume",
                  env=_cli_env(aws))  # fmt: skip
    assert resumed.exit_code == 2
