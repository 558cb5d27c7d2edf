import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECRET = "compose-test-secret-that-is-long-enough"

Compose = Callable[..., subprocess.CompletedProcess[str]]


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="module")
def compose() -> Compose:
    command = _compose_command()
    if command is None:
        reason = "docker-compose is not installed: apt-get install docker-compose"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)

    def run(*args: str, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "LOYALTY_JWT_SECRET"}
        if secret is not None:
            env["LOYALTY_JWT_SECRET"] = secret
        file = ["-f", str(ROOT / "docker-compose.yml")]
        return subprocess.run(
            [*command, *file, *args], cwd=ROOT, env=env, capture_output=True, text=True
        )

    return run


def test_compose_file_is_valid(compose: Compose) -> None:
    result = compose("config", "-q")

    assert result.returncode == 0, result.stderr


def test_compose_runs_the_app_against_the_db(compose: Compose) -> None:
    services = compose("config", "--services")
    config = compose("config")

    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {"db", "app"}
    assert "LOYALTY_ENV: production" in config.stdout
    assert "postgresql://loyalty:loyalty@db:5432/loyalty" in config.stdout


def test_compose_refuses_to_start_without_a_jwt_secret(compose: Compose) -> None:
    result = compose("config", "-q", secret=None)

    assert result.returncode != 0
    assert "LOYALTY_JWT_SECRET" in result.stderr
