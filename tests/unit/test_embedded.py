import importlib.util
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from loyalty.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_pg_bindir

NATIVE = find_pg_bindir() is not None
pytestmark = pytest.mark.skipif(
    not NATIVE and importlib.util.find_spec("pgserver") is None,
    reason="neither PostgreSQL binaries nor the pgserver package are installed",
)


def _psql_binary() -> str:
    bindir = find_pg_bindir()
    if bindir is not None and (bindir / "psql").exists():
        return str(bindir / "psql")
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.origin is not None
    return shutil.which("psql") or str(Path(spec.origin).parent / "pginstall" / "bin" / "psql")


PSQL = _psql_binary()


def psql(dsn: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PSQL, "-X", "-At", "-c", sql, dsn], capture_output=True, text=True)


def query(dsn: str, sql: str) -> str:
    result = psql(dsn, sql)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not tmp_path: pytest keeps it under a 0700 directory, and a suite running as root
    # hands the server to an unprivileged user who must be able to reach the data.
    base = Path(tempfile.mkdtemp(prefix="loyalty-embedded-"))
    base.chmod(0o755)
    yield base / "pgdata"
    shutil.rmtree(base, ignore_errors=True)


def test_fast_cluster_serves_the_database_over_a_unix_socket_only(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir, database="shop", fast=True) as server:
        assert query(server.dsn, "SELECT current_database()") == "shop"
        assert query(server.dsn, "SHOW listen_addresses") == ""
        if NATIVE:  # the pgserver fallback starts its server with its own settings
            assert query(server.dsn, "SHOW fsync") == "off"
        dsn = server.dsn

    assert psql(dsn, "SELECT 1").returncode != 0


def test_second_instance_reuses_the_running_server_and_leaves_it_up(data_dir: Path) -> None:
    first = EmbeddedPostgres(data_dir, fast=True)
    dsn = first.start()
    try:
        second = EmbeddedPostgres(data_dir, database="other")
        other_dsn = second.start()
        assert query(other_dsn, "SELECT current_database()") == "other"
        second.stop()

        assert query(dsn, "SELECT 1") == "1"
    finally:
        first.stop()
        first.stop()

    assert psql(dsn, "SELECT 1").returncode != 0


def test_data_survives_a_restart(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir, fast=True) as server:
        query(server.dsn, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (7)")

    with EmbeddedPostgres(data_dir, fast=True) as server:
        assert query(server.dsn, "SELECT id FROM kept") == "7"


def test_long_paths_get_a_short_socket_directory(data_dir: Path) -> None:
    deep = data_dir.parent / ("d" * 100) / "pgdata"

    with EmbeddedPostgres(deep, fast=True) as server:
        assert query(server.dsn, "SELECT 1") == "1"
        socket_dir = Path(parse_qs(urlsplit(server.dsn).query)["host"][0])

    assert len(str(socket_dir / ".s.PGSQL.5432")) <= 107
    if socket_dir.parent == Path("/tmp"):
        socket_dir.rmdir()


def test_dsn_is_unavailable_before_start(data_dir: Path) -> None:
    with pytest.raises(EmbeddedPostgresError):
        _ = EmbeddedPostgres(data_dir).dsn


@pytest.mark.skipif(
    importlib.util.find_spec("pgserver") is None, reason="the pgserver package is not installed"
)
def test_without_postgresql_binaries_the_pgserver_wheel_serves(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("loyalty.embedded.find_pg_bindir", lambda: None)
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    try:
        query(dsn, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        assert query(dsn, "SELECT current_database()") == "loyalty"
    finally:
        server.stop()
    again = EmbeddedPostgres(data_dir)
    try:
        assert query(again.start(), "SELECT n FROM kept") == "7"
    finally:
        again.stop()
