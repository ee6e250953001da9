"""The static dashboard: its pages, and a real headless Chromium that loads them from file://,
shows the charts and makes no request."""

import http.server
import io
import re
import threading

import browser
import pytest
from history_support import nightly, session

from llmbench.cli import main
from llmbench.history import HistoryStore, append_results
from llmbench.history.dashboard import write_site

COMMIT_URL = "https://git.example/llmbench/commit/{commit}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """20 nights of the recorded smoke session, runtime_s 25 % slower from night 14 on."""
    root = tmp_path_factory.mktemp("site")
    location = str(root / "h.sqlite")
    for doc in nightly(session("smoke-a"), 20, metric="runtime_s", shift_at=14, factor=1.25):
        append_results(location, doc, "night")
    with HistoryStore(location) as store:
        return write_site(list(store.measurement_rows()), store.benchmark_rows(), store.runs(),
                          root / "out", commit_url=COMMIT_URL)


def runtime_page(site):
    return next(p for p in site.pages if "lora_rank_r8__smoke__cpu__runtime_s" in p.name)


def test_index_lists_every_benchmark_with_its_latest_verdict(site):
    html = site.index.read_text()
    for bench in ("lora_ranks/lora_rank/r8", "quantization/precision/fp32",
                  "quantization/precision/nf4"):
        assert bench in html
    assert html.count('class="spark"') == 55  # a sparkline per metric
    assert '<span class="badge info">updated</span>' in html
    assert 'title="change point: regression"' in html  # runtime_s is flagged
    assert len(site.pages) == 55


def test_metric_page_has_band_baseline_samples_changes_and_commit_links(site):
    html = runtime_page(site).read_text()
    assert 'class="band"' in html and "<title>baseline</title>" in html
    assert html.count('class="change"') == 1
    assert 'class="samples"' in html
    night14 = f"{14:040x}"
    assert f'href="https://git.example/llmbench/commit/{night14}"' in html
    assert re.search(r"\+2[45]\.\d%", html)  # the change's size


def test_pages_load_nothing_and_run_no_script(site):
    for page in [site.index, *site.pages]:
        html = page.read_text()
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        assert "<script" not in html and "<link" not in html and "<img" not in html
        assert not re.search(r"""\s(src|srcset)=""", html)


def test_without_a_template_points_link_to_the_run_list(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    location = str(tmp_path / "h.sqlite")
    assert main(["history", "import", "--history", location,
                 str(__import__("history_support").SESSIONS / "smoke-a.json")]) == 0
    assert main(["history", "html", str(tmp_path / "out"), "--history", location]) == 0
    page = next((tmp_path / "out" / "metrics").glob("*smoke__cpu__runtime_s*"))
    assert 'href="../index.html#run-8a6afe2b1495"' in page.read_text()
    assert 'id="run-8a6afe2b1495"' in (tmp_path / "out" / "index.html").read_text()


needs_chromium = pytest.mark.skipif(
    browser.chromium_binary() is None,
    reason="headless Chromium not installed (Debian: apt-get install -y chromium)")


def colour_pixels(png: bytes, box: dict, rgb: tuple[int, int, int], tol: int = 40) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    crop = image.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]),
                       int(box["y"] + box["height"])))
    return sum(1 for px in crop.getdata() if all(abs(a - b) <= tol for a, b in zip(px, rgb)))


@needs_chromium
def test_chromium_shows_the_chart_and_the_page_requests_nothing_else(site, tmp_path):
    page = runtime_page(site)
    loaded = browser.load(page.as_uri(), measure=("svg.chart",))
    assert loaded.requests == [page.as_uri()]
    box = loaded.boxes["svg.chart"]
    assert box["width"] > 500 and box["height"] > 200
    browser.save(loaded, tmp_path / "metric.png")
    assert colour_pixels(loaded.screenshot, box, (0x1F, 0x5F, 0xBF)) > 300  # values
    assert colour_pixels(loaded.screenshot, box, (0xDC, 0xEB, 0xD8), tol=6) > 2000  # band
    assert colour_pixels(loaded.screenshot, box, (0xC6, 0x28, 0x28)) > 50  # change point


@needs_chromium
def test_chromium_shows_the_overview_sparklines(site):
    loaded = browser.load(site.index.as_uri(), measure=("svg.spark", "main"))
    assert loaded.requests == [site.index.as_uri()]
    first = loaded.boxes["svg.spark"]
    assert colour_pixels(loaded.screenshot, first, (0x1F, 0x5F, 0xBF)) > 10  # a flat line
    # 55 sparklines across the page
    assert colour_pixels(loaded.screenshot, loaded.boxes["main"], (0x1F, 0x5F, 0xBF)) > 55 * 15


@needs_chromium
def test_the_request_check_sees_a_page_that_does_fetch(tmp_path):
    """The check above can fail: a page that loads an image from a local server is caught."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = tmp_path / "leaky.html"
        image = f"http://127.0.0.1:{server.server_address[1]}/pixel.png"
        page.write_text(f'<!DOCTYPE html><html><body><img src="{image}"></body></html>')
        loaded = browser.load(page.as_uri())
    finally:
        server.shutdown()
    assert image in loaded.requests
