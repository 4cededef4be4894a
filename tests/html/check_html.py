#!/usr/bin/env python3
"""Load trainrate's HTML reports in a real headless Chromium.

Usage: check_html.py TRAINRATE_CLI TEST_DATA_DIR [--keep DIR]

Generates report.html (from tests/data/reports) and fleet.html (from tests/data/reports/fleet)
with the CLI, then for each page:
  - static checks: no <script>, nothing fetched from elsewhere (http(s) URLs, url(), @import, <link>);
  - Chromium loads it with console logging on: no console message (error or otherwise) may appear;
  - the screenshot is non-blank (enough non-white pixels, several colours);
  - it prints to a non-empty PDF.
A negative control (a page that logs a console error) proves the console check can fail.
Exit 0 on success, 1 on failure, 77 (skip) only when Chromium cannot be installed.
"""
import glob
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = 77


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium():
    path = find_chromium()
    if path:
        return path
    setup = os.path.join(REPO, "scripts", "setup")
    print(f"check_html: chromium not found; installing it with {setup} chromium", flush=True)
    result = subprocess.run([setup, "chromium"], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"check_html: SKIP: chromium cannot be installed (scripts/setup chromium exited "
              f"{result.returncode}): {result.stderr.strip()[-500:]}")
        sys.exit(SKIP)
    path = find_chromium()
    if not path:
        print("check_html: SKIP: scripts/setup chromium succeeded but no chromium binary is on PATH")
        sys.exit(SKIP)
    return path


def chromium_args(chromium, profile):
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
            "--hide-scrollbars", "--window-size=1280,2400"]


CONSOLE = re.compile(r"CONSOLE\(\d+\)|:CONSOLE|Uncaught|console\.(error|warn)|Failed to load resource|"
                     r"Refused to|net::ERR_", re.IGNORECASE)


def console_messages(stderr, page):
    """Console lines and load failures that concern `page` (Chromium's own noise is ignored)."""
    lines = []
    for line in stderr.splitlines():
        if CONSOLE.search(line):
            lines.append(line.strip())
    return lines


def run_chromium(chromium, page, profile, extra):
    url = "file://" + os.path.abspath(page)
    command = chromium_args(chromium, profile) + extra + [url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result


def png_stats(path):
    """(width, height, fraction of non-white pixels, distinct colours in a sample) of an 8-bit RGB(A) PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG format depth={depth} colour={colour} interlace={interlace}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    non_white, colours, row_start = 0, set(), 0
    for y in range(height):
        kind = raw[row_start]
        line = bytearray(raw[row_start + 1:row_start + 1 + stride])
        row_start += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        previous = line
        for x in range(0, width, 2):
            r, g, bl = line[x * channels:x * channels + 3]
            if r < 245 or g < 245 or bl < 245:
                non_white += 1
            if y % 8 == 0:
                colours.add((r >> 4, g >> 4, bl >> 4))
    return width, height, non_white / (height * ((width + 1) // 2)), len(colours)


STATIC_FORBIDDEN = [("<script", "a script"), ("http://", "an http URL"), ("https://", "an https URL"),
                    ("url(", "a CSS url()"), ("@import", "a CSS @import"), ("<link", "a <link>"),
                    ("<iframe", "an iframe"), ("<img", "an image")]


def check_page(chromium, page, work, failures):
    name = os.path.basename(page)
    with open(page, encoding="utf-8") as f:
        html = f.read()
    lowered = html.lower()
    for needle, what in STATIC_FORBIDDEN:
        if needle in lowered:
            failures.append(f"{name}: contains {what} ({needle!r}); the report must be self-contained")
    if "<svg" not in lowered:
        failures.append(f"{name}: no inline SVG chart")

    profile = tempfile.mkdtemp(prefix="profile-", dir=work)
    shot = os.path.join(work, name + ".png")
    result = run_chromium(chromium, page, profile, [f"--screenshot={shot}"])
    messages = console_messages(result.stderr, page)
    if messages:
        failures.append(f"{name}: console messages while loading:\n    " + "\n    ".join(messages[:10]))
    if not os.path.exists(shot):
        failures.append(f"{name}: chromium wrote no screenshot (exit {result.returncode}):\n{result.stderr[-2000:]}")
    else:
        width, height, ink, colours = png_stats(shot)
        print(f"check_html: {name}: screenshot {width}x{height}, {100 * ink:.1f}% non-white, {colours} colours")
        if ink < 0.02 or colours < 4:
            failures.append(f"{name}: screenshot looks blank ({100 * ink:.2f}% non-white, {colours} colours)")

    pdf = os.path.join(work, name + ".pdf")
    run_chromium(chromium, page, profile, [f"--print-to-pdf={pdf}", "--no-pdf-header-footer"])
    if not os.path.exists(pdf) or os.path.getsize(pdf) < 5000:
        failures.append(f"{name}: printing to PDF failed or gave an empty document")
    else:
        with open(pdf, "rb") as f:
            if not f.read(5) == b"%PDF-":
                failures.append(f"{name}: print output is not a PDF")
        print(f"check_html: {name}: printed to PDF, {os.path.getsize(pdf)} bytes")


def negative_control(chromium, work):
    """The console check must catch a page that logs an error, or it proves nothing."""
    page = os.path.join(work, "negative-control.html")
    with open(page, "w") as f:
        f.write("<!DOCTYPE html><html><body><p>control</p>"
                "<script>console.error('trainrate-negative-control');</script></body></html>")
    result = run_chromium(chromium, page, tempfile.mkdtemp(prefix="profile-", dir=work),
                          [f"--screenshot={page}.png"])
    if not any("trainrate-negative-control" in m for m in console_messages(result.stderr, page)):
        return ("negative control: a page calling console.error() produced no console line on stderr, so the "
                "console check cannot be trusted; stderr was:\n" + result.stderr[-2000:])
    return None


def main():
    args = sys.argv[1:]
    keep = None
    if "--keep" in args:
        i = args.index("--keep")
        keep = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__)
        return 2
    cli, data = args
    chromium = ensure_chromium()
    version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"check_html: using {chromium} ({version})")
    work = keep or tempfile.mkdtemp(prefix="trainrate-html-")
    os.makedirs(work, exist_ok=True)
    failures = []
    try:
        report_dir, fleet_dir = os.path.join(work, "report"), os.path.join(work, "fleet")
        subprocess.run([cli, "report", os.path.join(data, "results-cpu.json"), os.path.join(data, "bench.json"),
                        "--predictions", os.path.join(data, "predictions.json"), "-o", report_dir], check=True)
        merged = subprocess.run([cli, "merge", *sorted(glob.glob(os.path.join(data, "fleet", "*.json"))),
                                 "-o", fleet_dir])
        if merged.returncode not in (0, 1):
            failures.append(f"trainrate merge exited {merged.returncode}")
        control = negative_control(chromium, work)
        if control:
            failures.append(control)
        for page in (os.path.join(report_dir, "report.html"), os.path.join(fleet_dir, "fleet.html")):
            check_page(chromium, page, work, failures)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("check_html: FAILED\n  " + "\n  ".join(failures))
        return 1
    print("check_html: ok: both reports load in Chromium without console messages, render and print")
    return 0


if __name__ == "__main__":
    sys.exit(main())
