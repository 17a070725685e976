"""Swedish writes month and day abbreviations in lower case ("mån 5 okt 2026"), not
"Okt" (issue 13, item 7). Expected strings are worked out by hand: 5 October 2026 is
a Monday (273 days after 1 January, a Thursday: 273 = 39 weeks, +4 days); Stockholm
is on summer time (CEST, UTC+2) until 25 October 2026."""

from datetime import UTC, date, datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from slpdesk.reports.charts import month_label
from slpdesk.web.templatetags.slpdesk import local, local_date

AT = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("lang", "expected"), [
    ("sv", "mån 5 okt 2026 14:00 CEST"),
    ("en", "Mon 5 Oct 2026 14:00 CEST"),
])
def test_a_time_in_swedish_has_lower_case_abbreviations(lang, expected):
    with translation.override(lang):
        assert local(AT, "Europe/Stockholm") == expected


@pytest.mark.parametrize(("lang", "date_text", "month_text"), [
    ("sv", "mån 5 okt 2026", "okt 2026"),
    ("en", "Mon 5 Oct 2026", "Oct 2026"),
])
def test_dates_and_chart_months(lang, date_text, month_text):
    with translation.override(lang):
        assert local_date(AT, "Europe/Stockholm") == date_text
        assert month_label("2026-10") == month_text  # the charts' axis


def test_the_report_periods_date_format():
    """The format the reports' case list and simulator use for their period."""
    template = Template('{{ day|date:_("j M Y") }}')
    with translation.override("sv"):
        assert template.render(Context({"day": date(2026, 10, 1)})) == "1 okt 2026"
