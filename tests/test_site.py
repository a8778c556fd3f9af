"""The course website: built once (``nfref.report.site.build``) and opened in a headless Chromium.

Every page loads without a failed request or a script error, the maths renders (MathJax, served
by the site itself, turned every formula into its output and reported no TeX error; no raw
``$...$`` is left in the prose of a notebook page), every image loads, no internal link or
resource is broken and no page loads anything from outside the site. One notebook page is
photographed (nothing is compared with the picture; ``NFREF_SCREENSHOT=path`` keeps a copy,
which is how ``docs/screenshot_notebook02.png`` is made).

Needs the documentation packages of ``requirements.txt`` and, for the browser half, Chromium and
its driver from the operating system (Debian: ``apt-get install chromium chromium-driver``);
without them the tests skip and say so.
"""

import functools
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
DRIVER = shutil.which("chromedriver")
SCREENSHOT_PAGE = "_generated/notebooks/02_one_layer_flows.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site's folder (the build runs the report: about two minutes)."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -r "
                                           "requirements.txt)")
    from nfref.report.site import build
    out = tmp_path_factory.mktemp("site") / "html"
    assert build(out) == 0, "sphinx failed: see the captured output"
    return out


def test_no_docstring_sphinx_misreads(site):
    """Every docstring of the API reference is valid reStructuredText for Sphinx and napoleon
    (a short title underline, a table wider than its border, a backslash lost in a non-raw
    string all give a warning that names the docstring)."""
    warnings = (site.parent / (site.name + ".warnings.txt")).read_text(encoding="utf-8")
    print(f"{len(warnings.splitlines())} lines of Sphinx warnings")
    from_docstrings = [line for line in warnings.splitlines() if "docstring of" in line]
    assert not from_docstrings, "\n".join(from_docstrings[:20])


def _pages(site):
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


class _Links(HTMLParser):
    """The ids of a page, its links and the resources it loads."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.resources = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "link" and a.get("href"):
            self.resources.append(a["href"])
        elif tag in ("img", "script", "iframe", "source") and a.get("src"):
            self.resources.append(a["src"])


@functools.lru_cache(maxsize=None)
def _parse(path):
    parser = _Links()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return parser


def test_the_site_has_every_part(site):
    pages = {p.relative_to(site).as_posix() for p in _pages(site)}
    notebooks = sorted(Path(__file__).resolve().parents[1].glob("notebooks/*.ipynb"))
    assert notebooks
    for nb in notebooks:
        assert f"_generated/notebooks/{nb.stem}.html" in pages, nb.name
    for page in ("index", "reading", "report", "gallery", "api", "notes", "contract", "vectors"):
        assert f"{page}.html" in pages, page
    assert any(p.startswith("_generated/api/nfref.transform") for p in pages)
    report = (site / "report.html").read_text(encoding="utf-8")
    from nfref.report.claims import all_claims
    assert report.count("<tr") >= len(all_claims())           # one row per claim (+ headers)
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_no_internal_link_is_broken_and_nothing_is_loaded_from_outside(site):
    checked, broken, external = 0, [], []
    for page in _pages(site):
        parsed = _parse(page)
        for href, is_resource in [(h, False) for h in parsed.links] + \
                                 [(h, True) for h in parsed.resources]:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("//"):
                if is_resource and parts.scheme in ("http", "https", ""):
                    external.append(f"{page.relative_to(site)}: {href}")
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.is_file() or site.resolve() not in target.resolve().parents:
                broken.append(f"{page.relative_to(site)}: {href} (no file)")
            elif parts.fragment and target.suffix == ".html" and \
                    unquote(parts.fragment) not in _parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {href} (no anchor)")
    print(f"{checked} internal links and resources checked on {len(_pages(site))} pages")
    assert checked > 1000
    assert not broken, f"{len(broken)} broken of {checked}: " + "; ".join(broken[:20])
    assert not external, "loaded from outside the site: " + "; ".join(external[:20])


# ---------------------------------------------------------------------- in the browser
class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("Chromium or chromedriver is not installed (Debian: apt-get install "
                    "chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    yield driver
    driver.quit()


_WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function wait() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done("ok"), (e) => done("error: " + e));
  } else if (Date.now() - start > 60000) {
    done(window.MathJax ? "MathJax did not start" : "MathJax not loaded");
  } else {
    setTimeout(wait, 50);
  }
})();
"""

_WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
const start = Date.now();
for (const img of document.images) { img.loading = "eager"; }
(function wait() {
  const imgs = Array.from(document.images);
  if (imgs.every((i) => i.complete) || Date.now() - start > 30000) {
    done(imgs.map((i) => [i.getAttribute("src"), i.complete, i.naturalWidth]));
  } else {
    setTimeout(wait, 50);
  }
})();
"""

_MATH = """
const math = Array.from(document.querySelectorAll("span.math, div.math"));
const prose = document.querySelector("article, main, [role=main]") || document.body;
const copy = prose.cloneNode(true);
copy.querySelectorAll("pre, code, script, style, mjx-container, .cell_input, .cell_output, "
                      + ".highlight, .output").forEach((e) => e.remove());
return {
  formulas: math.length,
  rendered: math.filter((e) => e.querySelector("mjx-container")).length,
  containers: document.querySelectorAll("mjx-container").length,
  errors: Array.from(document.querySelectorAll("mjx-merror")).map((e) => e.textContent),
  prose: copy.innerText,
};
"""

# what TeX that was not parsed as maths looks like in the prose: a dollar sign, then (on the
# same line: a table cell is a line of its own) a TeX command or a sub- or superscript, as
# in "$\log", "$x_1" or "$$G_1(z) =" (a closing dollar may be cut off in another cell)
_RAW_DOLLARS = re.compile(r"\${1,2}[^$\n]{0,40}?(?:\\[A-Za-z]+|[_^])")


@pytest.fixture(scope="module")
def visits(site, server, browser):
    """One visit of every page: title, console errors, formulas, images."""
    out = {}
    for page in _pages(site):
        rel = page.relative_to(site).as_posix()
        browser.get(server + rel)
        state = browser.execute_script("return document.readyState")
        mathjax = browser.execute_async_script(_WAIT_FOR_MATHJAX) \
            if 'class="math' in page.read_text(encoding="utf-8") else None
        out[rel] = {
            "state": state, "title": browser.title, "mathjax": mathjax,
            "math": browser.execute_script(_MATH),
            "images": browser.execute_async_script(_WAIT_FOR_IMAGES),
            # the browser's own request for /favicon.ico is not a link of the site
            "log": [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                    and "/favicon.ico " not in e["message"]],
        }
        if rel == SCREENSHOT_PAGE:          # at its first section: prose, maths, a plot below
            browser.execute_script(
                'const h = document.querySelector("article section section h2"); '
                'if (h) { h.scrollIntoView(); window.scrollBy(0, -70); }')
            shot = site.parent / "screenshot_notebook02.png"
            browser.save_screenshot(str(shot))
            out[rel]["screenshot"] = shot
            if os.environ.get("NFREF_SCREENSHOT"):
                shutil.copy2(shot, os.environ["NFREF_SCREENSHOT"])
    return out


def test_every_page_loads(visits):
    assert len(visits) > 50
    bad = {rel: (v["state"], v["title"], [e["message"][:200] for e in v["log"]])
           for rel, v in visits.items()
           if v["state"] != "complete" or not v["title"] or v["log"]}
    print(f"{len(visits)} pages loaded")
    assert not bad, f"{len(bad)} pages with a failed load or a script error: {bad}"


def test_the_math_renders(visits):
    with_math = {rel: v for rel, v in visits.items() if v["mathjax"] is not None}
    notebooks = [rel for rel in visits if rel.startswith("_generated/notebooks/")]
    assert with_math and all(rel in with_math for rel in notebooks)
    formulas = sum(v["math"]["formulas"] for v in with_math.values())
    print(f"{formulas} formulas on {len(with_math)} pages")
    for rel, v in with_math.items():
        m = v["math"]
        assert v["mathjax"] == "ok", (rel, v["mathjax"])
        assert m["formulas"] > 0 and m["rendered"] == m["formulas"], (rel, m["rendered"],
                                                                      m["formulas"])
        assert not m["errors"], (rel, m["errors"][:5])
    for rel in notebooks:
        raw = _RAW_DOLLARS.findall(visits[rel]["math"]["prose"])
        assert not raw, f"{rel}: TeX left as text: {raw[:5]}"


def test_every_image_loads(visits):
    images = [(rel, src, ok, width) for rel, v in visits.items()
              for src, ok, width in v["images"]]
    print(f"{len(images)} images on {len(visits)} pages")
    assert len(images) >= len([r for r in visits if r.startswith("_generated/notebooks/")])
    broken = [(rel, src) for rel, src, ok, width in images if not ok or width <= 0]
    assert not broken, f"{len(broken)} images did not load: {broken[:20]}"


def test_a_notebook_page_is_photographed(visits):
    shot = visits[SCREENSHOT_PAGE]["screenshot"]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, len(data)
