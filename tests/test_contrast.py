"""WCAG 2.1 AA contrast for the badges (issue 13, item 7): every badge's text on its
background is at least 4.5:1. The colours are read from app.css (custom properties
resolved); the ratio is computed here with WCAG's relative-luminance formula."""

import re
from pathlib import Path

import pytest

import slpdesk

CSS = (Path(slpdesk.__file__).parent / "web/static/slpdesk/app.css").read_text()
AA_TEXT = 4.5


def luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rgb`` or ``#rrggbb``."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(h[i:i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_formula_on_known_pairs():
    # Black on white is 21:1; #777 on white is 4.48:1 (just below AA); #767676 on
    # white is 4.54:1, the lightest grey that passes (WebAIM's figures).
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54


def _variables() -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})\b", CSS))


def _badges() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) of every badge rule: .badge-* and .prio-*."""
    names = _variables()

    def value(v: str) -> str:
        v = v.strip()
        return names[v[4:-1]] if v.startswith("var(") else v

    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", CSS):
        selector = selector.strip()
        if not re.search(r"\.(badge|prio)-", selector):
            continue
        props = dict(re.findall(r"(?:^|;)\s*(color|background)\s*:\s*([^;]+)", body))
        found.append((selector, value(props["color"]), value(props["background"])))
    return found


def test_every_badge_rule_is_found():
    selectors = [s for s, _c, _b in _badges()]
    assert selectors == [
        ".badge-running, .badge-met", ".badge-at_risk", ".badge-breached",
        ".badge-paused", ".badge-pending, .badge-not_applicable",
        ".prio-P1", ".prio-P2", ".prio-P3", ".prio-P4"]


@pytest.mark.parametrize(("selector", "ink", "background"), _badges())
def test_badge_text_meets_wcag_aa(selector, ink, background):
    assert contrast(ink, background) >= AA_TEXT, (selector, ink, background,
                                                   round(contrast(ink, background), 2))
