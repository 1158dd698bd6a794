"""A real S3-compatible server for the archive tests: moto's standalone server in its own
process, on a free port of 127.0.0.1 (never the network, never a mock of boto3).

It runs as a subprocess (``python -m moto.server``) so a test can kill it mid-run, as a
real outage would. Credentials are throwaway; moto accepts any, unless told otherwise, so
``wrong credentials`` tests turn on its IAM check (``INITIAL_NO_AUTH_ACTION_COUNT=0``)
on a separate instance.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

from support.redis_server import free_port, terminate

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key-do-not-show"


class S3Server:
    """``python -m moto.server`` on 127.0.0.1:<free port>."""

    def __init__(self, *, auth: bool = False) -> None:
        self.port = free_port()
        self.auth = auth
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The AWS environment a client (boto3, the CLI) needs to use this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def start(self, timeout: float = 30.0) -> S3Server:
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        if self.auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("moto server exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start")

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
