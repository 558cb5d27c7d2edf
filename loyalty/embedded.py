"""A PostgreSQL server private to one checkout, for development and tests."""

import hashlib
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import quote

SUPERUSER = "loyalty"
PORT = 5432
_SOCKET_NAME = f".s.PGSQL.{PORT}"
_MAX_SOCKET_PATH = 107  # sizeof(sockaddr_un.sun_path) minus the trailing NUL
_PG_LIB = Path("/usr/lib/postgresql")
_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
StopMode = Literal["smart", "fast", "immediate"]
_CREATE_DATABASE = """\
SELECT format('CREATE DATABASE %I', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec
"""


class EmbeddedPostgresError(Exception):
    """The embedded PostgreSQL server could not be set up."""


@dataclass(frozen=True)
class _Account:
    """The unprivileged user the server runs as when we are root."""

    name: str
    uid: int
    gid: int

    def run_as(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def find_pg_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, preferring PATH."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent, Path(on_path).parent] if on_path else []
    candidates += sorted(_PG_LIB.glob("*/bin"), key=_version_key, reverse=True)
    return next((c for c in candidates if _has_server_binaries(c)), None)


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _SERVER_BINARIES)


def _server_account() -> _Account | None:
    """PostgreSQL refuses to run as root, so root hands the server to another user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _Account(name, entry.pw_uid, entry.pw_gid)
    raise EmbeddedPostgresError("running as root needs a 'postgres' or 'nobody' user")


def _check_searchable(path: Path, account: _Account) -> None:
    for directory in path.parents:
        mode = directory.stat()
        if mode.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif mode.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not mode.st_mode & bit:
            raise EmbeddedPostgresError(
                f"{directory} is not searchable by user {account.name!r}, which runs PostgreSQL"
                f" when started as root; run 'chmod o+x {directory}' or move {path} elsewhere"
            )


def _give_to(path: Path, account: _Account | None, mode: int) -> None:
    if account is not None:
        os.chown(path, account.uid, account.gid)
    path.chmod(mode)


def _socket_dir(data_dir: Path, account: _Account | None) -> Path:
    """`<data_dir.parent>/run`, or a short directory in /tmp when that path is too long."""
    directory = data_dir.parent / "run"
    if len(os.fsencode(directory / _SOCKET_NAME)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
        directory = Path("/tmp") / f"loyalty-pg-{digest}"  # noqa: S108 - private, checked below
    directory.mkdir(mode=0o700, exist_ok=True)
    found = directory.lstat()
    if not stat.S_ISDIR(found.st_mode) or (account is None and found.st_uid != os.geteuid()):
        raise EmbeddedPostgresError(f"{directory} must be a directory owned by this user")
    _give_to(directory, account, 0o700)
    return directory


def _postmaster(data_dir: Path) -> tuple[Path, str] | None:
    """The socket dir and status of a live postmaster serving data_dir, if any."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, and owned by the account the server runs as
    if len(lines) < 8 or not (Path(lines[4]) / _SOCKET_NAME).is_socket():
        return None
    return Path(lines[4]), lines[7].strip()


def _running_server(data_dir: Path, timeout: float = 30.0) -> Path | None:
    """Wait for a postmaster already on data_dir to be ready and return its socket dir."""
    deadline = time.monotonic() + timeout
    while (found := _postmaster(data_dir)) is not None:
        socket_dir, status = found
        if status == "ready":
            return socket_dir
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(f"the server on {data_dir} stayed {status!r}")
        time.sleep(0.05)
    return None


def _run(
    command: list[str],
    account: _Account | None,
    *,
    log: Path | None = None,
    stdin: str | None = None,
    new_session: bool = False,
) -> None:
    extra = account.run_as() if account is not None else {}
    result = subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
        command,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        start_new_session=new_session,
        **extra,
    )
    if result.returncode != 0:
        details = result.stderr.strip() or result.stdout.strip()
        if log is not None and log.exists():
            details += "\n--- server log ---\n" + "\n".join(log.read_text().splitlines()[-30:])
        raise EmbeddedPostgresError(f"{Path(command[0]).name} failed:\n{details}")


def _ensure_database(psql: Path, maintenance_dsn: str, database: str) -> None:
    command = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"name={database}"]
    _run([*command, "-d", maintenance_dsn], None, stdin=_CREATE_DATABASE)


