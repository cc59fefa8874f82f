"""Fixtures for the data-builder tests: a small bilingual knowledge graph."""

from __future__ import annotations

import pytest

from knowledge.graph import KnowledgeGraph
from knowledge.schema import Source

DISEASES = {
    ("感冒", "Common cold"): {
        "has_symptom": [
            ("流鼻涕", "runny nose"),
            ("咳嗽", "cough"),
            ("发热", "fever"),
            ("咽痛", "sore throat"),
        ],
        "needs_check": [("血常规", "complete blood count")],
        "common_drug": [("布洛芬", "ibuprofen"), ("对乙酰氨基酚", "paracetamol")],
        "belongs_to_department": [("呼吸内科", "respiratory medicine")],
    },
    ("流行性感冒", "Influenza"): {
        "has_symptom": [("发热", "fever"), ("咳嗽", "cough"), ("肌肉酸痛", "muscle aches")],
        "needs_check": [("流感抗原检测", "influenza antigen test")],
        "common_drug": [("奥司他韦", "oseltamivir")],
    },
    ("偏头痛", "Migraine"): {
        "has_symptom": [("头痛", "headache"), ("恶心", "nausea"), ("畏光", "sensitivity to light")],
        "common_drug": [("布洛芬", "ibuprofen")],
        "belongs_to_department": [("神经内科", "neurology")],
    },
}
KINDS = {
    "has_symptom": "symptom",
    "needs_check": "check",
    "common_drug": "drug",
    "belongs_to_department": "department",
}


def build_kg() -> KnowledgeGraph:
    kg = KnowledgeGraph(name="test")
    for i, ((zh, en), rels) in enumerate(DISEASES.items()):
        src = Source("test_kg", str(i))
        kg.add_entity(
            "disease",
            zh,
            source=src,
            names={"en": en},
            attrs={"description_zh": f"{zh}是一种常见病。", "description_en": f"{en} is a common illness."},
        )
        for rel, objs in rels.items():
            for ozh, oen in objs:
                kg.add_entity(KINDS[rel], ozh, source=src, names={"en": oen})
                kg.add_fact("disease", zh, rel, KINDS[rel], ozh, source=src)
    return kg


@pytest.fixture
def kg_small() -> KnowledgeGraph:
    return build_kg()
