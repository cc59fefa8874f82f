"""Malformed copies of real files: a DataError naming the file and line/field, and nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatdoctor.errors import DataError
from knowledge.graph import KnowledgeGraph
from knowledge.importers import import_file


def _import(path: Path, fmt: str = "auto", **kw) -> DataError:
    with pytest.raises(DataError) as info:
        import_file(KnowledgeGraph(), path, fmt, progress=False, **kw)
    assert str(path) in str(info.value)
    return info.value


def test_truncated_json_line_names_the_line(shared_data, tmp_path) -> None:
    lines = (
        (shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl")
        .read_bytes()
        .splitlines(True)
    )
    bad = tmp_path / "medical.json"
    bad.write_bytes(b"".join(lines[:4]) + lines[4][:300] + b"\r\n" + lines[5])
    err = _import(bad)
    assert err.line == 5 and "not valid JSON" in str(err)


def test_gbk_file_read_as_utf8_names_the_line(shared_data, tmp_path) -> None:
    bad = tmp_path / "medical.json"
    shutil.copy(shared_data / "qasystem_medical_sample" / "medical2.json.bak", bad)
    err = _import(bad, "qasystem", encoding="utf-8")
    assert err.line == 1 and "cannot decode byte" in str(err) and "--encoding" in str(err)


def test_invalid_bytes_after_the_detection_sample_name_their_line(shared_data, tmp_path) -> None:
    text = (shared_data / "chatdoctor" / "format_dataset.csv").read_bytes()
    bad = tmp_path / "format_dataset.csv"
    bad.write_bytes(text + b'796,Bad row \xff\xfe,"[\'x\']",,"[]","[]"\r\n')
    err = _import(bad, "chatdoctor")
    assert err.line is not None and err.line > 796


def test_missing_column_names_the_field(shared_data, tmp_path) -> None:
    rows = (shared_data / "kg39_medicalgraph" / "disease.csv").read_bytes().splitlines(True)[:20]
    header = rows[0].replace(b"symptom,", b"sympt,")
    bad = tmp_path / "disease.csv"
    bad.write_bytes(header + b"".join(rows[1:]))
    err = _import(bad, "kg39")
    assert err.field == "symptom" and err.line == 1


def test_bad_list_literal_names_line_and_column(shared_data, tmp_path) -> None:
    rows = (
        (shared_data / "chatdoctor" / "disease_database_mini.csv")
        .read_text(encoding="utf-8")
        .splitlines(True)
    )
    rows[3] = rows[3].replace("['", "[", 1)
    bad = tmp_path / "mini.csv"
    bad.write_text("".join(rows[:10]), encoding="utf-8")
    err = _import(bad, "chatdoctor")
    assert (err.line, err.field) == (4, "Symptom")


def test_hsdn_score_that_is_not_a_number_is_an_error(shared_data, tmp_path) -> None:
    rows = (shared_data / "hsdn" / "symptoms-DO.tsv").read_text(encoding="utf-8").splitlines(True)[:5]
    cells = rows[2].split("\t")
    cells[3] = "high"
    rows[2] = "\t".join(cells)
    bad = tmp_path / "hsdn.tsv"
    bad.write_text("".join(rows), encoding="utf-8")
    err = _import(bad, "hsdn")
    assert (err.line, err.field) == (3, "tfidf_score")


def test_truncated_cmekg_array_names_the_line(shared_data, tmp_path) -> None:
    text = (shared_data / "cmekg_tools" / "train_example.json").read_text(encoding="utf-8")
    bad = tmp_path / "train.json"
    bad.write_text(text[: len(text) // 2], encoding="utf-8")
    err = _import(bad, "cmekg")
    assert err.line is not None and err.line > 1


def test_unknown_format_lists_the_known_ones(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="pass --format"):
        import_file(KnowledgeGraph(), path, progress=False)


def test_missing_file_is_a_data_error(tmp_path) -> None:
    _import(tmp_path / "nope.csv", "kg39")


def test_a_row_cut_short_in_the_39net_table_names_its_line(shared_data, tmp_path) -> None:
    rows = (shared_data / "kg39_medicalgraph" / "disease.csv").read_bytes().splitlines(True)[:6]
    rows[3] = rows[3].split(b",")[0] + b",\n"  # a row truncated after its first cell
    bad = tmp_path / "disease.csv"
    bad.write_bytes(b"".join(rows))
    err = _import(bad, "kg39")
    assert err.line == 4 and "columns" in str(err)


def test_a_folder_given_to_a_file_format_is_a_data_error(tmp_path) -> None:
    err = _import(tmp_path, "kg39")
    assert "not a folder" in str(err)
