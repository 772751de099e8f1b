"""Characterisation: automation signals, activity time zone, state-media amplification,
anomalous dissemination of posts, and group dossiers of foreign-origin indicators.

>>> from fimiscope.characterize import characterize, train_bot_model
"""

from fimiscope.characterize.api import CharacterizeResult, characterize
from fimiscope.characterize.automation import (
    BotModel,
    LabelFileError,
    load_bot_model,
    read_labels,
    save_bot_model,
)
from fimiscope.characterize.state_media import Registry, load_registry
from fimiscope.characterize.train import TrainResult, train_bot_model

__all__ = [
    "BotModel",
    "CharacterizeResult",
    "LabelFileError",
    "Registry",
    "TrainResult",
    "characterize",
    "load_bot_model",
    "load_registry",
    "read_labels",
    "save_bot_model",
    "train_bot_model",
]
