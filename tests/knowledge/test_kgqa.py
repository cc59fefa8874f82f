"""KG question answering: the 18 QASystemOnMedicalKG question types in Chinese and English, plus departments."""

from __future__ import annotations

import pytest

from knowledge.graph import KnowledgeGraph
from knowledge.kgqa import QA, detect_language
from knowledge.lookup import KnowledgeBase
from knowledge.schema import Entity, Kind, Source, node_key

#: QASystemOnMedicalKG's own example questions (FIELD_NOTES 1.2) → the intent each must fire
UPSTREAM = [
    ("乳腺癌的症状有哪些？", "disease_symptom"),
    ("最近老流鼻涕怎么办？", "symptom_disease"),
    ("为什么有的人会失眠？", "disease_cause"),
    ("失眠有哪些并发症？", "disease_acompany"),
    ("失眠的人不要吃啥？", "disease_not_food"),
    ("耳鸣了吃点啥？", "disease_do_food"),
    ("哪些人最好不好吃蜂蜜？", "food_not_disease"),
    ("鹅肉有什么好处？", "food_do_disease"),
    ("肝病要吃啥药？", "disease_drug"),
    ("板蓝根颗粒能治啥病？", "drug_disease"),
    ("脑膜炎怎么才能查出来？", "disease_check"),
    ("全血细胞计数能查出啥来？", "check_disease"),
    ("怎样才能预防肾虚？", "disease_prevent"),
    ("感冒要多久才能好？", "disease_lasttime"),
    ("高血压要怎么治？", "disease_cureway"),
    ("白血病能治好吗？", "disease_cureprob"),
    ("什么人容易得高血压？", "disease_easyget"),
    ("糖尿病", "disease_desc"),
]

#: the same question types asked about entities of our starter graph, in both languages
STARTER = [
    ("乳腺癌的症状有哪些？", "disease_symptom"),
    ("最近老流鼻涕怎么办？", "symptom_disease"),
    ("为什么有的人会失眠？", "disease_cause"),
    ("失眠有哪些并发症？", "disease_acompany"),
    ("失眠的人不要吃啥？", "disease_not_food"),
    ("耳鸣了吃点啥？", "disease_do_food"),
    ("哪些人最好不好吃蜂蜜？", "food_not_disease"),
    ("蜂蜜有什么好处？", "food_do_disease"),
    ("高血压要吃啥药？", "disease_drug"),
    ("布洛芬能治啥病？", "drug_disease"),
    ("脑膜炎怎么才能查出来？", "disease_check"),
    ("全血细胞计数能查出啥来？", "check_disease"),
    ("怎样才能预防感冒？", "disease_prevent"),
    ("感冒要多久才能好？", "disease_lasttime"),
    ("高血压要怎么治？", "disease_cureway"),
    ("白血病能治好吗？", "disease_cureprob"),
    ("什么人容易得高血压？", "disease_easyget"),
    ("糖尿病", "disease_desc"),
    ("痔疮属于哪个科室", "disease_department"),
    ("头痛挂什么科？", "symptom_department"),
    ("What are the symptoms of breast cancer?", "disease_symptom"),
    ("I have a fever, cough and headache", "symptom_disease"),
    ("Why do people get insomnia?", "disease_cause"),
    ("What are the complications of insomnia?", "disease_acompany"),
    ("What should I avoid eating with gout?", "disease_not_food"),
    ("What should I eat with tinnitus?", "disease_do_food"),
    ("Who should not eat honey?", "food_not_disease"),
    ("What are the benefits of honey?", "food_do_disease"),
    ("What medicine is used for hypertension?", "disease_drug"),
    ("What does ibuprofen treat?", "drug_disease"),
    ("How is meningitis diagnosed?", "disease_check"),
    ("What can a complete blood count detect?", "check_disease"),
    ("How can I prevent the flu?", "disease_prevent"),
    ("How long does a cold last?", "disease_lasttime"),
    ("What is the treatment for high blood pressure?", "disease_cureway"),
    ("Can leukemia be cured?", "disease_cureprob"),
    ("Who is at risk of hypertension?", "disease_easyget"),
    ("diabetes", "disease_desc"),
    ("Which department treats gout?", "disease_department"),
]


@pytest.fixture(scope="module")
def qa() -> QA:
    return QA(KnowledgeBase.load())


@pytest.fixture(scope="module")
def upstream_qa(shared_data) -> QA:
    """A graph of QASystemOnMedicalKG's own entity word lists (entities only, as its classifier sees them)."""
    kg = KnowledgeGraph(name="qasystem-dict")
    src = Source("qasystem_dict")
    folder = shared_data / "qasystem_medicalkg" / "dict"
    for kind in (Kind.DISEASE, Kind.SYMPTOM, Kind.CHECK, Kind.DRUG, Kind.FOOD, Kind.DEPARTMENT):
        for name in (folder / f"{kind.value}.txt").read_text(encoding="utf-8").splitlines():
            if name.strip():  # plain nodes: no merging needed for a classifier test, and 5x faster
                kg.g.add_node(node_key(kind, name.strip()), entity=Entity(kind, name.strip(), sources={src}))
    return QA(KnowledgeBase(kg))


