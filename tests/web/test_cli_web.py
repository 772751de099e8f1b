"""`fimiscope users ...` and `fimiscope serve` (defaults and warning; no socket is bound)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from fimiscope.cli import main
from fimiscope.store import Store
from fimiscope.web.app import is_loopback


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_users_add_list_passwd_role_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.duckdb")
    add = ["users", "add", "mika", "--role", "analyst", "--password-stdin", "--store", db]
    assert _run(add, monkeypatch, "a long enough secret\n") == 0
    with Store(db) as st:
        digest = st.sql("SELECT password_hash FROM web_users WHERE username = 'mika'")[0][0]
    assert digest.startswith("$argon2id$") and "secret" not in digest
    assert _run(add, monkeypatch, "another secret here\n") == 2  # the name is taken
    assert "not yet taken" in capsys.readouterr().err
    short = ["users", "add", "kei", "--password-stdin", "--store", db]
    assert _run(short, monkeypatch, "short\n") == 2
    assert _run(["users", "list", "--json", "--store", db], monkeypatch) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [(u["username"], u["role"]) for u in listed] == [("mika", "analyst")]
    assert "argon2" not in str(listed) and "password_hash" not in str(listed)
    passwd = ["users", "passwd", "mika", "--password-stdin", "--store", db]
    assert _run(passwd, monkeypatch, "a brand new secret\n") == 0
    from fimiscope.web.users import verify_password

    with Store(db) as st:
        assert verify_password(st, "mika", "a long enough secret") is None
        assert verify_password(st, "mika", "a brand new secret") == {
            "username": "mika",
            "role": "analyst",
        }
    assert _run(["users", "role", "mika", "admin", "--store", db], monkeypatch) == 0
    assert _run(["users", "role", "mika", "root", "--store", db], monkeypatch) == 2
    assert _run(["users", "remove", "mika", "--store", db], monkeypatch) == 0
    assert _run(["users", "remove", "mika", "--store", db], monkeypatch) == 2


class _FakeServer:
    configs: ClassVar[list[Any]] = []

    def __init__(self, config: Any) -> None:
        self.configs.append(config)

    def run(self) -> None:
        return None


def test_serve_binds_loopback_by_default_and_warns_when_exposed_without_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "Server", _FakeServer)
    db = str(tmp_path / "s.duckdb")
    assert main(["serve", "--store", db, "--port", "8999"]) == 0
    err = capsys.readouterr().err
    assert _FakeServer.configs[-1].host == "127.0.0.1"
    assert "without TLS" not in err and "no dashboard user yet" in err
    assert main(["serve", "--store", db, "--host", "0.0.0.0"]) == 0
    assert "warning: serving on 0.0.0.0 without TLS" in capsys.readouterr().err
    assert main(["serve", "--store", db, "--ssl-certfile", "c.pem"]) == 2  # key missing


@pytest.mark.parametrize(
    ("host", "loop"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop
