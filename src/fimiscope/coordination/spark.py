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
    "spark_pair_counts",
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
    repost       posts of kind ``repost``: target ``ref_post_id``, at ``created_at``
    like         engagements of kind ``like``: target ``target_post_id``, at ``at``; rows
                 without a time get the trace ``like_untimed`` (set-overlap evidence)
    link         ``post_urls.url_norm`` of posts that are not reposts, at ``created_at``
    hashtag      ``post_hashtags.tag_norm`` of posts that are not reposts, at ``created_at``
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
        items = need(table).select("platform", "post_id", column)
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
    F = _pyspark()
    window = _check_window(window)
    min_activity = _check_int("min_activity", min_activity, 1)
    min_repetitions = _check_int("min_repetitions", min_repetitions, 1)
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
