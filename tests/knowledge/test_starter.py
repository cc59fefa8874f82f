"""The starter graph shipped with the project: coverage, bilingual names, provenance, clear errors."""

from __future__ import annotations

import pytest

from chatdoctor.errors import DataError
from knowledge.lookup import KnowledgeBase
from knowledge.schema import Kind, Rel
from knowledge.starter import DISEASES, EXTRA, VOCAB, load_starter

COMMON = [
    "感冒",
    "流行性感冒",
    "新型冠状病毒感染",
    "急性支气管炎",
    "肺炎",
    "支气管哮喘",
    "慢性阻塞性肺疾病",
    "过敏性鼻炎",
    "鼻窦炎",
    "急性咽炎",
    "扁桃体炎",
    "中耳炎",
    "结膜炎",
    "急性胃肠炎",
    "胃食管反流病",
    "胃炎",
    "消化性溃疡",
    "肠易激综合征",
    "便秘",
    "痔疮",
    "阑尾炎",
    "胆结石",
    "尿路感染",
    "肾结石",
    "高血压",
    "冠心病",
    "心肌梗死",
    "心力衰竭",
    "心房颤动",
    "脑卒中",
    "偏头痛",
    "紧张型头痛",
    "2型糖尿病",
    "甲状腺功能减退症",
    "甲状腺功能亢进症",
    "贫血",
    "痛风",
    "骨关节炎",
    "类风湿关节炎",
    "腰肌劳损",
    "颈椎病",
    "骨质疏松症",
    "湿疹",
    "痤疮",
    "银屑病",
    "荨麻疹",
    "皮肤真菌感染",
    "抑郁症",
    "焦虑症",
    "失眠症",
    "阿尔茨海默病",
    "癫痫",
    "乙型肝炎",
    "脂肪肝",
    "肥胖症",
    "水痘",
    "手足口病",
    "登革热",
    "肺结核",
    "多囊卵巢综合征",
    "前列腺增生",
    "更年期综合征",
]


@pytest.fixture(scope="module")
def kg():
    return KnowledgeBase.load().kg


def test_starter_covers_the_common_conditions_patients_ask_about(kg):
    diseases = {e.name for e in kg.entities(Kind.DISEASE)}
    assert len(diseases) >= 60
    assert set(COMMON) <= diseases


def test_every_disease_has_symptoms_department_and_both_languages(kg):
    for ent in kg.entities(Kind.DISEASE):
        symptoms = list(kg.facts(ent.key, Rel.HAS_SYMPTOM))
        assert len(symptoms) >= 3, ent.name
        assert list(kg.facts(ent.key, Rel.BELONGS_TO_DEPARTMENT)), ent.name
        assert ent.names.get("zh") and ent.names.get("en"), ent.name
        for attr in (
            "description",
            "description_en",
            "red_flags",
            "red_flags_en",
            "self_care",
            "self_care_en",
        ):
            assert ent.attrs.get(attr), (ent.name, attr)


def test_every_entity_has_an_english_name_and_a_starter_source(kg):
    for ent in kg.entities():
        assert ent.names.get("en"), ent.key
        assert {s.name for s in ent.sources} == {"starter"}
    for _, _, data in kg.g.edges(data=True):
        assert {src.name for src in data["sources"]} == {"starter"}


def test_colloquial_aliases_are_on_the_nodes(kg):
    assert kg.find("鼻涕多", Kind.SYMPTOM) == ["symptom:流鼻涕"]
    assert kg.find("runny nose", Kind.SYMPTOM) == ["symptom:流鼻涕"]
    assert kg.find("头疼", Kind.SYMPTOM) == ["symptom:头痛"]
    assert kg.find("flu", Kind.DISEASE) == ["disease:流行性感冒"]


def test_an_undefined_symptom_is_a_clear_error_naming_the_record(tmp_path):
    bad = tmp_path / "diseases.yaml"
    bad.write_text(
        DISEASES.read_text(encoding="utf-8").replace("[流鼻涕, 鼻塞, 打喷嚏,", "[流鼻水水, 鼻塞, 打喷嚏,", 1),
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"diseases.yaml.*感冒.*symptoms.*流鼻水水"):
        load_starter(bad, VOCAB)


def test_broken_yaml_names_the_file_and_line(tmp_path):
    bad = tmp_path / "vocab.yaml"
    bad.write_text("symptom:\n  发热: [fever\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"vocab.yaml:\d+"):
        load_starter(DISEASES, bad)


def test_extra_texts_must_name_a_known_disease_and_field(tmp_path):
    bad = tmp_path / "extra.yaml"
    bad.write_text("不存在的病:\n  prevention: {zh: 甲, en: a}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"extra.yaml.*不存在的病"):
        load_starter(DISEASES, VOCAB, bad)
    bad.write_text("感冒:\n  prevent: {zh: 甲, en: a}\n", encoding="utf-8")
    with pytest.raises(DataError, match="unknown field"):
        load_starter(DISEASES, VOCAB, bad)
    assert EXTRA.exists()
