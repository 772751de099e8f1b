"""Shared small scenarios (generated once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fimiscope.simulate import ScenarioFiles, generate_scenario


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> ScenarioFiles:
    return generate_scenario(tmp_path_factory.mktemp("a"), actions=30_000, seed=7)


@pytest.fixture(scope="session")
def scenario_dir(scenario: ScenarioFiles) -> Path:
    return scenario.x_v2.parent
