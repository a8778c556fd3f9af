"""Sphinx configuration of the course website: ``python -m nfref site`` or
``sphinx-build docs docs/_build/html`` (see :mod:`nfref.report.site`)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nfref.report.site import prepare  # noqa: E402

prepare(HERE)     # notebooks, figures, report, gallery, reading order, MathJax -> _generated/

project = "nfref"
author = "the nfref developers"
copyright = "2026, the nfref developers"
release = "0.1.0"

extensions = [
    "myst_nb",                      # Markdown pages and notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",          # NumPy-style docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

# the generated pieces that pages include are not pages themselves
exclude_patterns = ["_build", "_generated/static", "_generated/*.md", "Thumbs.db", ".DS_Store"]

# notebooks: rendered from their committed outputs, never executed by the build
nb_execution_mode = "off"
nb_ipywidgets_js = {}               # no script from a CDN: the site works offline
# a cell whose output holds both a widget view and a PNG (nfref.interactive) shows the PNG:
# without a kernel behind the page the widget would be an empty script tag
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_dmath_double_inline = True     # $$...$$ inside a paragraph, as Jupyter renders it
myst_heading_anchors = 3

# API reference
autosummary_generate = True
# each object documented once, in the module that defines it (a package's page lists its
# modules, not the names it re-exports), so that the source links of viewcode find it
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# MathJax from the site's own static folder (copied there by prepare), not from a CDN
html_static_path = ["_static", "_generated/static"]
html_css_files = ["nfref.css"]
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "nfref: normalizing flows, derived and measured"
html_theme_options = {"show_toc_level": 2, "home_page_in_toc": True}
html_context = {"default_mode": "auto"}    # light or dark as the reader's system prefers


def _plain_problematic(app, doctree, docname):
    """Docstrings write formulas as plain text (``|det J|``, ``x_i``), which reStructuredText
    can read as a substitution or a reference: docutils warns (the build log names the
    docstring) and marks the text "problematic" with a link to a message the page does not
    show. Show the text as written instead, without the broken link."""
    from docutils import nodes
    for node in list(doctree.findall(nodes.problematic)):
        plain = nodes.inline(ids=list(node["ids"]))
        plain += nodes.Text(node.astext())
        node.replace_self(plain)


def setup(app):
    app.connect("doctree-resolved", _plain_problematic)
