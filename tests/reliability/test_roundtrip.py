"""Hypothesis: any accepted 申报书 round-trips through storage and export unchanged."""

from __future__ import annotations

import csv
import io
import itertools
import json
from decimal import Decimal
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bdpilot import store
from bdpilot.console.records import cells as admin_cells
from bdpilot.domain.application import Application, form_schema
from tests.factories import application, attachments, uscc
from tests.integration.test_admin import _check_cell, _check_csv_value, run

_counter = itertools.count(700_000)

# Printable text from every script, including RTL, emoji and what spreadsheets take for formulas.
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=80)
RISKY = st.sampled_from(["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "<script>x</script>", "‮abc", "👩‍💻"])


def _text_fields() -> list[tuple[str, str, int]]:
    schema = form_schema()
    out = []
    for section, ref in schema["properties"].items():
        props = schema["$defs"].get(ref.get("$ref", "").rsplit("/", 1)[-1], {}).get("properties", {})
        out += [(section, name, p["maxLength"]) for name, p in props.items()
                if p.get("x-widget") in ("text", "textarea") and not {"pattern", "x-required-when"} & p.keys()]
    return out


@st.composite
def applications(draw: st.DrawFn) -> dict[str, Any]:
    sections: dict[str, dict[str, Any]] = {}
    for section, name, limit in _text_fields():
        value = draw(st.one_of(TEXT, st.builds(lambda a, b: a + b, RISKY, TEXT)))[:limit]
        if value.strip():
            sections.setdefault(section, {})[name] = value
    money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
    sections.setdefault("applicant", {}).update(
        revenue=str(draw(money)), profit=str(-draw(money)), employees=draw(st.integers(1, 10**6)))
    sections["applicant"]["rd_staff"] = draw(st.integers(0, sections["applicant"]["employees"]))
    sections.setdefault("cover", {})["direction"] = draw(st.integers(1, 7))
    return application(**sections)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=applications())
def test_accepted_records_round_trip_through_storage_and_export(aws, applicant, tmp_path_factory, data):
    data["applicant"]["uscc"] = uscc(next(_counter))
    applicant.new_form()  # each example is another person's form
    data["attachments"] = attachments(applicant.upload(), applicant.upload())
    reply = applicant.submit({"application": data, "form_token": applicant.token, "website": ""})
    assert reply.status == 201, reply.body
    ref = reply.body["reference"]

    # Storage: the stored record is the normalized form of what was posted, byte for byte what the receipt says.
    stored_bytes = aws.s3.get_object(Bucket=aws.bucket, Key=store.record_key(ref))["Body"].read()
    stored = json.loads(stored_bytes)
    assert stored == reply.body["record"]
    assert stored["application"] == Application.model_validate(data).model_dump(mode="json")

    # Export: every column of this submission in the CSV and the XLSX equals the stored value.
    out = tmp_path_factory.mktemp("export")
    code, _, err = run("export", "-o", str(out / "x"), "--no-attachments")
    assert code == 0, err
    raw = (out / "x" / "submissions.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    headers = rows[0]
    row = dict(zip(headers, next(r for r in rows[1:] if r[0] == ref), strict=True))
    book = openpyxl.load_workbook(out / "x" / "submissions.xlsx")
    sheet = next(s for s in book.worksheets[1:] for r in s.iter_rows(min_row=2) if r[0].value == ref)
    cells = next(dict(zip(headers, r, strict=True)) for r in sheet.iter_rows(min_row=2) if r[0].value == ref)
    for col in admin_cells.form_columns():
        _check_csv_value(col, row[col.header], col.value(stored))
        _check_cell(col, cells[col.header], col.value(stored))
    assert Decimal(row[next(c.header for c in admin_cells.form_columns() if c.path[-1] == "profit")]) <= 0
