"""``memory archive`` (CONTRACT §8): export, make durable, verify, then compare-and-delete.

One implementation for the command and the SDK::

    from neurolink_cli.archive import ArchiveRequest, archive
    report = archive(repo, ArchiveRequest(to="s3://bkt/nl/", older_than="30d"))

:mod:`.run` is the pipeline, :mod:`.journal` what a run folder records to be resumable,
:mod:`.destination` the interface and the local directory, :mod:`.s3` the bucket (boto3 is
imported only when an ``s3://`` destination is used).
"""

from neurolink_cli.archive.run import ArchiveReport, ArchiveRequest, archive

__all__ = ["ArchiveReport", "ArchiveRequest", "archive"]
