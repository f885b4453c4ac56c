"""The documentation site builds with no warning (``mkdocs build --strict``): every page in the navigation, every
link, the API reference read from the code, the results page generated from the benchmarks' JSON; and the text
speaks of the product, never of how it was made."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = (tmp_path / "site" / "results.html").read_text()
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        assert f'id="{path.stem}"' in results, path.name  # every benchmark's figures are on the page
    assert "train_step" in (tmp_path / "site" / "api.html").read_text()
    pages = [p.read_text() for p in (tmp_path / "site").rglob("*.html")]
    raw = [
        line
        for page in pages
        for line in re.sub(r"<pre.*?</pre>", "", page, flags=re.S).splitlines()
        if re.search(r"\|\s*-{3,}\s*\|", line)
    ]
    assert raw == [], raw[:3]  # a Markdown table that did not render shows its |---| row as text


def test_user_text_names_papers_not_the_making_of_the_project():
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "shopfloor_cli").glob("*.py"))]
    banned = re.compile(r"\bthe seed\b|\bseed's\b|\bthe paper\b|\bthe issue\b|\bissue \d+|\bthis session\b", re.I)
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in texts for m in banned.finditer(p.read_text())]
    assert not found, found


def test_every_command_the_readme_and_first_page_show_parses():
    """The commands users copy from the README and the docs' first page take only options that exist."""
    import shlex

    from shopfloor_cli.main import build_parser

    commands = [
        m.group(1)
        for page in (ROOT / "README.md", ROOT / "docs" / "index.md")
        for m in re.finditer(r"`(shopfloor (?:run|data check) [^`]+)`", page.read_text())
        if "PIPELINE" not in m.group(1)
    ]
    assert len(commands) >= 12
    for command in commands:
        build_parser().parse_args(shlex.split(command)[1:])  # argparse exits 2 on an unknown option
