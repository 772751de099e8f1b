"""Errors of the scenario generator.

When the project-wide ``fimiscope.errors`` tree exists these should subclass its base; until
then they derive from the matching built-in only.
"""

from __future__ import annotations


class ScenarioConfigError(ValueError):
    """A scenario parameter is out of range.

    Attributes
    ----------
    parameter
        Name of the offending parameter.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
