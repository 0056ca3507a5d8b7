"""report.html in a real browser: a tiny run of every data kind, its report opened by headless Chromium (Debian's
``chromium``; ``.ci/run`` installs it). Every image has a non-zero natural size, the page logs nothing to the console
(no broken image, no error), the metrics table holds the run's numbers, and a screenshot is saved. Skipped, with one
line saying so, where no chromium is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ganforge.report import flat_metrics, fmt
from ganforge.viz.html import png_size
from kind_runs import KINDS, tiny_run

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium found: the browser test of report.html is "
                                "skipped (apt-get install chromium)")

# Added to a copy of the report (the report itself has no script): after load, write each image's natural size
# into the page, and log one canary line so the test knows console messages do reach stderr.
PROBE = ('<script>window.addEventListener("load",function(){var r=[];for(const im of document.images)'
         '{r.push([im.naturalWidth,im.naturalHeight])}var p=document.createElement("pre");p.id="probe";'
         'p.textContent=JSON.stringify(r);document.body.appendChild(p);console.log("ganforge-canary")});</script>')


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
           "--v=0", f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kinds")


@pytest.mark.parametrize("kind", KINDS)
def test_report_opens_in_chromium(kind: str, root: Path, tmp_path: Path) -> None:
    run = tiny_run(kind, root)
    page = (run / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    done = chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    sizes = json.loads(re.search(r'<pre id="probe">([^<]*)</pre>', done.stdout).group(1))
    assert len(sizes) == page.count("<img") >= 2
    assert all(w > 0 and h > 0 for w, h in sizes), sizes  # every image decoded and laid out
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert len(console) == 1, console  # the canary alone: no error, no failed image, nothing else logged
    assert "ganforge-canary" in console[0]
    metrics = flat_metrics(json.loads((run / "eval" / "final.json").read_text())["metrics"])
    assert metrics
    for name, value in metrics.items():  # the table as the browser parsed it holds the run's numbers
        assert re.search(rf'data-metric="{re.escape(name)}"[^>]*>{re.escape(fmt(value))}</td>', done.stdout), name
    shot = tmp_path / f"report-{kind}.png"
    done = chromium(tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", (run / "report.html").as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert png_size(shot.read_bytes()) == (1200, 1600)
