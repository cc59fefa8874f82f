"""Each importer on the real files in ../shared/data; expectations were read from the files (see SOURCE.md)."""

from __future__ import annotations

import shutil

import pytest

from knowledge.clean import is_truncated
from knowledge.graph import KnowledgeGraph
from knowledge.importers import IMPORTERS, detect_format, import_file
from knowledge.schema import Kind
from tests.knowledge.kg_data import facts, imported


def test_every_format_is_registered() -> None:
    assert IMPORTERS.names() == [
        "chatdoctor",
        "cmekg",
        "hsdn",
        "jsonl",
        "kaggle",
        "kg39",
        "qasystem",
        "wordlist",
    ]


def test_kg39_imports_the_39net_table_with_aliases_parts_and_lists(shared_data) -> None:
    kg, report = imported(shared_data / "kg39_medicalgraph" / "disease.csv", "kg39")
    assert report.encoding == "gb18030"
    assert report.read == 14336
    # 14,336 rows hold ~9.9k distinct diseases: space-prefixed duplicate rows merge into one node.
    assert 9000 < kg.stats()["entities.disease"] < 10000
    cold = kg.entity("disease:感冒")
    assert {"上感", "普通感冒", "伤风", "急性上呼吸道感染"} <= cold.aliases
    assert cold.attrs["cure_probability"] == "97%"
    assert cold.attrs["cure_duration"] == "7-14天"
    assert {"打喷嚏", "发烧", "咳嗽", "怕冷", "流鼻涕"} <= facts(kg, "感冒", "has_symptom")
    assert facts(kg, "感冒", "located_in") == {"鼻", "咽喉"}
    assert "呼吸内科" in facts(kg, "感冒", "belongs_to_department")
    assert "风眩" in kg.entity("disease:高血压").aliases  # alias cell '高血压病，风眩' (full-width comma)
    assert facts(kg, "哮喘", "located_in") == {"肺"}


def test_kg39_leaves_no_detail_marker_or_truncated_name_and_restores_cut_names(shared_data) -> None:
    kg, report = imported(shared_data / "kg39_medicalgraph" / "disease.csv", "kg39")
    names = [e.name for e in kg.entities()]
    assert not [n for n in names if "[详细]" in n or is_truncated(n) or n != n.strip()]
    assert report.cleaned["restored truncated name from a vocabulary"] > 500
    assert "disease:阿克森费尔德-里格尔综合征" in kg  # row name ' 阿克森费尔德...' restored
    assert report.skipped["disease name empty or truncated"] > 0


