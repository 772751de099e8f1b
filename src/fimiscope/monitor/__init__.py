"""Live monitoring: streams in, windowed detection, deduplicated alerts, nothing lost.

>>> from fimiscope.monitor import Monitor, JetstreamSource, WindowConfig, list_alerts
"""

from fimiscope.monitor.alerts import (
    AlertBook,
    CallbackSink,
    Finding,
    JsonlSink,
    StreamSink,
    WebhookSink,
    list_alerts,
)
from fimiscope.monitor.runner import Monitor, MonitorStats
from fimiscope.monitor.sources import (
    FileTailSource,
    FrameQueue,
    JetstreamSource,
    KafkaSource,
    NatsSource,
    Source,
)
from fimiscope.monitor.windows import WindowConfig, run_window
from fimiscope.monitor.writer import BatchWriter, Frame

__all__ = [
    "AlertBook",
    "BatchWriter",
    "CallbackSink",
    "FileTailSource",
    "Finding",
    "Frame",
    "FrameQueue",
    "JetstreamSource",
    "JsonlSink",
    "KafkaSource",
    "Monitor",
    "MonitorStats",
    "NatsSource",
    "Source",
    "StreamSink",
    "WebhookSink",
    "WindowConfig",
    "list_alerts",
    "run_window",
]
