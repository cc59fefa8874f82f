"""Loaders on the real public files in ../shared/data, and on malformed files."""

from __future__ import annotations

import json

import pytest

from chatdoctor.errors import DataError
from training.data.formats import from_hf_dataset, iter_rows, read_records, to_hf_dataset, write_records
from training.data.loaders import CHATDOCTOR_INSTRUCTION, LOADERS, load


def test_genmedgpt_5k_has_5452_records_with_the_fixed_instruction(shared_data):
    recs = list(load("genmedgpt_5k", shared_data / "chatdoctor/chatdoctor5k.json"))
    assert len(recs) == 5452
    assert all(r.prompt.startswith(CHATDOCTOR_INSTRUCTION + "\n") for r in recs)
    assert (
        recs[0].to_alpaca()["input"].startswith("Doctor, I have been experiencing sudden and frequent panic")
    )
    assert len({r.id for r in recs}) == 5452 and recs[0].lang == "en"


def test_huatuo_llama_data_is_json_lines_despite_the_suffix(shared_data):
    recs = list(load("huatuo_llama_data", shared_data / "huatuo/llama_data.json"))
    assert len(recs) == 8658
    assert len({r.prompt for r in recs}) == 8658 - 7  # 7 duplicate instructions upstream
    assert all(len(r.messages) == 2 and r.lang == "zh" for r in recs)


def test_huatuo_liver_cancer_history_is_unflattened_into_turns(shared_data):
    recs = list(load("huatuo_liver_cancer", shared_data / "huatuo/liver_cancer.json"))
    assert len(recs) == 1000
    users = [len(r.messages) // 2 for r in recs]
    assert {n: users.count(n) for n in sorted(set(users))} == {1: 292, 2: 285, 3: 272, 4: 126, 5: 22, 6: 3}
    assert not any("<user>" in m.content or "<bot>" in m.content for r in recs for m in r.messages)
    assert sum("upstream_id" in r.meta for r in recs) == 211


def test_med_chatglm_context_prefix_is_removed(shared_data):
    recs = list(load("med_chatglm", shared_data / "med_chatglm/train.txt"))
    assert len(recs) == 7622
    assert not any(r.prompt.startswith("问题") or r.prompt.endswith("回答:") for r in recs)
    assert recs[0].prompt == "患者反复出现反酸、烧心等症状，考虑为Barrett食管，需要注意哪些并发症？"


def test_cmekg_sample_becomes_extraction_instructions(shared_data):
    recs = list(load("cmekg", shared_data / "cmekg_tools/train_example.json"))
    assert len(recs) == 24
    assert sum(len(r.meta["triples"]) for r in recs) == 64
    assert "（12小时尿沉渣计数，相关疾病，单纯型尿路感染）" in recs[0].response


def test_general_demo_sets_load_as_alpaca(shared_data):
    assert len(list(load("alpaca", shared_data / "general/alpaca_en_demo.json"))) == 999
    assert len(list(load("alpaca", shared_data / "general/alpaca_zh_demo.json"))) == 1000


def test_icliniq_picks_the_reference_answer(tmp_path):
    rows = [{"input": "Q?", "answer_icliniq": "Doc", "answer_chatgpt": "GPT", "answer_chatdoctor": "CD"}]
    path = tmp_path / "icliniq.json"
    path.write_text(json.dumps(rows))
    (rec,) = load("icliniq", path)
    assert rec.response == "Doc" and rec.meta["other_answers"]["answer_chatgpt"] == "GPT"
    (rec,) = load("icliniq", path, answer="answer_chatgpt")
    assert rec.response == "GPT"


def test_dolly_maps_context_and_response(tmp_path):
    path = tmp_path / "dolly.jsonl"
    path.write_text(
        json.dumps({"instruction": "Sum up", "context": "Text.", "response": "Short.", "category": "x"})
    )
    (rec,) = load("dolly_15k", path)
    assert rec.prompt == "Sum up\nText." and rec.response == "Short."


def test_crlf_json_lines_and_arrays_are_read(tmp_path):
    row = {"instruction": "q", "input": "", "output": "a"}
    (tmp_path / "a.json").write_bytes(
        ("[\r\n" + json.dumps(row) + ",\r\n" + json.dumps(row) + "\r\n]\r\n").encode()
    )
    (tmp_path / "b.json").write_bytes((json.dumps(row) + "\r\n" + json.dumps(row) + "\r\n").encode())
    assert len(list(load("alpaca", tmp_path / "a.json"))) == 2
    assert len(list(load("alpaca", tmp_path / "b.json"))) == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{"instruction": "q", "output": "a"}\n{"instruction": "q", "output": \n', 2, "invalid JSON"),
        ('[\n{"instruction": "q", "output": "a"},\n{"instruction": "q"}\n]', 3, "field 'output'"),
        ('[\n{"instruction": "q", "output": "a"},\n{"instruction": "q", "output": "a"}', 3, "not closed"),
        ('{"instruction": "q", "output": "a"}\n[1, 2]\n', 2, "expected a JSON object"),
    ],
)
def test_malformed_files_raise_data_error_with_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        list(load("alpaca", path))
    assert err.value.path == str(path) and err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}")