@pytest.mark.parametrize(("question", "intent"), UPSTREAM)
def test_upstream_example_questions_classify_on_the_upstream_word_lists(upstream_qa, question, intent):
    intents, _ = upstream_qa.classify(question)
    assert intent in intents


@pytest.mark.parametrize(("question", "intent"), STARTER)
def test_question_types_classify_in_chinese_and_english(qa, question, intent):
    intents, _ = qa.classify(question)
    assert intents[0] == intent


def test_a_drug_question_with_eat_also_fires_the_food_intent(qa):
    assert qa.classify("高血压要吃啥药？")[0] == ["disease_drug", "disease_do_food"]


def test_deny_words_flip_eat_and_avoid(qa):
    assert qa.classify("痛风能吃什么？")[0] == ["disease_do_food"]
    assert qa.classify("痛风不能吃什么？")[0] == ["disease_not_food"]
    assert qa.classify("What can I eat with gout?")[0] == ["disease_do_food"]
    assert qa.classify("What should I not eat with gout?")[0] == ["disease_not_food"]


def test_several_intents_fire_for_a_compound_question(qa):
    intents, _ = qa.classify("感冒有什么症状，要做什么检查？")
    assert intents[:2] == ["disease_symptom", "disease_check"]


def test_answers_are_sentences_in_the_question_language_with_citations(qa):
    zh = qa.answer("痛风不能吃什么？")
    assert zh.lang == "zh" and zh.render().startswith("痛风患者宜少吃或不吃：啤酒、海鲜")
    assert zh.render().endswith("[1]")
    ((n, line),) = zh.references()
    assert n == 1 and all(f.cites() == ["starter#痛风"] for f in line.facts)
    en = qa.answer("Which department treats gout?")
    assert en.lang == "en" and en.render() == "Gout is usually seen in: Rheumatology, Endocrinology. [1]"


def test_symptom_question_returns_ranked_cited_candidates(qa):
    ans = qa.answer("最近老流鼻涕怎么办？")
    assert ans.intents == ["symptom_disease"]
    assert ans.candidates[0].score >= ans.candidates[-1].score
    assert {c.key for c in ans.candidates[:3]} & {"disease:感冒", "disease:过敏性鼻炎"}
    assert "（匹配：流鼻涕）" in ans.render() and ans.lines[0].facts
    en = qa.answer("I have a fever, cough and headache")
    assert en.render().startswith("Possible causes of fever, cough, headache (best match first): Influenza")


def test_missing_attribute_is_reported_honestly(qa):
    ans = qa.answer("癫痫能治好吗？")
    assert not ans.found and ans.render() == "知识图谱中没有癫痫的这类信息。"
    assert qa.answer("白血病能治好吗？").render().startswith("白血病的治愈情况：与类型和年龄有关")


def test_prevention_duration_and_risk_groups_come_from_the_starter_texts(qa):
    assert qa.answer("怎样才能预防感冒？").render().startswith("预防感冒：勤洗手")
    assert (
        qa.answer("How long does a cold last?")
        .render()
        .startswith("How long Common cold lasts: Usually 7 to 10")
    )
    assert "中老年人" in qa.answer("什么人容易得高血压？").render()


def test_symptom_list_without_question_words_ranks_diseases(qa):
    ans = qa.answer("头疼，恶心，怕光")
    assert ans.intents == ["symptom_disease"] and ans.candidates[0].key == "disease:偏头痛"


def test_unknown_question_says_it_is_not_in_the_graph(qa):
    ans = qa.answer("量子力学是什么？")
    assert ans.kind == "not_found" and not ans.found and "知识图谱中没有" in ans.render()
    for blank in ("", "   "):
        assert qa.answer(blank).kind == "not_found"
    assert "nothing in the knowledge graph" in qa.answer("Who won the football match?").render()


def test_greetings_get_an_introduction_not_a_hang(qa):
    assert qa.answer("你好").kind == "greeting"
    assert qa.answer("hello there").render().startswith("Hello!")


def test_language_detection():
    assert detect_language("最近老流鼻涕怎么办？") == "zh"
    assert detect_language("I have a fever") == "en"
    assert detect_language("我有fever") == "zh"


def test_answer_to_dict_is_json_ready(qa):
    import json

    data = qa.answer("感冒有什么症状").to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False))["lines"][0]["facts"][0]["sources"] == [
        "starter#感冒"
    ]
