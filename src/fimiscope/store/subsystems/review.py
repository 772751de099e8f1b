"""Tables of the review trail (migrations 40-49): analyst decisions and the audit log.

Both tables are append-only: rows are inserted, never updated or deleted, so that every
decision and every export can be traced back to who made it, when and why.
"""

from __future__ import annotations

from fimiscope.store.schema import C, Table

REVIEWS = Table(
    "reviews",
    "Analyst decisions on groups, accounts and posts (append-only; the latest confirm or "
    "dismiss of a subject is its status).",
    (
        C(
            "review_id",
            "BIGINT",
            "Surrogate key, increasing in the order decisions were made.",
            not_null=True,
        ),
        C("at", "TIMESTAMPTZ", "When the decision was recorded (UTC).", not_null=True),
        C("analyst", "VARCHAR", "Who decided (login or name).", not_null=True),
        C("subject_kind", "VARCHAR", "`group`, `account` or `post`.", not_null=True),
        C(
            "subject_id",
            "VARCHAR",
            "Group number (as text), `accounts.account_id` or `posts.post_id`.",
            not_null=True,
        ),
        C("platform", "VARCHAR", "Platform of the account or post (groups: optional)."),
        C("run_id", "VARCHAR", "The detect run a group belongs to (groups), else optional."),
        C("decision", "VARCHAR", "`confirm`, `dismiss` or `annotate`.", not_null=True),
        C("reason", "VARCHAR", "Why, in the analyst's words.", not_null=True),
        C(
            "attribution",
            "VARCHAR",
            "Actor the analyst attributes the subject to (annotate only), e.g. an intrusion set.",
        ),
        C("attribution_kind", "VARCHAR", "`threat-actor` or `intrusion-set` (with `attribution`)."),
        C(
            "techniques",
            "VARCHAR",
            "Comma-separated DISARM technique ids the analyst adds to the subject (annotate).",
        ),
    ),
    key=("review_id",),
)

AUDIT_LOG = Table(
    "audit_log",
    "Who did what and when: reviews, exports, logins (append-only).",
    (
        C("audit_id", "BIGINT", "Surrogate key, increasing in time order.", not_null=True),
        C("at", "TIMESTAMPTZ", "When (UTC).", not_null=True),
        C("actor", "VARCHAR", "Who (login or name).", not_null=True),
        C("action", "VARCHAR", "What, e.g. `review`, `export`, `login`.", not_null=True),
        C(
            "detail",
            "JSON",
            "Details: for exports the format, output path, run ids and whether identifiers were "
            "raw.",
        ),
    ),
    key=("audit_id",),
)

TABLES = (REVIEWS, AUDIT_LOG)

MIGRATIONS = [
    (
        40,
        "review: analyst decisions and audit log (append-only)",
        list(TABLES),
        [
            "CREATE SEQUENCE IF NOT EXISTS review_id_seq START 1",
            "CREATE SEQUENCE IF NOT EXISTS audit_id_seq START 1",
        ],
    ),
]
