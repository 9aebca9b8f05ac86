"""The page's files ship with the package (editable install and wheel) and load nothing from elsewhere."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib.resources import files

from tests.support import REPO

STATIC = files("qqbus_dev.console") / "static"


def test_every_static_file_is_package_data() -> None:
    project = tomllib.loads((REPO / "devtools" / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]
    shipped = globs["qqbus_dev.console"]
    names = [f.name for f in STATIC.iterdir() if f.is_file()]
    assert {"index.html", "console.css", "console.js"} <= set(names)
    assert all(any(fnmatch(f"static/{name}", glob) for glob in shipped) for name in names)


def test_the_page_refers_only_to_its_own_files() -> None:
    html = (STATIC / "index.html").read_text()
    referenced = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert referenced, "the page links its styles and script"
    for ref in referenced:
        if ref.startswith("data:"):
            continue  # the empty favicon: no request at all
        assert ref.startswith("/console/static/"), ref
        assert (STATIC / ref.removeprefix("/console/static/")).is_file(), ref
    for name in sorted(f.name for f in STATIC.iterdir() if f.is_file()):
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://", text), f"{name} names another host"
        assert "innerHTML" not in text, f"{name} builds markup from strings"
