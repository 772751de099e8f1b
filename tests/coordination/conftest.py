"""Fixtures of the coordination tests."""

from __future__ import annotations

import pytest

from fimiscope.coordination._kernel import available_engines

ENGINES = available_engines() or [
    pytest.param("none", marks=pytest.mark.skip(reason="no compiled pair kernel installed"))
]
"""Every compiled pair engine installed here (C extension, numba), fastest first."""


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    """Each compiled engine in turn, forced for ``pair_counts`` and ``pair_aggregates``
    through ``FIMISCOPE_PAIR_KERNEL``: every kernel test runs on every engine."""
    monkeypatch.setenv("FIMISCOPE_PAIR_KERNEL", request.param)
    return request.param
