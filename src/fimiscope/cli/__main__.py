"""``python -m fimiscope.cli``."""

from fimiscope.cli import entry

entry()
