"""The knowledge-graph schema: typed entities, typed relations, text attributes and provenance.

Entity kinds and relation kinds follow cMeKG / QASystemOnMedicalKG. Every fact carries where it came
from (``Source``), so any answer built on the graph can cite it. This module imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    """Entity types."""

    DISEASE = "disease"
    SYMPTOM = "symptom"
    CHECK = "check"
    DRUG = "drug"
    DEPARTMENT = "department"
    BODY_PART = "body_part"
    FOOD = "food"
    PRODUCER = "producer"  # drug maker / brand (xywy "Producer")
    CAUSE = "cause"  # cMeKG 病因 when given as an entity


class Rel(StrEnum):
    """Relation types (subject kind → object kind)."""

    HAS_SYMPTOM = "has_symptom"  # disease → symptom
    NEEDS_CHECK = "needs_check"  # disease → check
    COMMON_DRUG = "common_drug"  # disease → drug
    RECOMMENDED_DRUG = "recommended_drug"  # disease → drug
    BELONGS_TO_DEPARTMENT = "belongs_to_department"  # disease → department
    ACOMPANY_WITH = "acompany_with"  # disease → disease (complication / related disease)
    DO_EAT = "do_eat"  # disease → food
    NOT_EAT = "not_eat"  # disease → food
    RECOMMENDED_EAT = "recommended_eat"  # disease → food (recipes)
    LOCATED_IN = "located_in"  # disease → body part
    DRUG_OF = "drug_of"  # producer → drug
    HAS_CAUSE = "has_cause"  # disease → cause
    RELATED_TO = "related_to"  # cMeKG 相关疾病/相关症状 where no typed relation fits (e.g. check → symptom)


#: Free-text attributes a disease may carry (upstream xywy key in brackets).
DISEASE_ATTRIBUTES = (
    "description",  # desc
    "cause",  # cause
    "prevention",  # prevent
    "cure_way",  # cure_way (list joined)
    "cure_duration",  # cure_lasttime
    "cure_probability",  # cured_prob
    "susceptible_population",  # easy_get
    "transmission",  # get_way
    "incidence",  # get_prob
    "cost",  # cost_money
    "insurance",  # yibao_status
    "red_flags",  # when to seek care urgently (our starter graph)
    "self_care",  # what a patient can do at home (our starter graph; Kaggle precautions)
    "lifestyle",  # diet/exercise advice (Kaggle medicine-recommendation "workout")
)


#: Free-text attributes a drug may carry (cMeKG predicate in brackets).
DRUG_ATTRIBUTES = (
    "indications",  # 适应症 / 主治 / 功能主治
    "dosage",  # 用法用量
    "adverse_reactions",  # 不良反应
    "contraindications",  # 禁忌
    "precautions",  # 注意事项
    "interactions",  # 药物相互作用
    "ingredients",  # 成份
    "appearance",  # 性状
    "storage",  # 贮藏
    "shelf_life",  # 有效期
    "specification",  # 规格
    "efficacy",  # 功效
    "nature_flavour",  # 性味 (TCM)
    "medicinal_part",  # 入药部位 (TCM)
)


class Source(NamedTuple):
    """Where a fact came from: a dataset name and the record inside it (a NamedTuple: cheap to load and hash)."""

    name: str  # e.g. "starter", "qasystem_medical", "chatdoctor_disease_db", "hsdn", "kg39"
    record_id: str | None = None  # line number, row id, or upstream id
    weight: float | None = None  # e.g. HSDN TF-IDF score for a symptom–disease edge

    def cite(self) -> str:
        return self.name if self.record_id is None else f"{self.name}#{self.record_id}"


@dataclass(slots=True)
class Entity:
    """A node: one canonical name per (kind, normalised name), with aliases in any language."""

    kind: Kind
    name: str
    aliases: set[str] = field(default_factory=set)
    lang: str = "zh"  # language of ``name``: zh | en
    names: dict[str, str] = field(default_factory=dict)  # lang → display name, e.g. {"en": "Common cold"}
    attrs: dict[str, str] = field(default_factory=dict)  # free text, see DISEASE_ATTRIBUTES
    sources: set[Source] = field(default_factory=set)

    @property
    def key(self) -> str:
        return node_key(self.kind, self.name)


def node_key(kind: Kind | str, name: str) -> str:
    """Graph node id: ``"disease:感冒"``."""
    return f"{_KIND_VALUE.get(kind) or Kind(kind).value}:{name}"


_KIND_VALUE: dict[object, str] = {k: k.value for k in Kind}  # enum .value is a slow descriptor; hot path
