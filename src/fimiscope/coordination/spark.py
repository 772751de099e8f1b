"""The co-action pair definition on Apache Spark: the same rows as :func:`pair_counts`, scaled out.

:func:`spark_pair_counts` is the Spark twin of
:func:`fimiscope.coordination.pairs.pair_counts`: given the same actions it returns the same
pairs, column for column (times to the microsecond, ``mean_gap_s`` to the last bit, since both
divide the same integer sum of microseconds). The definition is written once, in the module
docstring of :mod:`fimiscope.coordination.pairs`; this module only re-expresses it with
DataFrame operations.

Hot targets stay bounded the same way as on DuckDB: each action is joined only with the
actions of the same target in its own and the two adjacent time buckets of width ``window``
(an equi-join on ``(platform, trace, target, bucket)``), then filtered to ``|Δt| <= window``.
A post reposted 50,000 times over a day therefore costs the pairs that really fall within the
window, not 50,000².

Everything here imports :mod:`pyspark` lazily; without it, the functions raise
:class:`~fimiscope.errors.MissingDependencyError`. Spark needs a Java runtime (17 or newer for
PySpark 4).

See ``docs/scale.md`` for running this on a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fimiscope.coordination.pairs import CROWD_MIN_TARGETS, MAX_CELL
from fimiscope.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "ACTION_COLUMNS",
    "PAIR_COLUMNS",
    "STORE_TRACES",
    "actions_from_parquet",
    "actions_from_store_export",
    "local_session",
    "spark_crowd_pairs",
    "spark_pair_counts",
    "spark_pairs_into_duckdb",
]

ACTION_COLUMNS: tuple[str, ...] = ("platform", "account_id", "trace", "target", "at", "post_id")
"""Columns of an actions DataFrame (the same as ``pairs.ACTION_COLUMNS``)."""

PAIR_COLUMNS: tuple[str, ...] = (
    "platform",
    "trace",
    "account_a",
    "account_b",
    "n_targets",
    "n_coactions",
    "first_at",
    "last_at",
    "mean_gap_s",
)
"""Columns of the pairs DataFrame, in order (the same as ``pairs.PAIR_COLUMNS``)."""

STORE_TRACES: tuple[str, ...] = ("repost", "like", "link", "hashtag")
"""Traces :func:`actions_from_store_export` can build from the canonical tables."""

_OWNER = "spark_pair_counts"


def _pyspark() -> Any:
    try:
        import pyspark.sql.functions as F
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("pyspark", "spark") from exc
    return F


# -- session ------------------------------------------------------------------------------------
def local_session(
    app_name: str = "fimiscope",
    *,
    master: str = "local[2]",
    shuffle_partitions: int = 4,
    driver_memory: str = "2g",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A Spark session for a laptop or a CI runner: local mode, UTC, no web UI.

    On a cluster, build the session yourself (``spark-submit`` sets the master); the one
    setting fimiscope relies on is ``spark.sql.session.timeZone=UTC``.

    Parameters
    ----------
    app_name
        Spark application name.
    master
        Spark master URL; ``local[2]`` uses two cores.
    shuffle_partitions
        ``spark.sql.shuffle.partitions``. Spark's default of 200 is for clusters; on two
        cores a handful of partitions avoids thousands of tiny tasks.
    driver_memory
        ``spark.driver.memory`` (in local mode the driver does all the work). Only takes
        effect when no JVM is running yet.
    conf
        Further settings, applied last.

    Raises
    ------
    MissingDependencyError
        When pyspark is not installed.
    """
    _pyspark()
    from pyspark.sql import SparkSession

    settings: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.memory": driver_memory,
        # Local mode on a laptop: do not depend on the host name resolving.
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        # The JVM's own time zone also decides how Parquet timestamps without zone are read.
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# -- inputs -------------------------------------------------------------------------------------
def _actions_select(df: DataFrame) -> DataFrame:
    F = _pyspark()
    missing = [c for c in ACTION_COLUMNS if c not in df.columns and c != "post_id"]
    if missing:
        raise ConfigError(
            "actions_df", _OWNER, f"a DataFrame with columns {ACTION_COLUMNS}", f"missing {missing}"
        )
    post_id = F.col("post_id") if "post_id" in df.columns else F.lit(None)
    return df.select(
        F.col("platform").cast("string").alias("platform"),
        F.col("account_id").cast("string").alias("account_id"),
        F.col("trace").cast("string").alias("trace"),
        F.col("target").cast("string").alias("target"),
        F.col("at").cast("timestamp").alias("at"),
        post_id.cast("string").alias("post_id"),
    )


