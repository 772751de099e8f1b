"""The analyst dashboard: ``fimiscope serve`` (FastAPI), users, roles, sessions.

>>> from fimiscope.web import ROLES
>>> ROLES
('viewer', 'analyst', 'admin')
"""

from fimiscope.web.users import (
    ROLES,
    add_user,
    list_users,
    remove_user,
    role_at_least,
    set_password,
    set_role,
    verify_password,
)

__all__ = [
    "ROLES",
    "add_user",
    "create_app",
    "list_users",
    "remove_user",
    "role_at_least",
    "set_password",
    "set_role",
    "verify_password",
]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`fimiscope.web.app.create_app` (imported lazily: FastAPI is an extra)."""
    from fimiscope.web.app import create_app as _create

    return _create(*args, **kwargs)