def _pg_ctl(bindir: Path, data_dir: Path) -> list[str]:
    return [str(bindir / "pg_ctl"), "-D", str(data_dir), "-w", "-s"]


def _psql(bindir: Path) -> Path:
    if (bindir / "psql").exists():
        return bindir / "psql"
    return Path(shutil.which("psql") or "psql")


def _socket_dsn(socket_dir: Path, database: str) -> str:
    host = quote(str(socket_dir), safe="/")
    return f"postgresql://{SUPERUSER}@/{quote(database, safe='')}?host={host}&port={PORT}"


class EmbeddedPostgres:
    """Initialise, start and stop a cluster in data_dir, reachable only by unix socket."""

    def __init__(self, data_dir: Path, *, database: str = "loyalty", fast: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self.database = database
        self.fast = fast
        self.log = self.data_dir.parent / "postgres.log"
        self._dsn: str | None = None
        self._stop_command: list[str] | None = None
        self._account: _Account | None = None

    @property
    def dsn(self) -> str:
        if self._dsn is None:
            raise EmbeddedPostgresError("the embedded server has not been started")
        return self._dsn

    def start(self) -> str:
        if self._dsn is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            bindir = find_pg_bindir()
            self._dsn = self._start_pgserver() if bindir is None else self._start_with(bindir)
        return self._dsn

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop the server if this object started it; a server we reused stays up.

        `fast` rolls back open transactions and checkpoints; `immediate` ends every process
        at once, as a crash would, and the next start recovers from the WAL. Either way
        start() brings the server back on the same socket.
        """
        command, self._stop_command = self._stop_command, None
        self._dsn = None
        if command is not None and _postmaster(self.data_dir) is not None:
            _run([*command, "-m", mode, "stop"], self._account, log=self.log)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start_with(self, bindir: Path) -> str:
        self._account = account = _server_account()
        if account is not None:
            _check_searchable(self.data_dir, account)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bindir, account)
        socket_dir = _running_server(self.data_dir)
        if socket_dir is None:
            socket_dir = _socket_dir(self.data_dir, account)
            self._launch(bindir, socket_dir, account)
        _ensure_database(_psql(bindir), _socket_dsn(socket_dir, "postgres"), self.database)
        return _socket_dsn(socket_dir, self.database)

    def _initdb(self, bindir: Path, account: _Account | None) -> None:
        _give_to(self.data_dir, account, 0o700)
        command = [str(bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER]
        command += ["--auth=trust", "-E", "UTF8", "--locale=C"]
        _run(command + (["--no-sync"] if self.fast else []), account)

    def _launch(self, bindir: Path, socket_dir: Path, account: _Account | None) -> None:
        self.log.touch()
        _give_to(self.log, account, 0o600)
        settings = {
            "listen_addresses": "",
            "port": str(PORT),
            "unix_socket_directories": str(socket_dir),
            **(_FAST_SETTINGS if self.fast else {}),
        }
        options = " ".join(f"-c {shlex.quote(f'{key}={value}')}" for key, value in settings.items())
        pg_ctl = _pg_ctl(bindir, self.data_dir)
        # A new session keeps Ctrl-C in the terminal from reaching the server; stop() owns it.
        _run(
            [*pg_ctl, "-t", "60", "-l", str(self.log), "-o", options, "start"],
            account,
            log=self.log,
            new_session=True,
        )
        self._stop_command = pg_ctl

    def _start_pgserver(self) -> str:
        from pgserver import postgres_server  # only needed where PostgreSQL is not installed

        already_running = _postmaster(self.data_dir) is not None
        # get_server caches one handle per directory, even after the server behind it stopped.
        postgres_server.PostgresServer._instances.pop(self.data_dir, None)
        try:
            server = postgres_server.get_server(self.data_dir, cleanup_mode=None)
        except (OSError, subprocess.SubprocessError) as error:
            raise EmbeddedPostgresError(f"pgserver could not start: {error}") from error
        bindir = Path(postgres_server.__file__).parent / "pginstall" / "bin"
        system_user: str | None = getattr(server, "system_user", None)
        if system_user is not None:
            entry = pwd.getpwnam(system_user)
            self._account = _Account(system_user, entry.pw_uid, entry.pw_gid)
        if not already_running:
            self._stop_command = _pg_ctl(bindir, self.data_dir)
        _ensure_database(bindir / "psql", server.get_uri("postgres"), self.database)
        return server.get_uri(self.database)
