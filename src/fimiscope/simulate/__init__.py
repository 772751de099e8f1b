"""Synthetic election scenario with planted manipulation and ground truth.

Modelled on Japan's July 2025 upper-house election; written in real platform export formats
(X API v2 via twarc2, Bluesky Jetstream, RSS 2.0, schema.org ClaimReview).
"""

from fimiscope.simulate.config import ScenarioConfig
from fimiscope.simulate.errors import ScenarioConfigError
from fimiscope.simulate.generate import ScenarioFiles, generate_scenario

__all__ = ["ScenarioConfig", "ScenarioConfigError", "ScenarioFiles", "generate_scenario"]