def test_qasystem_imports_xywy_records_with_every_relation(shared_data) -> None:
    kg, report = imported(shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl")
    assert report.format == "qasystem"
    assert (report.read, report.imported) == (100, 100)
    assert facts(kg, "百日咳", "has_symptom") == {
        "吸气时有蝉鸣音",
        "痉挛性咳嗽",
        "胸闷",
        "肺阴虚",
        "抽搐",
        "低热",
        "惊厥",
    }
    assert facts(kg, "百日咳", "common_drug") == {"穿心莲内酯片", "百咳静糖浆"}
    assert facts(kg, "百日咳", "acompany_with") == {"肺不张"}
    assert facts(kg, "百日咳", "belongs_to_department") == {"小儿内科"}
    assert kg.entity("department:小儿内科").attrs["parent"] == "儿科"
    pertussis = kg.entity("disease:百日咳")
    assert (pertussis.attrs["cure_probability"], pertussis.attrs["cure_duration"]) == ("98%", "1-2个月")
    assert "阿奇霉素片" in {f.object_name for f in kg.facts("producer:希舒美", "drug_of")}
    # 43 records list 呼吸困难; two near-duplicate pairs (肺泡蛋白沉着症, 成人呼吸窘迫综合征) merge into their twins.
    assert len(list(kg.facts("symptom:呼吸困难", "has_symptom", incoming=True))) == 41


def test_qasystem_reads_the_original_gbk_file_like_its_utf8_copy(shared_data) -> None:
    utf8, _ = imported(shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl")
    gbk, report = imported(shared_data / "qasystem_medical_sample" / "medical2.json.bak")
    assert report.encoding == "gb18030"
    assert gbk.stats() == utf8.stats()


def test_chatdoctor_imports_the_english_disease_database(shared_data) -> None:
    kg, report = imported(shared_data / "chatdoctor" / "format_dataset.csv")
    assert report.format == "chatdoctor"
    assert (report.read, report.imported) == (796, 796)
    assert kg.stats()["entities.disease"] == 796
    panic = kg.entity("disease:Panic disorder")
    assert panic.lang == "en"
    assert panic.attrs["description"].startswith("Panic disorder is an anxiety disorder")
    assert {"Sharp chest pain", "Palpitations", "Insomnia"} <= facts(kg, "Panic disorder", "has_symptom")
    assert {"Lorazepam", "Alprazolam (Xanax)"} <= facts(kg, "Panic disorder", "common_drug")
    assert facts(kg, "Dental caries", "needs_check") == set()  # its tests cell is []
    assert report.cleaned["dropped 'reason' that is only a drug-name fragment"] > 100
    assert not [e for e in kg.entities(Kind.DISEASE) if "\\x" in e.attrs.get("description", "")]


def test_chatdoctor_mini_file_with_renamed_columns_gives_the_same_first_diseases(shared_data) -> None:
    mini, _ = imported(shared_data / "chatdoctor" / "disease_database_mini.csv", "chatdoctor")
    full, _ = imported(shared_data / "chatdoctor" / "format_dataset.csv")
    assert mini.stats()["entities.disease"] == 100
    assert facts(mini, "Vocal cord polyp", "needs_check") == facts(full, "Vocal cord polyp", "needs_check")


def test_hsdn_keeps_the_tfidf_weight_on_each_edge(shared_data) -> None:
    kg, report = imported(shared_data / "hsdn" / "symptoms-DO.tsv")
    assert report.read == 10465
    assert kg.stats()["entities.disease"] == 117  # 119 MeSH diseases → 117 Disease Ontology names
    assert kg.stats()["entities.symptom"] == 316
    (asthma,) = kg.find("asthma", Kind.DISEASE)
    weights = {f.object_name: max(s.weight for s in f.sources) for f in kg.facts(asthma, "has_symptom")}
    assert weights["Respiratory Sounds"] == pytest.approx(1967.1, abs=0.1)
    assert weights["Cough"] == pytest.approx(929.5, abs=0.1)
    assert kg.entity(asthma).lang == "en"
    assert "Breast Neoplasms" in kg.entity("disease:breast cancer").aliases  # MeSH name kept as an alias


def test_kaggle_tables_and_medicine_recommendation_merge_into_41_diseases(shared_data) -> None:
    kg = KnowledgeGraph()
    sym = import_file(kg, shared_data / "kaggle_disease_symptom", progress=False)
    med = import_file(kg, shared_data / "medicine_recommendation", progress=False)
    assert (sym.format, med.format) == ("kaggle", "kaggle")
    assert kg.stats()["entities.disease"] == 41  # 'Diabetes ' / 'Diabetes', typo variants: one node each
    assert "disease:Peptic ulcer disease" in kg and "disease:Peptic ulcer diseae" not in kg
    cold = facts(kg, "Common Cold", "has_symptom")
    assert len(cold) == 17 and {"runny nose", "high fever", "loss of smell"} <= cold
    assert facts(kg, "Diabetes", "common_drug") == {
        "Insulin",
        "Metformin",
        "Sulfonylureas",
        "DPP-4 inhibitors",
        "GLP-1 receptor agonists",
    }
    assert kg.entity("symptom:skin rash").attrs["severity"] == "3"
    assert "symptom:prognosis" not in kg
    assert med.skipped["'prognosis' is the label column, not a symptom"] == 1
    assert kg.entity("disease:Malaria").attrs["self_care"].startswith("Consult nearest hospital")


def test_cmekg_triples_infer_subject_kinds(shared_data) -> None:
    kg, report = imported(shared_data / "cmekg_tools" / "train_example.json")
    assert (report.format, report.read) == ("cmekg", 24)
    drug = kg.entity("drug:18种氨基酸注射液")
    assert drug.attrs["indications"] == "蛋白质摄入不足；改善手术后病人的营养状况"
    assert drug.attrs["shelf_life"] == "二年"
    assert "细胞遗传学检查" in facts(kg, "13-三体综合征", "needs_check")
    assert "check:12小时尿沉渣计数" in kg
    assert "12小时尿沉渣计数" in facts(kg, "单纯型尿路感染", "needs_check")


def test_cmekg_records_in_the_huatuo_shape(tmp_path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(
        '{"中心词": "偏头痛", "相关疾病": ["紧张性头痛"], "相关症状": ["头痛", "恶心"], "所属科室": ["神经内科"],'
        ' "发病部位": ["头部"], "同义词": ["偏头疼"], "病因": "遗传与环境因素", "颜色": "n/a"}\n',
        encoding="utf-8",
    )
    kg = KnowledgeGraph()
    report = import_file(kg, path, progress=False)
    assert report.format == "cmekg"
    assert facts(kg, "偏头痛", "has_symptom") == {"头痛", "恶心"}
    assert facts(kg, "偏头痛", "located_in") == {"头部"}
    assert facts(kg, "偏头痛", "belongs_to_department") == {"神经内科"}
    assert kg.entity("disease:偏头痛").aliases == {"偏头疼"}
    assert kg.entity("disease:偏头痛").attrs["cause"] == "遗传与环境因素"
    assert report.skipped["unknown field '颜色' ignored"] == 1


def test_wordlists_become_vocabularies_without_person_names(shared_data, tmp_path) -> None:
    for name in ("symptom.txt", "department.txt", "deny.txt"):  # the big lists (producer...) add only time
        shutil.copy(shared_data / "qasystem_medicalkg" / "dict" / name, tmp_path / name)
    kg = KnowledgeGraph()
    report = import_file(kg, tmp_path, progress=False)
    assert report.format == "wordlist"
    stats = kg.stats()
    assert stats["entities.department"] == 54
    assert 5500 < stats["entities.symptom"] < 5998
    assert stats["facts"] == 0
    assert "symptom:巨登伟" not in kg and "symptom:闫鹏辉" not in kg
    assert report.cleaned["dropped person name in symptom list"] == 28
    assert report.skipped["deny.txt: negation words, not entities"] == 1


@pytest.mark.parametrize(
    ("rel_path", "fmt"),
    [
        ("kg39_medicalgraph/disease.csv", "kg39"),
        ("qasystem_medical_sample/medical2.json", "qasystem"),
        ("chatdoctor/format_dataset.csv", "chatdoctor"),
        ("hsdn/symptoms-DO.tsv", "hsdn"),
        ("kaggle_disease_symptom", "kaggle"),
        ("medicine_recommendation", "kaggle"),
        ("cmekg_tools/train_example.json", "cmekg"),
        ("qasystem_medicalkg/dict", "wordlist"),
    ],
)
def test_detect_format_names_each_real_input(shared_data, rel_path: str, fmt: str) -> None:
    assert detect_format(shared_data / rel_path) == fmt


def test_utf8_bom_word_list_is_detected_and_the_bom_is_not_part_of_a_name(shared_data, tmp_path) -> None:
    src = shared_data / "kg39_medicalgraph" / "symptom_vocab.txt"
    assert src.read_bytes().startswith(b"\xef\xbb\xbf")
    kg = KnowledgeGraph()
    report = import_file(kg, src, progress=False)
    assert report.encoding == "utf-8-sig"
    first = src.read_text(encoding="utf-8-sig").splitlines()[0].strip()
    assert f"symptom:{first}" in kg
    assert not [e.name for e in kg.entities() if "\ufeff" in e.name]