def test_a_failed_conversion_writes_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "q", "output": "a"}\n{"oops": 1}\n')
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError):
        write_records(out, load("alpaca", bad))
    assert list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_written_files_read_back_identically(tmp_path, shared_data, suffix):
    recs = list(load("huatuo_liver_cancer", shared_data / "huatuo/liver_cancer.json"))[:50]
    out = tmp_path / f"out{suffix}"
    assert write_records(out, recs) == 50
    back = list(read_records(out))
    assert [r.to_dict() for r in back] == [r.to_dict() for r in recs]


@pytest.mark.parametrize("style", ["alpaca", "sharegpt"])
def test_export_styles_load_back_through_their_loaders(tmp_path, shared_data, style):
    recs = list(load("genmedgpt_5k", shared_data / "chatdoctor/chatdoctor5k.json"))[:20]
    out = tmp_path / f"out.{style}.json"
    write_records(out, recs, style)
    back = list(load(style, out))
    assert [r.messages for r in back] == [r.messages for r in recs]


def test_hf_datasets_round_trip(shared_data):
    recs = list(load("huatuo_liver_cancer", shared_data / "huatuo/liver_cancer.json"))[:30]
    ds = to_hf_dataset(recs)
    assert len(ds) == 30 and "messages" in ds.column_names
    assert [r.to_dict() for r in from_hf_dataset(ds)] == [r.to_dict() for r in recs]


def test_every_registry_entry_names_a_known_loader():
    from training.data.catalog import load_registry

    reg = load_registry()
    assert {
        "stanford_alpaca",
        "genmedgpt_5k",
        "healthcaremagic_100k",
        "icliniq",
        "huatuo_llama_data",
        "huatuo_liver_cancer",
        "med_chatglm",
        "dolly_15k",
        "coig",
    } <= set(reg.names())
    for name in reg:
        info = reg.get(name)
        assert info.loader in LOADERS and info.urls and info.license
        assert info.sha256 is None or len(info.sha256) == 64


def test_rows_report_their_line_numbers(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('[\n  {"a": 1},\n\n  {"a": 2}\n]\n')
    assert [line for line, _ in iter_rows(path)] == [2, 4]


def test_convert_command_writes_sharegpt_that_reads_back(tmp_path, shared_data):
    from typer.testing import CliRunner

    from training.data.commands import app

    out = tmp_path / "liver.sharegpt.json"
    src = shared_data / "huatuo/liver_cancer.json"
    result = CliRunner().invoke(
        app, ["convert", str(src), str(out), "--loader", "huatuo_liver_cancer", "--to", "sharegpt"]
    )
    assert result.exit_code == 0 and "wrote 1000 records" in result.output
    rows = json.loads(out.read_text())
    assert rows[0]["conversations"][0]["from"] == "human" and len(rows) == 1000
    assert [r.messages for r in load("sharegpt", out)] == [
        r.messages for r in load("huatuo_liver_cancer", src)
    ]


def test_cli_reports_bad_input_on_one_line_with_exit_code_2(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "q", "output": "a"}\n{"instruction": "q"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "chatdoctor.cli", "data", "convert", str(bad), str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}:2, field 'output': missing or not text"
    assert not (tmp_path / "o.jsonl").exists()


def test_unknown_loader_options_and_names_are_config_errors(tmp_path):
    from chatdoctor.errors import ConfigError, RegistryError

    with pytest.raises(ConfigError, match="loader 'alpaca' options \\['colums'\\]"):
        load("alpaca", tmp_path / "x.json", colums={})
    with pytest.raises(RegistryError, match="Did you mean 'med_chatglm'"):
        load("med_chatglmm", tmp_path / "x.json")
