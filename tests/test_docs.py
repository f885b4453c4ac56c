"""The documentation site builds with no warning (``mkdocs build --strict``): every page in the navigation, every
link, the API reference read from the code, the results page generated from the benchmarks' JSON; and the text
speaks of the product, never of how it was made."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The documentation built once, as ``make docs`` builds it."""
    out = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_the_site_builds_strictly(site):
    tmp_path = site.parent
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


BROWSER, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(
    not (BROWSER and DRIVER), reason="no chromium to open the site with: apt-get install chromium chromium-driver"
)
def test_the_built_site_works_opened_from_disk_in_a_browser(site):
    """Every page opened from disk (file://) in headless chromium: each link to another page of the site reaches a
    file, each image has loaded, and no Markdown table shows as text."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    problems: list[str] = []
    # 404.html is what a web server shows for a missing path, with links from the site's root: not a page to open
    pages = sorted(p for p in site.rglob("*.html") if "assets" not in p.parts and p.name != "404.html")
    try:
        for page in pages:
            driver.get(page.as_uri())
            name = page.relative_to(site)
            links = driver.execute_script(
                "return [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => h.startsWith('file://'))"
            )
            for link in links:
                target = Path(link.removeprefix("file://").split("#")[0].split("?")[0])
                if not target.exists() or target.is_dir():
                    problems.append(f"{name}: a link to {target} opens no page")
            broken = driver.execute_script(
                "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
            )
            problems += [f"{name}: image {src} did not load" for src in broken]
            text = driver.execute_script(
                "const b = document.body.cloneNode(true); b.querySelectorAll('pre, code').forEach(e => e.remove());"
                "return b.innerText"
            )
            problems += [
                f"{name}: a table shows as text: {line[:80]}"
                for line in text.splitlines()
                if re.search(r"\|\s*-{3,}\s*\|", line)
            ]
    finally:
        driver.quit()
    assert len(pages) >= 19 and problems == [], "\n".join(problems)


@pytest.mark.slow
def test_the_kserve_client_snippet_of_the_serving_page_answers_as_shown(tmp_path):
    """The Python snippet the serving page shows, run as a user would (its own process, ``v2.json`` beside it)
    against ``shopfloor serve`` on the model the page's examples come from, prints what the page says it prints."""
    import importlib.util
    import json

    from loadtest.run import local_server

    spec = importlib.util.spec_from_file_location("serving_examples", ROOT / "docs" / "hooks" / "serving_examples.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    _, _, name = hook.served("fault-detection")
    (tmp_path / "v2.json").write_text(json.dumps(hook.v2_body("fault-detection")))
    home = hook._home()
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    with local_server(name, extra=["--poll-seconds", "0"], env=env, log=tmp_path / "serve.log") as url:
        snippet = hook.CLIENT.format(url=url, model=name)
        printed = subprocess.run(
            [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
        ).stdout
    assert printed.splitlines() == hook.client_output(url)