def actions_from_parquet(spark: SparkSession, path: str | Path | Sequence[str | Path]) -> DataFrame:
    """Read actions from Parquet (a file, a directory of part files, or several paths).

    The files need the columns of :data:`ACTION_COLUMNS` (``post_id`` may be absent). Extra
    columns, e.g. Hive partition columns such as ``trace=co-repost/``, are allowed; the
    result has exactly the action columns, cast to string / timestamp.
    """
    paths = [str(path)] if isinstance(path, str | Path) else [str(p) for p in path]
    return _actions_select(spark.read.parquet(*paths))


def _read_table(spark: SparkSession, root: Path, table: str) -> DataFrame | None:
    for candidate in (root / f"{table}.parquet", root / table):
        if candidate.exists():
            return spark.read.parquet(str(candidate))
    return None


def actions_from_store_export(
    spark: SparkSession,
    root: str | Path,
    *,
    traces: Sequence[str] = STORE_TRACES,
) -> DataFrame:
    """Build actions from a Parquet export of the store's canonical tables.

    ``root`` holds one Parquet file or directory per table, named after it: ``posts.parquet``
    or ``posts/`` (and ``engagements``, ``post_urls``, ``post_hashtags``); tables a trace does
    not need may be absent. Each trace mirrors, column for column, the SQL of the trace of
    the same name in :mod:`fimiscope.coordination.traces` (a test runs both on the same
    export and compares the rows):

    ===========  ===========================================================================
    trace        rows
    ===========  ===========================================================================
    repost       posts of kind ``repost``: target ``ref_post_id``, at ``created_at``; and
                 engagements of kind ``repost`` without such a post (``repost_untimed``
                 when they have no time)
    like         engagements of kind ``like``: target ``target_post_id``, at ``at``; rows
                 without a time get the trace ``like_untimed`` (set-overlap evidence)
    link         ``post_urls.url_norm`` of posts that are not reposts, at ``created_at``
                 (one row per post and URL)
    hashtag      ``post_hashtags.tag_norm`` of posts that are not reposts, at ``created_at``
                 (one row per post and tag)
    ===========  ===========================================================================

    Reposts are left out of link and hashtag: an X retweet repeats the original's entities,
    and co-repost already counts it.

    Raises
    ------
    ConfigError
        For an unknown trace, or when a table the trace needs is missing.
    """
    F = _pyspark()
    root = Path(root)
    owner = "actions_from_store_export"
    unknown = [t for t in traces if t not in STORE_TRACES]
    if unknown or not traces:
        raise ConfigError("traces", owner, f"a non-empty subset of {STORE_TRACES}", list(traces))

    def need(table: str) -> DataFrame:
        df = _read_table(spark, root, table)
        if df is None:
            expected = f"a directory holding {table}.parquet or {table}/"
            raise ConfigError("root", owner, expected, str(root))
        return df

    def act(df: DataFrame, trace: Column, target: Column, at: Column, post: Column) -> DataFrame:
        return df.select(
            F.col("platform").cast("string").alias("platform"),
            F.col("account_id").cast("string").alias("account_id"),
            trace.alias("trace"),
            target.cast("string").alias("target"),
            at.cast("timestamp").alias("at"),
            post.cast("string").alias("post_id"),
        )

    parts: list[DataFrame] = []
    if "repost" in traces:
        posts = need("posts").where(F.col("kind") == "repost")
        parts.append(
            act(posts, F.lit("repost"), F.col("ref_post_id"), F.col("created_at"), F.col("post_id"))
        )
        eng = _read_table(spark, root, "engagements")
        if eng is not None:
            done = posts.select(
                "platform", "account_id", F.col("ref_post_id").alias("target_post_id")
            )
            eng = eng.where(F.col("kind") == "repost").join(
                done, on=["platform", "account_id", "target_post_id"], how="left_anti"
            )
            trace = F.when(F.col("at").isNull(), F.lit("repost_untimed")).otherwise(F.lit("repost"))
            parts.append(act(eng, trace, F.col("target_post_id"), F.col("at"), F.lit(None)))
    if "like" in traces:
        eng = need("engagements").where(F.col("kind") == "like")
        trace = F.when(F.col("at").isNull(), F.lit("like_untimed")).otherwise(F.lit("like"))
        parts.append(act(eng, trace, F.col("target_post_id"), F.col("at"), F.lit(None)))
    for name, table, column in (
        ("link", "post_urls", "url_norm"),
        ("hashtag", "post_hashtags", "tag_norm"),
    ):
        if name not in traces:
            continue
        posts = (
            need("posts")
            .where(F.col("kind") != "repost")
            .select("platform", "post_id", "account_id", "created_at")
        )
        items = need(table).select("platform", "post_id", column).distinct()
        joined = items.join(posts, on=["platform", "post_id"], how="inner")
        parts.append(act(joined, F.lit(name), F.col(column), F.col("created_at"), F.col("post_id")))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


