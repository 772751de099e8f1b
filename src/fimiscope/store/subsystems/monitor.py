"""Tables of the live monitor (migrations 50-59), every column documented."""

from __future__ import annotations

from fimiscope.store.schema import C, Table

ALERT_KINDS = ("new_group", "group_grew", "boosted_post", "narrative_spike", "false_claim")

ALERTS = Table(
    "alerts",
    "One row per alerted event (deduplicated): a new group, an inauthentically boosted post, a "
    "narrative spike or a false-claim match. Later windows that see the same event again update "
    "the row (`updates`, `last_at`, `detail`) instead of adding one.",
    (
        C("alert_id", "VARCHAR", "Unique id (`<kind>-<16 hex of the dedup key>`).", not_null=True),
        C(
            "dedup_key",
            "VARCHAR",
            "Stable identity of the event: a group's first member set (matched by overlap), a "
            "post's `platform:post_id`, a hashtag.",
            not_null=True,
        ),
        C("kind", "VARCHAR", "`" + "`, `".join(ALERT_KINDS) + "`.", not_null=True),
        C("severity", "VARCHAR", "`high`, `medium` or `low`."),
        C("title", "VARCHAR", "One-line summary (may quote adversarial text: escape it)."),
        C("first_at", "TIMESTAMPTZ", "When the alert was first raised (UTC, wall clock)."),
        C("last_at", "TIMESTAMPTZ", "When it was last updated (UTC, wall clock)."),
        C("updates", "INTEGER", "How many times later windows updated it (0: never)."),
        C("detail", "JSON", "Evidence: members, counts, window bounds, detect run, p-values."),
        C("run_id", "VARCHAR", "The `runs.run_id` of the monitor session that raised it."),
        C("platform", "VARCHAR", "Platform of the event."),
        C("window_since", "TIMESTAMPTZ", "Start of the stream-time window that raised it."),
        C("window_until", "TIMESTAMPTZ", "End of the stream-time window that last updated it."),
        C("detect_run", "VARCHAR", "The `runs.run_id` of the windowed detect that last saw it."),
    ),
    key=("alert_id",),
)

MONITOR_CURSORS = Table(
    "monitor_cursors",
    "Where each live source was read up to; written in the same transaction as the events, so "
    "a restart resumes with no gap and no duplicate.",
    (
        C(
            "source_key",
            "VARCHAR",
            "The source (`jetstream:<url>`, `kafka:<group>:<topics>`, `nats:<stream>:<durable>`, "
            "`file:<path>`).",
            not_null=True,
        ),
        C(
            "cursor",
            "VARCHAR",
            "Jetstream: last stored `time_us`; Kafka: JSON `{topic:partition: offset}` of the "
            "last stored messages; NATS: last stored stream sequence; file: byte offset.",
        ),
        C("events", "BIGINT", "Events stored from this source over all sessions."),
        C("updated_at", "TIMESTAMPTZ", "When the cursor was last written (UTC)."),
        C("run_id", "VARCHAR", "The monitor session that wrote it last."),
    ),
    key=("source_key",),
)

MONITOR_STATUS = Table(
    "monitor_status",
    "Periodic health rows of monitor sessions: throughput, queue depth and lag (backpressure).",
    (
        C("run_id", "VARCHAR", "The monitor session (`runs.run_id`).", not_null=True),
        C("at", "TIMESTAMPTZ", "When (UTC, wall clock)."),
        C("source_key", "VARCHAR", "The source."),
        C("received", "BIGINT", "Frames received this session."),
        C("stored", "BIGINT", "Frames stored this session (rejected ones included)."),
        C("rejected", "BIGINT", "Frames quarantined in `rejects` this session."),
        C("events_per_s", "DOUBLE", "Stored frames per second since the previous status row."),
        C("queue_depth", "BIGINT", "Frames received and waiting for the writer."),
        C("queue_capacity", "BIGINT", "Bound of the queue (the receiver waits when it is full)."),
        C("ingest_lag_s", "DOUBLE", "Age of the oldest frame waiting for the writer (seconds)."),
        C("stream_time", "TIMESTAMPTZ", "Newest event time stored (the stream's clock)."),
        C(
            "detect_lag_s",
            "DOUBLE",
            "Stream seconds between the newest stored event and the end of the last window.",
        ),
        C("windows", "BIGINT", "Detection windows run this session."),
        C("windows_skipped", "BIGINT", "Windows skipped because detection was behind."),
        C("alerts", "BIGINT", "Alert notifications (new and updates) this session."),
        C("rss_mb", "DOUBLE", "Resident memory of the process (MB)."),
        C("cpu_s", "DOUBLE", "CPU seconds (user + system) of the process so far."),
    ),
)

MIGRATIONS = [
    (50, "live monitor: alerts, cursors, status", (ALERTS, MONITOR_CURSORS, MONITOR_STATUS), ()),
]
