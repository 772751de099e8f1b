"""`fimiscope monitor` as a process: SIGTERM stores what was received and exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fimiscope.cli import main
from fimiscope.monitor import JetstreamSource, Monitor
from fimiscope.monitor.replay import ReplayServer
from fimiscope.store import Store
from tests.monitor.conftest import canonical


def test_sigterm_flushes_and_restart_resumes(
    scenario: dict[str, Any], reference: dict[str, Any], tmp_path: Path
) -> None:
    server = ReplayServer(scenario["lines"], rate=2000).start()
    path = tmp_path / "cli.duckdb"
    try:
        env = {**os.environ, "FIMISCOPE_NO_PROGRESS": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fimiscope",
                "monitor",
                "--store",
                str(path),
                "--jetstream",
                server.url,
                "--collections",
                "",
                "--no-detect",
                "--status-seconds",
                "0.5",
                "--batch-size",
                "500",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + 60
        while server.sent < 3000 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert b"(final)" in err
        with Store(path) as store:
            run = store.sql("SELECT status FROM runs WHERE stage = 'monitor'")
            assert run == [("ok",)]
            stored = store.sql("SELECT events, cursor FROM monitor_cursors")[0]
            assert 0 < stored[0] < len(scenario["lines"])
            # What was received before SIGTERM is stored: the process stored up to its cursor.
            assert store.count("posts") > 0
            # Restart (library this time) resumes from the stored cursor with no gap.
            Monitor(
                store, JetstreamSource(server.url), windows=None, idle_seconds=1.5, log=None
            ).run()
            assert server.connections[-1].endswith(f"cursor={stored[1]}")
            assert canonical(store) == reference
    finally:
        server.stop()


def test_monitor_alerts_command_lists_json(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "a.duckdb"
    Store(path).close()
    assert main(["monitor-alerts", "--store", str(path), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(["monitor", "--store", str(path)]) == 2
    assert "exactly one of" in capsys.readouterr().err