# -- pairs --------------------------------------------------------------------------------------
def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(name, _OWNER, f"an integer >= {low}", value)
    return value


def _check_window(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or float(value) < 0
    ):
        raise ConfigError("window", _OWNER, "a number of seconds >= 0, or None", value)
    return float(value)


def spark_pair_counts(
    spark: SparkSession,
    actions_df: DataFrame,
    *,
    window: float | None,
    min_activity: int = 1,
    min_repetitions: int = 1,
    max_cell: int | None = MAX_CELL,
) -> DataFrame:
    """Count co-actions of every pair of accounts, per platform and trace, on Spark.

    The Spark twin of :func:`fimiscope.coordination.pairs.pair_counts`, with the same
    definition (see :mod:`fimiscope.coordination.pairs`): rows with a NULL or empty target
    (and, in windowed mode, a NULL time) do not take part; accounts with fewer than
    ``min_activity`` distinct targets per ``(platform, trace)`` are dropped; two actions of
    different accounts on the same target within ``window`` seconds (inclusive, compared in
    microseconds; any two when ``window`` is None) co-act; the pair ``account_a <
    account_b`` (binary string order) is kept when it co-acted on at least
    ``min_repetitions`` distinct targets.

    Parameters
    ----------
    spark
        The session (unused by the plan itself; kept so callers pass the session
        explicitly, as for the readers).
    actions_df
        Actions with the columns of :data:`ACTION_COLUMNS`.
    window
        Δt in seconds (inclusive); None for set overlap.
    min_activity
        Minimum number of distinct targets an account needs, per platform and trace.
    min_repetitions
        Minimum number of distinct co-acted targets a pair needs.
    max_cell
        Crowd cells (same platform, trace, target and, when timed, time bucket
        ``us div window_us``) with more actions than this take part in no co-action (step 3b
        of the definition; their members: :func:`spark_crowd_pairs`); None: no cap.

    Returns
    -------
    DataFrame
        Lazy; columns :data:`PAIR_COLUMNS` (``n_targets`` and ``n_coactions`` long,
        ``first_at``/``last_at`` timestamp, ``mean_gap_s`` double).

    Raises
    ------
    ConfigError
        When a parameter is out of range.
    MissingDependencyError
        When pyspark is not installed.
    """
    _pyspark()
    window = _check_window(window)
    min_activity = _check_int("min_activity", min_activity, 1)
    min_repetitions = _check_int("min_repetitions", min_repetitions, 1)
    if max_cell is not None:
        max_cell = _check_int("max_cell", max_cell, 2)
    src = _taking_part(actions_df, window, min_activity)
    if max_cell is not None:
        src = src.join(_crowd_cells(src, window, max_cell), on=_cell_keys(window), how="left_anti")
    src = src.select("platform", "trace", "account_id", "target", "at", "us")
    return _pairs_of(src, window, min_repetitions)


