"""How the admin page is served; what it does in a browser is in tests/e2e/test_admin_page.py."""

import re
from pathlib import Path

import httpx

STATIC = Path(__file__).resolve().parents[2] / "loyalty" / "web" / "static"
SCRIPTS = sorted(STATIC.glob("*.js"))


async def test_the_page_and_all_its_files_are_served_with_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/admin")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/admin/admin.js"></script>' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    files = [(file.name, "text/javascript") for file in SCRIPTS] + [("admin.css", "text/css")]
    assert len(files) > 2
    for name, kind in files:
        response = await client.get(f"/admin/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(kind)
        assert response.headers["content-security-policy"] == policy
        assert response.text == (STATIC / name).read_text()


def test_every_module_imports_only_files_of_the_page() -> None:
    names = {file.name for file in SCRIPTS}
    for file in SCRIPTS:
        for source in re.findall(r"^import .* from '([^']+)';$", file.read_text(), re.M):
            assert source.startswith("./") and source[2:] in names, f"{file.name}: {source}"


async def test_nothing_else_is_served_from_the_page_folder(client: httpx.AsyncClient) -> None:
    for path in ["/admin/missing.js", "/admin/__init__.py", "/admin/..%2F__init__.py"]:
        assert (await client.get(path)).status_code == 404, path


def test_the_page_loads_nothing_from_another_origin() -> None:
    for file in STATIC.iterdir():
        text = file.read_text()
        origins = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text)) - {
            "http://www.w3.org"  # the SVG namespace, a name and not a download
        }
        assert origins == set(), f"{file.name} refers to {origins}"
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"]:
            assert sink not in text, f"{file.name}: values go in as text, never as HTML"


async def test_files_go_compressed_to_a_browser_that_takes_gzip(client: httpx.AsyncClient) -> None:
    for name in ["admin.html", "rules.js", "admin.css"]:
        packed = await client.get(f"/admin/{name}", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["vary"] == "Accept-Encoding"
        assert packed.text == (STATIC / name).read_text()  # httpx unpacks it
        assert int(packed.headers["content-length"]) < (STATIC / name).stat().st_size / 2
        plain = await client.get(f"/admin/{name}", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == (STATIC / name).read_bytes()


def test_the_page_asks_for_every_module_at_once() -> None:
    """Without a preload, each level of imports costs one more round trip on a phone."""
    html = (STATIC / "admin.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/admin/([^"]+)">', html))
    assert preloaded == {file.name for file in SCRIPTS} - {"admin.js"}
