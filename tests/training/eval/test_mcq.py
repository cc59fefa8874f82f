import json

import pytest

from chatdoctor.errors import DataError
from training.eval.mcq import baselines, load_mcq, loglik_scores, parse_choice, with_shots


@pytest.fixture
def medqa_file(tmp_path):
    rows = [
        {
            "question": "Which drug lowers blood pressure?",
            "options": {"A": "amlodipine", "B": "insulin", "C": "ibuprofen", "D": "vitamin C"},
            "answer_idx": "A",
        },
        {
            "question": "Which organ makes insulin?",
            "options": {"A": "liver", "B": "pancreas", "C": "kidney", "D": "lung"},
            "answer_idx": "B",
        },
        {
            "question": "Which test confirms diabetes?",
            "options": {"A": "ECG", "B": "X-ray", "C": "HbA1c", "D": "EEG"},
            "answer_idx": "C",
        },
    ]
    path = tmp_path / "medqa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def test_medqa_prompt_and_gold(medqa_file):
    items = load_mcq(medqa_file, "medqa")
    assert [i.gold for i in items] == [0, 1, 2]
    assert items[0].question.startswith(
        "Question: Which drug lowers blood pressure?\nA. amlodipine\nB. insulin"
    )
    assert items[0].question.endswith("\nAnswer:")
    assert items[0].choices == [" A", " B", " C", " D"]


def test_pubmedqa_and_cmexam_formats(tmp_path):
    pm = tmp_path / "pubmedqa.json"
    pm.write_text(
        json.dumps(
            {"1": {"QUESTION": "Does aspirin help?", "CONTEXTS": ["A trial."], "final_decision": "maybe"}}
        )
    )
    item = load_mcq(pm, "pubmedqa")[0]
    assert item.choices == [" yes", " no", " maybe"] and item.gold == 2
    assert item.question == "Abstract: A trial.\nQuestion: Does aspirin help?\nAnswer:"
    cm = tmp_path / "cmexam.csv"
    cm.write_text(
        'Question,Options,Answer\n高血压首选检查是？,"A 血压测量\nB 胃镜\nC 肠镜\nD 脑电图",A\n',
        encoding="utf-8",
    )
    item = load_mcq(cm, "cmexam")[0]
    assert item.gold == 0 and "A. 血压测量" in item.question and item.question.endswith("答案：")


def test_bad_exam_record_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q", "options": {"A": "x"}, "answer_idx": "A"}\n{"question": "q"}\n')
    with pytest.raises(DataError) as exc:
        load_mcq(path, "medqa")
    assert "bad.jsonl:2" in str(exc.value)


def test_shots_are_removed_from_scoring_and_prefixed(medqa_file):
    items, prefix = with_shots(load_mcq(medqa_file, "medqa"), 1)
    assert len(items) == 2
    assert prefix.endswith("Answer: A\n\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("B", 1), ("(C) HbA1c", 2), ("The answer is D.", 3), ("答案是A", 0), ("I am not sure", None)],
)
def test_parse_generated_choice(medqa_file, text, expected):
    assert parse_choice(text, load_mcq(medqa_file, "medqa")[0]) == expected


def test_baselines_on_the_file(medqa_file):
    b = baselines(load_mcq(medqa_file, "medqa"))
    assert b["chance"] == pytest.approx(25)
    assert b["always_first"] == pytest.approx(100 / 3)


def test_loglik_equals_minus_the_models_own_loss(tiny_llama_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    context, choice = "Question: fever?\nAnswer:", " yes"
    (score,) = loglik_scores(model, tok, context, [choice])
    ctx = tok(context)["input_ids"]
    cont = tok(choice, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    labels = ids.clone()
    labels[0, : len(ctx)] = -100
    with torch.no_grad():
        loss = model(ids, labels=labels).loss
    assert score == pytest.approx(-float(loss) * len(cont), rel=1e-4)
