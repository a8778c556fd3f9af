"""The report's layout: it fits the width, wraps claim names (never cuts them), says what every
claim measures and in which unit, and has a Markdown form (the course website's page)."""

import io
import re

import pytest

from nfref.report.claims import (ClaimResult, all_claims, format_markdown, format_result,
                                 report_width, run_claims)

CLAIMS = all_claims()
# a unit or kind of number, one of which every "measures" text names
UNITS = ("nats", "unitless", "units", "probability", "count", "z-score", "multiples", "ratio",
         "relative")


def _result(claim, value=1.234e-11, detail="", error=None):
    """A result with a given value: the layout, not the measurement, is under test here."""
    return ClaimResult(claim, value, True, detail, error, 0.1)


def _text_of(lines, start, stop_labels=("where: ",)):
    """The wrapped text that starts on line ``start`` of one claim's block, joined back."""
    parts = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("  ") or any(line.startswith(s) for s in stop_labels):
            break
        parts.append(line[2:])
    return " ".join(parts)


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{c.module}:{c.name[:50]}" for c in CLAIMS])
def test_every_claim_says_what_it_measures_and_in_which_unit(claim):
    assert claim.measures.strip(), f"{claim.name}: no measures= text"
    assert any(u in claim.measures for u in UNITS), \
        f"{claim.name}: measures={claim.measures!r} names no unit or kind ({', '.join(UNITS)})"


@pytest.mark.parametrize("width", [100, 80, 60])
def test_every_claim_block_fits_the_width_and_keeps_the_whole_name(width):
    detail = "a detail long enough to need wrapping: " + "measured 1.0e-12 " * 8
    for c in CLAIMS:
        lines = format_result(_result(c, detail=detail), width)
        too_long = [ln for ln in lines if len(ln) > width]
        assert not too_long, (c.name, too_long)
        text = [ln[29:] for ln in lines]                  # the column right of the numbers
        assert " ".join(_text_of(text, 0).split()) == " ".join(c.name.split()), c.name
        where = next(i for i, t in enumerate(text) if t.startswith("where: "))
        assert " ".join(_text_of(text, where, ("measures: ",)).split()) == \
            " ".join(f"where: {c.where}".split())
        measures = next(i for i, t in enumerate(text) if t.startswith("measures: "))
        assert " ".join(_text_of(text, measures, ("detail: ",)).split()) == \
            " ".join(f"measures: {c.measures}".split())
        assert lines[0].startswith("pass   1.234e-11 ")


def test_the_printed_report_fits_100_columns():
    out = io.StringIO()
    results = run_claims("s00", stream=out, width=100)
    lines = out.getvalue().splitlines()
    assert len(results) == 5
    assert max(len(ln) for ln in lines) <= 100, max(lines, key=len)
    flat = " ".join(ln[29:].strip() for ln in lines)
    for r in results:                   # every name whole (wrapped lines joined back)
        assert " ".join(r.claim.name.split()) in " ".join(flat.split()), r.claim.name
    assert lines[-1].startswith("5 passed, 0 failed")


def test_the_width_is_the_terminal_s_or_100(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert report_width(io.StringIO()) == 100                 # not a terminal
    monkeypatch.setenv("COLUMNS", "132")
    assert report_width(io.StringIO()) == 132
    monkeypatch.setenv("COLUMNS", "20")
    assert report_width(io.StringIO()) == 60                  # never narrower than 60


def test_a_failure_and_an_exception_are_shown_in_full():
    c = CLAIMS[0]
    r = ClaimResult(c, float("nan"), False, "", "ValueError: " + "x" * 150, 0.0)
    lines = format_result(r, 100)
    assert lines[0].startswith("FAIL") and max(map(len, lines)) <= 100
    assert "".join(ln[29:].strip() for ln in lines).count("x") >= 150


def test_markdown_is_one_table_row_per_claim_that_parses_back():
    markdown_it = pytest.importorskip("markdown_it")
    results = [_result(c, detail="a | pipe, $dollars$, <tag> and *stars*") for c in CLAIMS]
    text = format_markdown(results)
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    body = [r for r in rows if "<td" in r]
    assert len(body) == len(CLAIMS)
    for row, c in zip(body, CLAIMS):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert len(cells) == 5, (c.name, cells)
        unescape = (cells[0].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                    .replace("&quot;", '"'))
        assert unescape == c.name, (unescape, c.name)
        assert "<em>" not in row and "<tag>" not in row
        assert cells[3] == f"1.234e-11 {'≥' if c.at_least else '≤'} {c.bound:.1e}", cells[3]
        assert cells[2].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == \
            f"{c.measures}; here: a | pipe, $dollars$, <tag> and *stars*", cells[2]
        assert cells[4] == "pass"
    assert f"{len(CLAIMS)} passed, 0 failed" in text


def test_cli_report_markdown_prints_the_tables(capsys):
    from nfref.report.cli import main
    assert main(["report", "-k", "s00", "--markdown"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ")
            and not ln.startswith(("| ---", "| claim |"))]
    assert len(rows) == 5 and "| claim | where in the notes | what is measured |" in out


def test_figures_print_a_line_before_during_and_after_each_figure(monkeypatch, tmp_path):
    import threading

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nfref.report import claims
    drawn = threading.Event()

    def slow():
        drawn.wait(0.5)                      # long enough for a few progress lines
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1], [0, 1])
        return fig

    monkeypatch.setattr(claims, "all_figures", lambda: {"a_slow_one": slow, "other": slow})
    monkeypatch.setattr(claims, "PROGRESS_SECONDS", 0.1)
    out = io.StringIO()
    paths = claims.write_figures(str(tmp_path), select="slow", stream=out)
    lines = out.getvalue().splitlines()
    assert paths == [str(tmp_path / "a_slow_one.png")] and (tmp_path / "a_slow_one.png").exists()
    assert lines[0] == "[1/1] a_slow_one ..."
    assert any(ln.strip().startswith("a_slow_one: still drawing,") for ln in lines[1:-2])
    assert re.fullmatch(r"\[1/1\] wrote .*a_slow_one\.png in \d+\.\d s \(CPU \d+\.\d s\)",
                        lines[-2]), lines[-2]
    assert lines[-1].startswith("1 figure in ")
