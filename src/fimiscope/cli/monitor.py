"""`fimiscope monitor` (live sources, windowed detection, alerts) and `monitor-alerts`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fimiscope.cli._app import (
    DEFAULT_STORE,
    JsonOpt,
    MemoryOpt,
    StoreOpt,
    app,
    open_store,
    print_json,
)


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _kafka_config(items: list[str]) -> dict[str, Any]:
    from fimiscope.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError("--kafka-config", "monitor", "KEY=VALUE", item)
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@app.command()
def monitor(
    store: StoreOpt = Path(DEFAULT_STORE),
    jetstream: Annotated[
        str | None,
        typer.Option(
            help="Jetstream websocket URL, e.g. wss://jetstream2.us-east.bsky.network/subscribe."
        ),
    ] = None,
    collections: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated wantedCollections for Jetstream "
            "(default: app.bsky.feed.post,repost,like, graph.follow, actor.profile)."
        ),
    ] = None,
    kafka: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (host:port,...).")
    ] = None,
    topics: Annotated[str | None, typer.Option(help="Comma-separated Kafka topics.")] = None,
    group: Annotated[str, typer.Option(help="Kafka consumer group.")] = "fimiscope-monitor",
    kafka_config: Annotated[
        list[str] | None,
        typer.Option("--kafka-config", help="Extra librdkafka setting KEY=VALUE (repeatable)."),
    ] = None,
    nats: Annotated[
        str | None, typer.Option(help="NATS server URL(s), comma-separated (nats://host:4222).")
    ] = None,
    stream: Annotated[str | None, typer.Option(help="NATS JetStream stream name.")] = None,
    subject: Annotated[str | None, typer.Option(help="NATS subject to consume.")] = None,
    durable: Annotated[str, typer.Option(help="NATS durable consumer name.")] = "fimiscope-monitor",
    tail: Annotated[Path | None, typer.Option(help="A growing JSON Lines file to follow.")] = None,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="With --tail: stop at the end of the file.")
    ] = False,
    span: Annotated[float, typer.Option(help="Window length in stream seconds.")] = 3600.0,
    every: Annotated[float, typer.Option(help="Run a window every so many stream seconds.")] = 60.0,
    catch_up: Annotated[
        str,
        typer.Option(
            help="When detection is behind: 'skip' to the newest window, or "
            "'cover' every stretch of stream time."
        ),
    ] = "skip",
    traces: Annotated[
        str | None, typer.Option(help="Comma-separated coordination traces (default: detect's).")
    ] = None,
    detect_share: Annotated[
        float,
        typer.Option(
            help="Largest share of wall time detection may be busy (0-1]: it rests after each "
            "window so the writer keeps up with a fast stream."
        ),
    ] = 1.0,
    no_detect: Annotated[
        bool, typer.Option("--no-detect", help="Only store the stream; no windows, no alerts.")
    ] = False,
    alerts_file: Annotated[
        Path | None, typer.Option("--alerts-file", help="Append alerts as JSON Lines here.")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="POST each alert as JSON to this URL (with retries).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No alerts on stdout (still stored).")
    ] = False,
    queue: Annotated[int, typer.Option(help="Bound of the receive queue, in frames.")] = 100_000,
    batch_size: Annotated[int, typer.Option(help="Frames per stored batch (at most).")] = 20_000,
    status_seconds: Annotated[
        float, typer.Option(help="Seconds between status lines on stderr.")
    ] = 10.0,
    max_events: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    idle: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without frames.")
    ] = None,
    memory_limit: MemoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Watch a live source: store every event, detect over sliding windows, raise alerts.

    Exactly one source: --jetstream, --kafka (with --topics), --nats (with --stream and
    --subject) or --tail. Alerts go to stdout as JSON Lines (unless --quiet), to --alerts-file,
    to --webhook, and into the store's `alerts` table. SIGINT/SIGTERM stop cleanly: what was
    received is stored and the cursor saved, so the next run resumes where this one ended.
    """
    from fimiscope.errors import ConfigError
    from fimiscope.monitor import (
        FileTailSource,
        JetstreamSource,
        JsonlSink,
        KafkaSource,
        Monitor,
        NatsSource,
        StreamSink,
        WebhookSink,
        WindowConfig,
    )

    chosen = [
        n
        for n, v in (
            ("--jetstream", jetstream),
            ("--kafka", kafka),
            ("--nats", nats),
            ("--tail", tail),
        )
        if v
    ]
    if len(chosen) != 1:
        raise ConfigError(
            "source",
            "monitor",
            "exactly one of --jetstream, --kafka, --nats, --tail",
            chosen or None,
        )
    source: Any
    if jetstream:
        source = JetstreamSource(
            jetstream,
            collections=_csv(collections)
            or (
                "app.bsky.feed.post",
                "app.bsky.feed.repost",
                "app.bsky.feed.like",
                "app.bsky.graph.follow",
                "app.bsky.actor.profile",
            ),
            capacity=queue,
        )
    elif kafka:
        if not topics:
            raise ConfigError("--topics", "monitor", "at least one topic with --kafka", topics)
        cfg = {"bootstrap.servers": kafka, "group.id": group, **_kafka_config(kafka_config or [])}
        source = KafkaSource(_csv(topics), config=cfg, capacity=queue)
    elif nats:
        if not stream or not subject:
            raise ConfigError(
                "--stream/--subject", "monitor", "both given with --nats", [stream, subject]
            )
        source = NatsSource(
            _csv(nats), stream=stream, subject=subject, durable=durable, capacity=queue
        )
    else:
        assert tail is not None
        source = FileTailSource(tail, capacity=queue, follow=not no_follow)
    windows = (
        None
        if no_detect
        else WindowConfig(
            span=span,
            every=every,
            catch_up=catch_up,
            **({"traces": _csv(traces)} if traces else {}),
        )
    )
    sinks: list[Any] = [] if quiet or json else [StreamSink()]
    if alerts_file is not None:
        sinks.append(JsonlSink(alerts_file))
    if webhook:
        sinks.append(WebhookSink(webhook))
    with open_store(store, memory_limit=memory_limit) as s:
        mon = Monitor(
            s,
            source,
            windows=windows,
            sinks=sinks,
            batch_size=batch_size,
            detect_share=detect_share,
            status_seconds=status_seconds,
            max_events=max_events,
            duration=duration,
            idle_seconds=idle,
        )
        stats = mon.run()
    if json:
        print_json(stats.as_dict())


@app.command("monitor-alerts")
def monitor_alerts(
    store: StoreOpt = Path(DEFAULT_STORE),
    limit: Annotated[int, typer.Option(help="How many (most recently updated first).")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    kind: Annotated[str | None, typer.Option(help="Only this kind of alert.")] = None,
    json: JsonOpt = False,
) -> None:
    """List the alerts raised by `fimiscope monitor`."""
    from fimiscope.monitor import list_alerts

    with open_store(store, read_only=True) as s:
        rows = list_alerts(s, limit=limit, offset=offset, kind=kind)
    if json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['last_at']:%Y-%m-%d %H:%M:%S}  {r['severity']:<6} {r['kind']:<15} "
            f"updates={r['updates']:<3} {' '.join(str(r['title']).split())}"
        )
