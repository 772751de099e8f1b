"""fimiscope: find coordinated, foreign information manipulation in social-media activity."""

__version__ = "0.1.0"
