"""Build the optional C extensions (the pair kernel ``fimiscope.coordination._cpairs``, the
JSON Lines reader ``fimiscope.ingest._cjson``).

All metadata lives in ``pyproject.toml``; this file only adds the extensions. When one cannot
be compiled (no C compiler, no Python headers) the install still succeeds with a warning, and
fimiscope takes its slower path there (pair step: numba, the ``fast`` extra, or SQL).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing when the extension does not compile."""

    def build_extension(self, ext: Extension) -> None:
        if self.compiler.compiler_type == "unix":  # gcc or clang
            ext.extra_compile_args = [*ext.extra_compile_args, "-O3"]
        try:
            super().build_extension(ext)
        except Exception as exc:  # any failure: fall back, do not fail the install
            print(
                f"warning: the optional C extension {ext.name} was not built ({exc}); "
                "fimiscope will take a slower path instead",
                file=sys.stderr,
            )

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # e.g. no compiler found at all
            print(f"warning: C extensions not built ({exc})", file=sys.stderr)


setup(
    ext_modules=[
        Extension(
            "fimiscope.coordination._cpairs",
            sources=["src/fimiscope/coordination/_cpairs.c"],
            optional=True,
        ),
        # the X API v2 JSON Lines reader of the ingest (else Arrow's JSON reader)
        Extension(
            "fimiscope.ingest._cjson",
            sources=["src/fimiscope/ingest/_cjson.c"],
            optional=True,
        ),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
