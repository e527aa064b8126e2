"""The status page in a real browser: headless Chromium (Debian's ``chromium``, installed by
``tests/browser/install.sh`` once per session) loads `/` of a service over a state that real
syncs against the emulator wrote; the test checks the DOM, that nothing overflows a 375-px phone,
and saves screenshots at 375 and 1280 px into pytest's tmp dir that it decodes and inspects (not
blank, the charts' colours drawn). No Pillow: the PNG is decoded here with zlib.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for _sub in ("reliability", "integration/service"):  # the service tests' fixtures and helpers
    if str(_TESTS / _sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / _sub))

from relfixtures import CliProject  # noqa: E402 - found through the path set above
from svcfixtures import get, leaked, make_service, serving  # noqa: E402
from syncfixtures import emulator, project_fixture, student  # noqa: E402

from connector.clock import school_date  # noqa: E402
from connector.state import open_store  # noqa: E402
from connector.status_page_assets import ACTION_COLOURS, OUTCOME_COLOURS  # noqa: E402

__all__ = ["emulator", "project"]

project = project_fixture(CliProject)
INSTALL = Path(__file__).with_name("install.sh")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium, installed when missing (needs root or sudo and apt)."""
    done = subprocess.run(
        ["sh", str(INSTALL)], capture_output=True, text=True, timeout=1200, check=False
    )
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not Path(path).exists():
        pytest.fail(f"tests/browser/install.sh could not provide chromium:\n{done.stderr[-2000:]}")
    return path


def browse(chromium: str, profile: Path, width: int, height: int, *args: str) -> str:
    """Run headless Chromium once at a window of ``width`` × ``height``; its stdout."""
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_pixels(path: Path) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    """Width, height and a count of every RGB colour of an 8-bit RGB/RGBA, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    bpp = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * bpp
    prev, counts = bytearray(stride), Counter()
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        _unfilter(kind, line, prev, bpp)
        counts.update(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=True))
        prev = line
    return width, height, counts


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    """Undo one scanline's PNG filter in place (RFC 2083 §6)."""
    if kind == 0:
        return
    if kind == 2:
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        else:  # 4: Paeth
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + pred) & 0xFF


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """``#2e7d32`` → (46, 125, 50)."""
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _seed(project: CliProject) -> None:
    """Two nightly runs, the second with a rejected row and an update: bars of four colours."""
    project.write_students([student("700001"), student("700002"), student("700003")])
    service = make_service(project)
    assert service.run_now("nightly").status == "ok"
    project.write_students(
        [student("700001", roepnaam="Sanna"), student("700002"), student("700003"),
         student("700004", email="fout")]
    )  # fmt: skip
    assert service.run_now("nightly").status == "partial"
    # An erasure Salesforce could not finish yet: an open request, due in 29 days by the real
    # clock (the page's, whatever SIS_SYNC_NOW says).
    with open_store(f"sqlite:///{project.state_file}") as store:
        store.add_request(
            "erase", [("student_number", "9f" * 32)], received_at=datetime.now(UTC),
            due_on=school_date() + timedelta(days=29),
        )  # fmt: skip


def test_the_served_page_renders_on_a_phone_and_a_desktop(project, chromium, tmp_path):
    _seed(project)
    profile = tmp_path / "profile"
    service = make_service(project)
    with serving(service) as base:
        code, html = get(base + "/")
        assert code == 200
        dom = browse(chromium, profile, 1280, 900, "--dump-dom", base + "/")
        shots = {}
        for width, height in ((375, 2600), (1280, 1400)):
            shot = tmp_path / f"status-{width}.png"
            browse(chromium, profile, width, height, f"--screenshot={shot}", base + "/")
            shots[width] = shot

    # The DOM the browser built: every section, the charts as SVG with their bars.
    for section in ("overview", "api", "runs", "rejects", "refusals", "audit", "requests",
                    "quality", "bounces", "records"):  # fmt: skip
        assert f'id="{section}"' in dom
    charts = re.findall(r'<svg class="chart" data-chart="([^"]+)"', dom)
    assert {"records-nightly", "duration-nightly", "api-budget", "rejects", "quality"} <= set(
        charts
    )
    # The open request with its deadline, the fields to fix (the bad address: 3 valid of 4
    # filled), and how to get the bounce counts.
    assert re.search(r"<td>DSR-\d{4}-\d{4}</td><td>erase</td><td>[\d-]+</td>"
                     r"<td>29 days left</td>", dom)  # fmt: skip
    assert "<title>students.Email: 75.0 %</title>" in dom
    assert 'id="bounces-unknown"' in dom
    assert dom.count('class="bar"') >= 6
    assert leaked(dom) == [] and "fout" not in re.sub(r"<[^>]+>", " ", dom).split()

    # Nothing wider than a 375-px phone: only the tables scroll, inside their own box. Headless
    # windows are at least 500 px wide, so the page is measured in a 375-px frame.
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!doctype html><body><iframe id="f" style="width:375px;height:800px;border:0" '
        f'srcdoc="{escape(html)}"></iframe><script>f.onload = () => {{'
        "document.body.dataset.scrollWidth = f.contentDocument.documentElement.scrollWidth;"
        "document.body.dataset.viewport = f.contentWindow.innerWidth}</script></body>",
        encoding="utf-8",
    )
    phone = browse(chromium, profile, 800, 900, "--dump-dom", probe.as_uri())
    assert 'data-viewport="375"' in phone
    width = re.search(r'data-scroll-width="(\d+)"', phone)
    assert width and int(width.group(1)) <= 375, "the page overflows a 375-px screen"

    # The screenshots: the right size, not blank, the charts' colours drawn.
    for size, shot in shots.items():
        w, h, colours = png_pixels(shot)
        assert (w, h) == (size, 2600 if size == 375 else 1400)
        assert len(colours) > 50, f"{shot.name}: {len(colours)} colours, a blank page?"
        for name in (ACTION_COLOURS["created"], ACTION_COLOURS["unchanged"],
                     ACTION_COLOURS["rejected"], OUTCOME_COLOURS["partial"]):  # fmt: skip
            assert colours[rgb(name)] >= 40, f"{shot.name}: no {name} bars drawn"