def _cell_keys(window: float | None) -> list[str]:
    return ["platform", "trace", "target"] + ([] if window is None else ["bk"])


def _crowd_cells(src: DataFrame, window: float | None, max_cell: int) -> DataFrame:
    F = _pyspark()
    keys = _cell_keys(window)
    return (
        src.groupBy(*keys)
        .agg(F.count(F.lit(1)).alias("c"))
        .where(F.col("c") > max_cell)
        .select(*keys)
    )


def _taking_part(actions_df: DataFrame, window: float | None, min_activity: int) -> DataFrame:
    """Rows that take part (steps 1-2 of the definition), with ``us`` and the bucket ``bk``."""
    F = _pyspark()
    timed = window is not None
    src = _actions_select(actions_df).where(
        F.col("target").isNotNull() & (F.col("target") != "") & F.col("account_id").isNotNull()
    )
    if timed:
        src = src.where(F.col("at").isNotNull())
    keys = ["platform", "trace", "account_id"]
    active = (
        src.groupBy(*keys)
        .agg(F.countDistinct("target").alias("n"))
        .where(F.col("n") >= min_activity)
        .select(*keys)
    )
    src = src.join(active, on=keys, how="left_semi").select(
        "platform", "trace", "account_id", "target", "at", F.unix_micros("at").alias("us")
    )
    width = max(1, round(window * 1e6)) if window is not None else 1
    return src.withColumn("bk", F.expr(f"us div {width}") if timed else F.lit(0).cast("long"))


def spark_crowd_pairs(
    spark: SparkSession,
    actions_df: DataFrame,
    *,
    window: float | None,
    min_activity: int = 1,
    min_repetitions: int = 1,
    max_cell: int = MAX_CELL,
) -> tuple[DataFrame, DataFrame]:
    """Crowd co-membership on Spark, the twin of ``pair_counts(crowd_out=...,
    crowd_members_out=...)``: ``(pairs, members)``.

    ``members``: ``platform, account_id, trace, target`` (trace ``<trace>_crowd``), one row
    per account and target whose crowd cell it was in. ``pairs`` (:data:`PAIR_COLUMNS`):
    accounts in the crowds of at least ``max(min_repetitions, 2)`` distinct targets together,
    ``n_targets`` = ``n_coactions`` = those targets, times NULL.
    """
    F = _pyspark()
    window = _check_window(window)
    min_activity = _check_int("min_activity", min_activity, 1)
    mr = max(_check_int("min_repetitions", min_repetitions, 1), CROWD_MIN_TARGETS)
    max_cell = _check_int("max_cell", max_cell, 2)
    src = _taking_part(actions_df, window, min_activity)
    keys = ["platform", "trace", "account_id", "target"]
    mem = (
        src.join(_crowd_cells(src, window, max_cell), on=_cell_keys(window), how="left_semi")
        .select(*keys)
        .distinct()
    )
    members = mem.select(
        "platform", "account_id", F.concat(F.col("trace"), F.lit("_crowd")).alias("trace"), "target"
    )
    kept = mem
    for _ in range(2):
        acc = kept.groupBy("platform", "trace", "account_id").count().where(F.col("count") >= mr)
        tgt = kept.groupBy("platform", "trace", "target").count().where(F.col("count") >= 2)
        kept = kept.join(acc.drop("count"), on=["platform", "trace", "account_id"], how="left_semi")
        kept = kept.join(tgt.drop("count"), on=["platform", "trace", "target"], how="left_semi")
    a = kept.select("platform", "trace", "target", F.col("account_id").alias("account_a"))
    b = kept.select("platform", "trace", "target", F.col("account_id").alias("account_b"))
    pairs = (
        a.join(b, on=["platform", "trace", "target"])
        .where(F.col("account_a") < F.col("account_b"))
        .groupBy("platform", "trace", "account_a", "account_b")
        .agg(F.count(F.lit(1)).alias("n"))
        .where(F.col("n") >= mr)
        .select(
            "platform",
            F.concat(F.col("trace"), F.lit("_crowd")).alias("trace"),
            "account_a",
            "account_b",
            F.col("n").cast("long").alias("n_targets"),
            F.col("n").cast("long").alias("n_coactions"),
            F.lit(None).cast("timestamp").alias("first_at"),
            F.lit(None).cast("timestamp").alias("last_at"),
            F.lit(None).cast("double").alias("mean_gap_s"),
        )
    )
    return pairs, members


