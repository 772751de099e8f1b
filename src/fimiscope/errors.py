"""The one exception tree of fimiscope.

Every error that fimiscope raises on purpose derives from :class:`FimiscopeError`,
and most also derive from the matching built-in, so callers can catch either::

    FimiscopeError
    ├── ConfigError (ValueError)          a parameter or option is out of range
    ├── StoreError                        the store cannot be opened, migrated or written
    │   └── SchemaVersionError            the file was written by a newer fimiscope
    ├── IngestError                       a file cannot be ingested at all
    │   ├── UnknownFormatError (ValueError)   no format recognises the file
    │   └── FormatMismatchError (ValueError)  the file is not what it was said to be
    ├── MissingDependencyError (ImportError)  an optional extra is not installed
    └── NotFoundError (LookupError)       a run, group, account or post does not exist

Warnings about statistical caveats are :class:`FimiscopeWarning` subclasses, never log lines.
"""

from __future__ import annotations

from pathlib import Path


class FimiscopeError(Exception):
    """Base of every error fimiscope raises on purpose."""


class ConfigError(FimiscopeError, ValueError):
    """A parameter is missing or out of range.

    Attributes
    ----------
    parameter, owner, expected, got : what was wrong, in the words of the message.
    """

    def __init__(self, parameter: str, owner: str, expected: str, got: object) -> None:
        self.parameter = parameter
        self.owner = owner
        self.expected = expected
        self.got = got
        super().__init__(f"`{parameter}` of {owner} must be {expected}; got {got!r}.")


class StoreError(FimiscopeError):
    """The store cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The store was written by a newer schema than this fimiscope knows."""


class IngestError(FimiscopeError):
    """A file cannot be ingested at all (a single bad record goes to ``rejects`` instead)."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class UnknownFormatError(IngestError, ValueError):
    """No registered format recognises the file."""


class FormatMismatchError(IngestError, ValueError):
    """The file is not in the format it was said (or sniffed) to be."""


class MissingDependencyError(FimiscopeError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed; install it with: pip install 'fimiscope[{extra}]'"
        )


class NotFoundError(FimiscopeError, LookupError):
    """A run, group, account or post that was asked for does not exist."""


class FimiscopeWarning(UserWarning):
    """Base of fimiscope's warnings (statistical caveats, data quality)."""


class DataQualityWarning(FimiscopeWarning):
    """The input has a property that weakens a result (e.g. like times unknown)."""


class StatisticalCaveatWarning(FimiscopeWarning):
    """A result rests on an assumption the data may not meet (e.g. too few targets)."""
