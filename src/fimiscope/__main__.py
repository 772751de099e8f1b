"""``python -m fimiscope``."""

from fimiscope.cli import entry

entry()
