"""PII/PHI scrubbing per Safe Harbor category, Chinese formats included."""

from __future__ import annotations

import pytest

from chatdoctor.safety.pii import scrub, valid_cn_id

CASES = [
    ("My name is Alice Walker and I need help", "Alice Walker", "NAME"),
    ("Hi Robert, your results are in", "Robert", "NAME"),
    ("Dr. Okafor saw me yesterday", "Okafor", "NAME"),
    ("我叫王小明,今年三十岁", "王小明", "NAME"),
    ("患者赵某某,男,因胸痛入院", "赵某某", "NAME"),
    ("I live at 42 Elm Street, apt 3", "42 Elm Street, apt 3", "ADDRESS"),
    ("住在上海市徐汇区漕溪北路88号", "上海市徐汇区漕溪北路88号", "ADDRESS"),
    ("Portland, OR 97205", "97205", "ZIP"),
    ("admitted on 2024-03-15 for surgery", "2024-03-15", "DATE"),
    ("born March 3, 1961", "March 3, 1961", "DATE"),
    ("2023年6月1日复查", "2023年6月1日", "DATE"),
    ("my grandmother is 94 years old", "94 years old", "AGE"),
    ("奶奶今年96岁", "96岁", "AGE"),
    ("call 13912345678 anytime", "13912345678", "PHONE"),
    ("ring me on +44 20 7946 0958", "+44 20 7946 0958", "PHONE"),
    ("office (617) 555-0147", "(617) 555-0147", "PHONE"),
    ("fax: 212-555-0111", "212-555-0111", "FAX"),
    ("write to pat.lee@example.org", "pat.lee@example.org", "EMAIL"),
    ("SSN 078-05-1120 on file", "078-05-1120", "SSN"),
    ("MRN: A0048213", "A0048213", "MRN"),
    ("住院号:ZY20240117", "ZY20240117", "MRN"),
    ("insurance member id XK55821903", "XK55821903", "HEALTH_PLAN"),
    ("bank account number 000123456789", "000123456789", "ACCOUNT"),
    ("driver licence number D1234-5678", "D1234-5678", "LICENSE"),
    ("VIN 1HGCM82633A004352", "1HGCM82633A004352", "VEHICLE"),
    ("车牌粤B12345", "粤B12345", "VEHICLE"),
    ("pump serial number PX-20931", "PX-20931", "DEVICE"),
    ("see https://portal.example.com/records/77", "https://portal.example.com/records/77", "URL"),
    ("login from 10.0.4.17", "10.0.4.17", "IP"),
    ("身份证号11010519491231002X", "11010519491231002X", "ID_CARD"),
]


@pytest.mark.parametrize(("text", "value", "kind"), CASES)
def test_each_identifier_kind_is_replaced_with_its_placeholder(text, value, kind):
    result = scrub(text)
    assert value not in result.text and f"[{kind}]" in result.text
    span = next(s for s in result.spans if s.kind == kind)
    assert text[span.start : span.end] == value


def test_chinese_id_checksum_is_verified():
    assert valid_cn_id("11010519491231002X")
    assert not valid_cn_id("110105194912310021")
    # a wrong checksum is not an ID card, but still a long number, so still removed
    assert scrub("证件 110105194912310021").text == "证件 [ID]"


@pytest.mark.parametrize(
    "text",
    [
        "I walk 10000 steps a day and take 500 mg twice daily",
        "blood pressure 140/90, heart rate 88",
        "I had surgery in 2019 and I am 45 years old",
        "血压140/90,心率88次/分",
    ],
)
def test_clinical_numbers_years_and_ordinary_ages_are_kept(text):
    assert scrub(text).text == text


def test_spans_point_into_the_original_text_and_values_are_not_kept():
    text = "Hi Maria, call 415-555-0134"
    result = scrub(text)
    assert result.text == "Hi [NAME], call [PHONE]"
    assert [(s.kind, text[s.start : s.end]) for s in result.spans] == [
        ("NAME", "Maria"),
        ("PHONE", "415-555-0134"),
    ]
