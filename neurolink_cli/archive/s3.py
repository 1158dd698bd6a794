"""``s3://bucket/prefix/``: an archive destination in any S3-compatible store (boto3).

- Credentials come from the standard AWS chain (environment, ``~/.aws``, profile, instance
  role); ``endpoint_url`` (``--s3-endpoint-url``, else ``AWS_ENDPOINT_URL`` as boto3 reads
  it) selects an S3-compatible server.
- Every object is uploaded with ``ChecksumAlgorithm="SHA256"`` *and* the SHA-256 we
  computed (``ChecksumSHA256``): S3 checks the body against it and refuses the upload
  otherwise. An object exists once its PUT returned (S3 has no half-written objects), so
  "durable" is the upload completed; ``verify`` asks S3 (HEAD with checksum mode) for the
  checksum it stored and compares it with ours, reading the object back only when the
  server keeps no checksum.
- Uploads of a batch run ``jobs`` at a time on one client (boto3 clients are thread-safe).
- Failures of the store itself (unreachable, credentials refused, no such bucket) become
  :class:`~neurolink_cli.errors.DestinationUnavailable` (exit 4), one line, naming the
  bucket and S3's error code, never a key or secret.
"""

from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from neurolink_cli.archive.destination import Destination, Item
from neurolink_cli.errors import DestinationUnavailable, NeurolinkError

_AUTH = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "UnrecognizedClientException",
    "AuthorizationHeaderMalformed",
    "403",
}
_NO_BUCKET = {"NoSuchBucket", "404"}


def _b64(sha_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha_hex)).decode()


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> (bucket, ``some/prefix/``)."""
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise NeurolinkError(f"{url}: name a bucket, as in s3://bucket/prefix/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Destination(Destination):
    """Runs under ``s3://bucket/prefix/<run>/``."""

    def __init__(self, url: str, *, jobs: int = 8, endpoint_url: str | None = None) -> None:
        self.bucket, self.prefix = parse_url(url)
        self.shown = f"s3://{self.bucket}/{self.prefix}"
        self.jobs = max(1, jobs)
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=max(10, self.jobs),
                # an S3-compatible server may not know the newer default integrity headers
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            try:
                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint_url or None, config=config
                )
            except Exception as exc:  # noqa: BLE001 - e.g. a bad endpoint URL or profile
                raise DestinationUnavailable(
                    f"cannot use {self.shown}: {type(exc).__name__}; check the endpoint URL "
                    "and the AWS profile"
                ) from None
        return self._client

    def _call(self, what: str, func: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return func(Bucket=self.bucket, **kwargs)
        except NoCredentialsError:
            raise DestinationUnavailable(
                f"cannot {what} {self.shown}: no AWS credentials found; set AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials"
            ) from None
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "")) or "error"
            if code in _AUTH:
                raise DestinationUnavailable(
                    f"cannot {what} {self.shown}: credentials refused ({code}); check the "
                    "AWS credentials and their permissions on the bucket"
                ) from None
            if code in _NO_BUCKET and kwargs.get("Key") is None:
                raise DestinationUnavailable(
                    f"cannot {what} {self.shown}: bucket {self.bucket!r} does not exist "
                    f"({code}); create it or check the name and the endpoint"
                ) from None
            if code == "NoSuchBucket":
                raise DestinationUnavailable(
                    f"cannot {what} {self.shown}: bucket {self.bucket!r} does not exist; "
                    "create it or check the name and the endpoint"
                ) from None
            raise
        except BotoCoreError as exc:
            raise DestinationUnavailable(
                f"cannot {what} {self.shown}: the S3 server is unreachable "
                f"({type(exc).__name__}); check the endpoint and the network"
            ) from None

    def _key(self, run: str, name: str) -> str:
        return f"{self.prefix}{run}/{name}" if run else f"{self.prefix}{name}"

    def _map(self, func: Any, items: list[Any]) -> list[Any]:
        if self.jobs == 1 or len(items) <= 1:
            return [func(i) for i in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="neurolink-s3")
        return list(self._pool.map(func, items))

    # -- the interface ----------------------------------------------------------------------
    def open(self) -> None:
        self._call("reach", self.client.head_bucket)

    def runs(self) -> list[str]:
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2")
        kwargs = {"Prefix": self.prefix, "Delimiter": "/"}
        for page in self._call("list", pages.paginate, **kwargs):
            for common in page.get("CommonPrefixes", []):
                found.append(common["Prefix"][len(self.prefix) :].rstrip("/"))
        return sorted(found)

    def read(self, run: str, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            reply = self._call("read", self.client.get_object, Key=self._key(run, name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(reply["Body"].read())

    def names(self, run: str, under: str) -> list[str]:
        base = self._key(run, "")
        pages = self.client.get_paginator("list_objects_v2")
        names = []
        for page in self._call("list", pages.paginate, Prefix=f"{base}{under}/"):
            names += [o["Key"][len(base) :] for o in page.get("Contents", [])]
        return sorted(names)

    def put(self, run: str, items: list[Item]) -> None:
        def upload(item: Item) -> None:
            name, data = item
            self._call(
                "upload to",
                self.client.put_object,
                Key=self._key(run, name),
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            )

        self._map(upload, items)

    def make_durable(self, run: str) -> None:
        """Nothing to do: a completed PUT is stored (with its verified checksum)."""

    def verify(self, run: str, items: list[tuple[str, str]]) -> list[str]:
        from botocore.exceptions import ClientError

        def bad(item: tuple[str, str]) -> str | None:
            name, sha = item
            try:
                head = self._call(
                    "verify", self.client.head_object, Key=self._key(run, name),
                    ChecksumMode="ENABLED",
                )  # fmt: skip
            except ClientError:
                return name
            stored = head.get("ChecksumSHA256")
            if stored is not None and "-" not in stored:
                return None if stored == _b64(sha) else name
            data = self.read(run, name)  # no checksum kept by this server: read it back
            return None if data is not None and hashlib.sha256(data).hexdigest() == sha else name

        return [n for n in self._map(bad, items) if n is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
