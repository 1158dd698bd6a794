"""The project's exceptions, each carrying the exit code of CONTRACT §1.

Core modules raise these; only the command edge (``cli.py``) turns them into a one-line
message on stderr and an exit status. Messages name what was wrong and what to do.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4
EXIT_INTERRUPTED = 130


class NeurolinkError(Exception):
    """Base class: a failure to report as one line, with ``exit_code``."""

    exit_code = EXIT_ERROR


NeuroLinkError = NeurolinkError
"""The SDK's name for the base class (``from neurolink_cli import NeuroLinkError``): every
exception the SDK raises on purpose is one; ``exit_code`` is what the CLI would exit with."""


class BadInput(NeurolinkError):
    """A value given by the user is not acceptable (bad id, time, duration, path...)."""

    exit_code = EXIT_USAGE


class SessionNotFound(NeurolinkError):
    """The named session does not exist in either layout."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, *session_ids: str) -> None:
        names = ", ".join(repr(s) for s in session_ids)
        noun = "session" if len(session_ids) == 1 else "sessions"
        super().__init__(f"{noun} {names} not found; run 'neurolink memory list' to see them")
        self.session_ids = session_ids


class StoreUnavailable(NeurolinkError):
    """Redis cannot be reached, refused authentication, or went away and did not come back."""

    exit_code = EXIT_UNAVAILABLE


class PartialFailure(NeurolinkError):
    """A bulk command finished, but some sessions could not be processed."""

    exit_code = EXIT_ERROR


class ProviderError(NeurolinkError):
    """The LLM provider refused or failed a request (no key, unknown model, HTTP error).

    ``error_type`` is one of :data:`neurolink_cli.failures.ERROR_TYPES`, ``status`` the HTTP
    status when there was one; :meth:`as_turn_error` is what a failed turn stores.
    """

    exit_code = EXIT_ERROR

    def __init__(
        self, message: str, *, error_type: str = "provider_error", status: int | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status

    def as_turn_error(self) -> dict[str, object]:
        """The ``error`` field of the stored assistant turn (CONTRACT §9)."""
        return {"type": self.error_type, "message": str(self), "status": self.status}


class BadData(NeurolinkError):
    """Something stored in Redis is not what the layout says (not JSON, wrong type...)."""

    exit_code = EXIT_ERROR


class DestinationUnavailable(NeurolinkError):
    """An archive destination (an S3-compatible server) cannot be reached, refused the
    credentials, or has no such bucket: the exit-4 class of an unreachable Redis."""

    exit_code = EXIT_UNAVAILABLE
