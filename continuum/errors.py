"""The one exception hierarchy of Continuum.

Every error a user can cause is a ``ContinuumError``; the CLI prints its message
as a single line and exits non-zero, so messages say what was expected, what
was found and, where there is one, what to type next.

    ContinuumError
    ├── LayoutError               an identifier or name that cannot be part of a path
    ├── WorldError                a world or scenario that cannot be loaded
    │   ├── WorldNotFoundError    (also FileNotFoundError)
    │   ├── ExpressionError       an expression outside the safe language, or mistyped
    │   └── ResolveError          an expression gave NaN/inf or failed on its numbers at run time
    ├── BlobError                 a blob file that is truncated, corrupt or foreign
    ├── CheckpointError           checkpoint write, discovery or validation failures
    │   ├── CheckpointNotFoundError (also FileNotFoundError)
    │   ├── CheckpointCorruptError  (also BlobError)
    │   └── ResumeMismatchError   world/era/stratum/schema differ from the checkpoint
    ├── LensError                 lens capture, chunk files and queries
    │   └── LensCorruptError      (also BlobError)
    ├── CatalogError              the run catalog refused or failed an operation
    │   ├── CatalogUnavailableError  cannot connect to / open the catalog at that URL
    │   ├── CatalogSchemaError    schema revision unknown to (newer than) this code
    │   ├── CatalogConflictError  a write collided with an existing row
    │   ├── RunNotFoundError      no run with that id (also LookupError)
    │   ├── BlobStateError        a checkpoint or lens-chunk row move the state machine forbids
    │   └── InvalidFilterError    a malformed search filter or page cursor (also ValueError)
    ├── StorageError              a blob root (directory or s3://...) failed (also OSError)
    │   ├── StorageUnreachableError  no answer from the endpoint (also ConnectionError)
    │   ├── BucketMissingError    the bucket named in the URL does not exist
    │   ├── StorageDeniedError    no, wrong or insufficient credentials (also PermissionError)
    │   ├── ObjectNotFoundError   no object (or file) at that key (also FileNotFoundError)
    │   └── StorageIntegrityError an object read back is not what was written
    ├── QueryError                SQL over field history failed or was refused
    └── ControlError              the control channel of a live run refused or failed
        ├── NotLiveError          nothing answers at the run's control socket: it is not live
        │   └── StaleSocketError  a socket file left by a process that ended (killed)
        ├── ControlPermissionError  the socket or its dir is another user's (also PermissionError)
        └── ControlTimeoutError   the run did not answer in time (also TimeoutError)

Driver errors become these in one place per backend: ``continuum.catalog.db.errors``
(SQLAlchemy), ``continuum.sql.errors`` (DuckDB) and ``continuum.blobs.storage._s3``
(s3fs / botocore / aiohttp).
"""

from __future__ import annotations


class ContinuumError(Exception):
    """Base of every error Continuum raises on purpose."""


class LayoutError(ContinuumError, ValueError):
    """An identifier (run id, field or world name) or a name that cannot be part of a path."""


class WorldError(ContinuumError, ValueError):
    """A world directory or scenario that cannot be loaded."""


class WorldNotFoundError(WorldError, FileNotFoundError):
    """The world path or name does not resolve to a world directory."""


class ExpressionError(WorldError):
    """An expression that is not in the safe language or does not type-check."""


class ResolveError(WorldError):
    """A resolve, initial value or field gave NaN or infinity, or failed, at run time."""


class BlobError(ContinuumError, ValueError):
    """A blob file (.ckpt, .lens) that is truncated, corrupt or not ours."""


class CheckpointError(ContinuumError):
    """Checkpoint writing, discovery or validation failed."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No (intact) checkpoint where one was asked for."""


class CheckpointCorruptError(CheckpointError, BlobError):
    """A checkpoint file failed its structural or checksum checks."""


class ResumeMismatchError(CheckpointError):
    """The checkpoint does not fit the world it is resumed under."""


class LensError(ContinuumError):
    """Lens capture, chunk files or field queries failed."""


class LensCorruptError(LensError, BlobError):
    """A lens chunk failed its structural or checksum checks."""


class CatalogError(ContinuumError):
    """The run catalog refused or failed an operation."""


class CatalogUnavailableError(CatalogError):
    """The catalog URL names a server or file that cannot be reached or opened."""


class CatalogSchemaError(CatalogError):
    """The catalog's schema revision is not one this code knows (usually: newer)."""


class CatalogConflictError(CatalogError):
    """A write collided with a row that already exists (same run id, same tick...)."""


class RunNotFoundError(CatalogError, LookupError):
    """No run with the given id is in the catalog."""


class BlobStateError(CatalogError):
    """A checkpoint or lens-chunk row move the state machine forbids, or an unknown row."""


class InvalidFilterError(CatalogError, ValueError):
    """A search filter, parameter expression or page cursor that cannot be parsed."""


class StorageError(ContinuumError, OSError):
    """A blob store (a local directory or ``s3://bucket/prefix``) refused or failed an operation.

    Also an ``OSError``: code that already survives a failing disk (the writer threads,
    resume skipping an unreadable file) survives a failing object store the same way.
    """


class StorageUnreachableError(StorageError, ConnectionError):
    """Nothing answers at the object-storage endpoint (AWS_ENDPOINT_URL, network, DNS)."""


class BucketMissingError(StorageError, FileNotFoundError):
    """The bucket of an ``s3://bucket/prefix`` location does not exist."""


class StorageDeniedError(StorageError, PermissionError):
    """Credentials are missing, wrong, expired or not allowed to do this."""


class ObjectNotFoundError(StorageError, FileNotFoundError):
    """No object (or file) at that key of a blob store."""


class StorageIntegrityError(StorageError):
    """An object's size or checksum, read back after a write, is not what was written."""


class QueryError(ContinuumError):
    """SQL over field history failed or was refused."""


class ControlError(ContinuumError):
    """The control channel of a live run (``continuum ctl``) refused or failed a request."""


class NotLiveError(ControlError):
    """No process answers at the run's control socket: the run is not live (here)."""


class StaleSocketError(NotLiveError):
    """The control socket file exists but nobody listens: left by a process that ended."""


class ControlPermissionError(ControlError, PermissionError):
    """The control socket or its private directory belongs to another user."""


class ControlTimeoutError(ControlError, TimeoutError):
    """The run accepted the connection but did not answer in time."""
