"""The coordination engine: traces, co-action pairs, significance, groups.

>>> from fimiscope.coordination import detect, pair_counts, traces
"""

from fimiscope.coordination.detect import DEFAULT_TRACES, DetectResult, detect
from fimiscope.coordination.pairs import pair_counts
from fimiscope.coordination.traces import Trace, register_trace, traces

__all__ = [
    "DEFAULT_TRACES",
    "DetectResult",
    "Trace",
    "detect",
    "pair_counts",
    "register_trace",
    "traces",
]
