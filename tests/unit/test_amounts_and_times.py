"""Issue 14, items 7 and 10 on the server side: amounts as people write them, 提交时间 as people read it."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from bdpilot.domain.application import Application, form_schema
from bdpilot.domain.formats import beijing_time, date_text
from bdpilot.web.printcopy import render_record
from tests.factories import application
from tests.unit.test_application import full


@pytest.mark.parametrize(("employees", "revenue"), [("1,500", "356,000.50"), ("1，500", "３５６，０００.５"),
                                                    ("1500", "356000.5")])
def test_thousands_separators_are_accepted_as_the_number(employees: str, revenue: str) -> None:
    parsed = Application.model_validate(full(applicant={"employees": employees, "revenue": revenue}))
    assert parsed.applicant.employees == 1500
    assert str(parsed.applicant.revenue) == "356000.50"


@pytest.mark.parametrize("bad", ["1,5", "1,50,0", ",500", "1.500,00"])
def test_misplaced_separators_stay_errors(bad: str) -> None:
    with pytest.raises(ValidationError):
        Application.model_validate(full(applicant={"employees": bad}))


def test_received_time_is_printed_for_people_in_beijing_time() -> None:
    assert beijing_time("2019-11-15T10:00:00.000+08:00") == "2019年11月15日 10:00:00（北京时间）"
    assert beijing_time("2019-11-15T02:00:00.999Z") == "2019年11月15日 10:00:00（北京时间）"
    # A deadline without seconds; the date alone as the docs' key dates state it.
    assert beijing_time("2019-11-21T16:00:00Z", seconds=False) == "2019年11月22日 00:00（北京时间）"
    assert date_text(date(2019, 11, 5)) == "2019年11月5日"
    assert beijing_time("not a time") == "not a time"
    body = {"reference": "BD2020-AAAA-BBBB", "digest": "ab" * 32, "received_at": "2026-11-29T16:26:16.979+08:00",
            "record": {"application": application(), "files": []}}
    html = render_record(form_schema(), body)
    assert "2026-11-29T16" not in html
    assert html.count("2026年11月29日 16:26:16（北京时间）") == 2  # cover and the repeated footer
    assert "其他有关单位名称" not in html  # a province was chosen: the conditional name is no question on paper