def _pairs_of(src: DataFrame, window: float | None, min_repetitions: int) -> DataFrame:
    """Steps 3-5 of the definition on the rows that co-act."""
    F = _pyspark()
    timed = window is not None
    a = src.select(
        *(
            F.col(c).alias(f"{c}_a")
            for c in ("platform", "trace", "target", "account_id", "at", "us")
        )
    )
    b = src.select(
        *(
            F.col(c).alias(f"{c}_b")
            for c in ("platform", "trace", "target", "account_id", "at", "us")
        )
    )
    on = [
        F.col("platform_a") == F.col("platform_b"),
        F.col("trace_a") == F.col("trace_b"),
        F.col("target_a") == F.col("target_b"),
        F.col("account_id_a") < F.col("account_id_b"),
    ]
    if timed:
        assert window is not None
        w_us = round(window * 1e6)
        width = max(1, w_us)
        # Integer bucket of width Δt; a partner within Δt lies in the same or an adjacent
        # bucket, so the left side is expanded to the three bucket numbers and the join stays
        # an equi-join (no per-target cross product).
        a = a.withColumn("d", F.explode(F.array(F.lit(-1), F.lit(0), F.lit(1)))).withColumn(
            "bk_a", F.expr(f"us_a div {width}") + F.col("d")
        )
        b = b.withColumn("bk_b", F.expr(f"us_b div {width}"))
        on.append(F.col("bk_a") == F.col("bk_b"))
        pairs = a.join(b, on=on, how="inner").where(F.abs(F.col("us_a") - F.col("us_b")) <= w_us)
        earlier = F.least(F.col("at_a"), F.col("at_b"))
        gap = F.abs(F.col("us_a") - F.col("us_b"))
    else:
        pairs = a.join(b, on=on, how="inner")
        earlier = F.lit(None).cast("timestamp")
        gap = F.lit(0).cast("long")

    per_target = pairs.groupBy(
        F.col("platform_a").alias("platform"),
        F.col("trace_a").alias("trace"),
        F.col("account_id_a").alias("account_a"),
        F.col("account_id_b").alias("account_b"),
        F.col("target_a").alias("target"),
    ).agg(
        F.count(F.lit(1)).alias("n"),
        F.min(earlier).alias("f"),
        F.max(earlier).alias("l"),
        F.sum(gap).alias("g"),
    )
    per_pair = (
        per_target.groupBy("platform", "trace", "account_a", "account_b")
        .agg(
            F.count(F.lit(1)).alias("n_targets"),
            F.sum("n").alias("n_coactions"),
            F.min("f").alias("first_at"),
            F.max("l").alias("last_at"),
            F.sum("g").alias("g"),
        )
        .where(F.col("n_targets") >= min_repetitions)
    )
    # Same arithmetic as the DuckDB side: integer microseconds summed exactly, then one
    # double division by the count and one by 1e6.
    mean = (
        (F.col("g").cast("double") / F.col("n_coactions").cast("double") / F.lit(1e6))
        if timed
        else F.lit(None).cast("double")
    )
    return per_pair.select(
        "platform",
        "trace",
        "account_a",
        "account_b",
        F.col("n_targets").cast("long").alias("n_targets"),
        F.col("n_coactions").cast("long").alias("n_coactions"),
        F.col("first_at").cast("timestamp").alias("first_at"),
        F.col("last_at").cast("timestamp").alias("last_at"),
        mean.alias("mean_gap_s"),
    )


