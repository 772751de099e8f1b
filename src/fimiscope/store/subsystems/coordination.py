"""Derived tables of the coordination engine (migrations 10-19), every column documented."""

from __future__ import annotations

from fimiscope.store.schema import C, Table

RUN_ID = C("run_id", "VARCHAR", "The `runs.run_id` of the detect run.", not_null=True)
PLATFORM = C("platform", "VARCHAR", "Platform of both accounts.", not_null=True)
ACCOUNT_A = C(
    "account_a", "VARCHAR", "The pair's first account (binary string order).", not_null=True
)
ACCOUNT_B = C(
    "account_b", "VARCHAR", "The pair's second account (`account_a < account_b`).", not_null=True
)

COORD_EDGES = Table(
    "coord_edges",
    "Fused coordination edges: pairs significant in at least one primary trace.",
    (
        RUN_ID,
        PLATFORM,
        ACCOUNT_A,
        ACCOUNT_B,
        C("weight", "DOUBLE", "Sum over traces with p <= 0.01 of min(-log10 p, 50)."),
        C("min_p", "DOUBLE", "Smallest p-value over the pair's traces."),
        C("traces", "VARCHAR", "Comma-separated traces in which the pair is significant."),
        C("n_targets", "BIGINT", "Co-acted targets summed over significant traces."),
        C("fast", "BOOLEAN", "The pair also co-acts `min_repetitions` times within `fast_window`."),
        C("group_id", "INTEGER", "The `coord_groups.group_id` of both accounts, if any."),
    ),
    key=("run_id", "platform", "account_a", "account_b"),
)

COORD_EDGE_TRACES = Table(
    "coord_edge_traces",
    "Per-trace evidence of every tested candidate pair of a run.",
    (
        RUN_ID,
        PLATFORM,
        C("trace", "VARCHAR", "Trace name (`repost`, `like`, `text`, ...).", not_null=True),
        ACCOUNT_A,
        ACCOUNT_B,
        C("n_targets", "BIGINT", "Distinct targets with a co-action (within Δt, or shared)."),
        C("n_coactions", "BIGINT", "Co-acting action pairs."),
        C("shared", "BIGINT", "Targets both accounts acted on (the null model's trials)."),
        C("k", "BIGINT", "Co-acted targets counted by the null model (first actions)."),
        C("expected", "DOUBLE", "Expected `k` under the null model."),
        C("p_value", "DOUBLE", "Upper-tail probability of `k` or more under the null."),
        C("null_model", "VARCHAR", "`delay_shuffle` or `popularity`."),
        C("significant", "BOOLEAN", "`p_value <= alpha` of the run."),
        C("primary", "BOOLEAN", "The trace may create an edge (set-overlap traces only support)."),
        C("first_at", "TIMESTAMPTZ", "Earliest co-action (earlier time of the two)."),
        C("last_at", "TIMESTAMPTZ", "Latest co-action (earlier time of the two)."),
        C("mean_gap_s", "DOUBLE", "Mean |Δt| of the co-actions in seconds."),
    ),
    key=("run_id", "platform", "trace", "account_a", "account_b"),
)

COORD_GROUPS = Table(
    "coord_groups",
    "Groups (Leiden communities of the fused edge graph) of a run.",
    (
        RUN_ID,
        C("group_id", "INTEGER", "Group number within the run (largest first).", not_null=True),
        C("platform", "VARCHAR", "Platform of the members."),
        C("size", "INTEGER", "Number of members."),
        C("n_edges", "INTEGER", "Significant edges inside the group."),
        C("density", "DOUBLE", "n_edges / (size (size - 1) / 2)."),
        C("traces", "VARCHAR", "Traces of its internal edges, most frequent first."),
        C("expected_chance_edges", "DOUBLE", "Sum over its edges of the null's p-values."),
        C("first_at", "TIMESTAMPTZ", "First co-action inside the group."),
        C("last_at", "TIMESTAMPTZ", "Last co-action inside the group."),
        C("summary", "VARCHAR", "Plain-language evidence summary."),
    ),
    key=("run_id", "group_id"),
)

COORD_MEMBERS = Table(
    "coord_members",
    "Accounts of each group.",
    (
        RUN_ID,
        C("group_id", "INTEGER", "The group.", not_null=True),
        PLATFORM,
        C("account_id", "VARCHAR", "The member.", not_null=True),
        C("degree", "INTEGER", "Significant edges to other members."),
        C("strength", "DOUBLE", "Sum of the weights of those edges."),
    ),
    key=("run_id", "group_id", "platform", "account_id"),
)

COORD_EVIDENCE = Table(
    "coord_evidence",
    "Evidence of each group as JSON: per-trace counts, shared targets with times and posts, "
    "hourly timeline.",
    (
        RUN_ID,
        C("group_id", "INTEGER", "The group.", not_null=True),
        C("evidence", "JSON", "See `docs/methods.md` (group evidence)."),
    ),
    key=("run_id", "group_id"),
)

TABLES = (COORD_EDGES, COORD_EDGE_TRACES, COORD_GROUPS, COORD_MEMBERS, COORD_EVIDENCE)

MIGRATIONS = [
    (10, "coordination: edges, per-trace evidence, groups, members, evidence", list(TABLES), []),
]
