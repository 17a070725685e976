"""The report's figure cells, written by hand for speed (issue 14): the same text as
Django's ``floatformat`` and ``format_html`` would give."""

import pytest
from django.template.defaultfilters import floatformat
from django.utils import translation

from slpdesk.reports.compute import OUTCOMES, Counts
from slpdesk.reports.templatetags.reports import counts_cells, pct


@pytest.mark.parametrize(("value", "en", "sv"), [
    (None, "–", "–"),
    (0.0, "0.0 %", "0,0 %"),
    (100.0, "100.0 %", "100,0 %"),
    (12.25, "12.3 %", "12,3 %"),          # half up, on the decimal 12.25
    (100 * 2 / 3, "66.7 %", "66,7 %"),
    (100 / 3, "33.3 %", "33,3 %"),
    (0.05, "0.1 %", "0,1 %"),
    (0.04999, "0.0 %", "0,0 %"),
    (99.95, "100.0 %", "100,0 %"),
])
def test_a_share_is_written_with_one_decimal_in_the_language(value, en, sv):
    with translation.override("en"):
        assert pct(value) == en
    with translation.override("sv"):
        assert pct(value) == sv


def test_every_share_of_up_to_400_cases_reads_as_floatformat_writes_it():
    shares = {100.0 * k / n for n in range(1, 401) for k in range(n + 1)}
    for language in ("en", "sv"):
        with translation.override(language):
            for share in shares:
                assert pct(share) == f"{floatformat(share, 1)} %", (language, share)


def test_a_row_of_cells_links_each_outcome_to_its_cases():
    context = {"query": {"from": "2026-07-01", "to": "2026-07-31"}, "outcomes": OUTCOMES}
    with translation.override("en"):
        html = counts_cells(context, Counts(met=3, breached=1), "response", "priority", "P1")
    link = "/reports/cases/?from=2026-07-01&amp;to=2026-07-31&amp;dim=priority&amp;key=P1" \
           "&amp;clock=response&amp;outcome="
    assert html == (
        f'<td class="num out-met"><a href="{link}met">3</a>'
        '<span class="pct">75.0 %</span></td>'
        f'<td class="num out-breached"><a href="{link}breached">1</a>'
        '<span class="pct">25.0 %</span></td>'
        '<td class="num out-not_applicable"><span class="zero">0</span>'
        '<span class="pct">0.0 %</span></td>'
        '<td class="num out-open"><span class="zero">0</span><span class="pct">0.0 %</span></td>'
        '<td class="num compliance">75.0 %</td>')