# -- detect(engine="spark") --------------------------------------------------------------------
def spark_pairs_into_duckdb(
    con: Any,
    actions: str,
    *,
    window: float | None,
    min_activity: int,
    min_repetitions: int,
    max_cell: int | None = MAX_CELL,
    out: str,
    crowd_out: str | None = None,
    crowd_members_out: str | None = None,
    spark: SparkSession | None = None,
) -> str:
    """Run the pair step of a DuckDB actions table on Spark and write the results back.

    The same contract as :func:`fimiscope.coordination.pairs.pair_counts` (same tables, same
    rows), used by ``detect(engine="spark")``: the actions go to Spark through a Parquet file
    (times as integer microseconds, so no time-zone conversion sits between the engines),
    the pairs come back the same way. ``spark`` defaults to the active session, else
    :func:`local_session`.
    """
    import tempfile

    from fimiscope._sql import quote_ident

    F = _pyspark()
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession() or local_session()
    with tempfile.TemporaryDirectory(prefix="fimiscope-spark-") as tmp:
        src = Path(tmp) / "actions.parquet"
        con.execute(
            "COPY (SELECT CAST(platform AS VARCHAR) AS platform, "
            "CAST(account_id AS VARCHAR) AS account_id, CAST(trace AS VARCHAR) AS trace, "
            'CAST(target AS VARCHAR) AS target, epoch_us("at") AS us, '
            f"CAST(post_id AS VARCHAR) AS post_id FROM {quote_ident(actions)}) "
            f"TO '{src}' (FORMAT parquet)"
        )
        df = spark.read.parquet(str(src))
        df = df.withColumn("at", F.timestamp_micros("us")).drop("us")
        results: list[tuple[str, DataFrame]] = [
            (
                out,
                spark_pair_counts(
                    spark,
                    df,
                    window=window,
                    min_activity=min_activity,
                    min_repetitions=min_repetitions,
                    max_cell=max_cell,
                ),
            )
        ]
        if max_cell is not None and (crowd_out or crowd_members_out):
            crowd, members = spark_crowd_pairs(
                spark,
                df,
                window=window,
                min_activity=min_activity,
                min_repetitions=min_repetitions,
                max_cell=max_cell,
            )
            if crowd_out:
                results.append((crowd_out, crowd))
            if crowd_members_out:
                results.append((crowd_members_out, members))
        elif crowd_out or crowd_members_out:
            from fimiscope.coordination.pairs import pair_counts

            # no cap: the crowd tables exist and are empty, exactly as on DuckDB
            pair_counts(
                con,
                actions,
                window=window,
                max_cell=None,
                min_activity=min_activity,
                min_repetitions=min_repetitions,
                out=f"{out}_unused",
                crowd_out=crowd_out,
                crowd_members_out=crowd_members_out,
            )
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(out + '_unused')}")
        for i, (name, frame) in enumerate(results):
            path = Path(tmp) / f"out{i}"
            cols = frame.columns
            timed = [c for c in ("first_at", "last_at") if c in cols]
            for c in timed:
                frame = frame.withColumn(c, F.unix_micros(c))
            frame.write.parquet(str(path))
            select = ", ".join(
                f"timezone('UTC', make_timestamp({quote_ident(c)})) AS {quote_ident(c)}"
                if c in timed
                else quote_ident(c)
                for c in cols
            )
            con.execute(
                f"CREATE OR REPLACE TABLE {quote_ident(name)} AS SELECT {select} "
                f"FROM read_parquet('{path}/*.parquet')"
            )
    return out
