"""The ``fimiscope`` command: a thin shell over the library.

Each command opens the store, calls one library function, prints data on stdout (JSON with
``--json``) and progress on stderr. Our own errors become one line on stderr and exit code 2;
a crash in fimiscope itself still shows its traceback, because that is a bug to report.
"""

from __future__ import annotations

import importlib
import sys

from fimiscope.cli._app import app, error_line

# Each module adds its commands to `app`; subsystems append theirs here.
_COMMAND_MODULES = (
    "fimiscope.cli.core",
    "fimiscope.cli.coordination",
    "fimiscope.cli.characterize",
    "fimiscope.cli.narratives",
    "fimiscope.cli.report",
    "fimiscope.cli.web",
    "fimiscope.cli.monitor",
)
for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if not (_exc.name and (_name == _exc.name or _name.startswith(_exc.name + "."))):
            raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 findings/partial failure, 2 error)."""
    from fimiscope.errors import FimiscopeError

    try:
        code = app(args=argv, prog_name="fimiscope", standalone_mode=False)
    except FimiscopeError as exc:
        error_line(exc)
        return 2
    except KeyboardInterrupt:
        print("fimiscope: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:
        # Usage errors of the (vendored) click arrive here in non-standalone mode: they know
        # how to show themselves and which exit code they mean.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show(file=sys.stderr)
            return exit_code
        if type(exc).__name__ == "Abort":
            return 1
        raise
    return code if isinstance(code, int) else 0


def entry() -> None:
    sys.exit(main())


__all__ = ["app", "entry", "main"]
