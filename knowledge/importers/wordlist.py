"""Entity word lists, one name per line (QASystemOnMedicalKG ``dict/*.txt``, 39.net ``*_vocab.txt``).

The kind comes from the file name (``disease.txt``, ``symptom_vocab.txt``, ``complications_vocab.txt`` …);
a folder imports every ``.txt`` in it. ``deny.txt`` (negation words) and ``alias_vocab.txt`` (aliases
with no disease to attach to) are skipped and reported: they name no entities.
"""

from __future__ import annotations

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, read_lines, register_importer
from knowledge.schema import Kind

#: file stem (``_vocab`` suffix removed) → entity kind
KINDS = {
    "disease": Kind.DISEASE,
    "complications": Kind.DISEASE,
    "symptom": Kind.SYMPTOM,
    "check": Kind.CHECK,
    "drug": Kind.DRUG,
    "food": Kind.FOOD,
    "producer": Kind.PRODUCER,
    "department": Kind.DEPARTMENT,
    "body_part": Kind.BODY_PART,
    "part": Kind.BODY_PART,
}
NOT_ENTITIES = {"deny": "negation words, not entities", "alias": "aliases without their disease"}


@register_importer(
    "wordlist",
    source="wordlist",
    lang="zh",
    help="entity word lists, one name per line (kind from the file name)",
    folders=True,
)
def import_wordlist(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """Every cleaned name becomes an entity of the file's kind (no facts)."""
    files = sorted(ctx.path.glob("*.txt")) if ctx.path.is_dir() else [ctx.path]
    for path in files:
        stem = path.stem.lower().removesuffix("_vocab")
        if stem in NOT_ENTITIES:
            ctx.report.skip(f"{path.name}: {NOT_ENTITIES[stem]}", path.name)
            continue
        if stem not in KINDS:
            raise ctx.error(
                f"cannot tell the entity kind of {path.name}; name it one of "
                f"{', '.join(f'{k}.txt' for k in KINDS)}"
            )
        sub = ImportContext(path, ctx.source, ctx.report, ctx.encoding, ctx.progress)
        _one(kg, sub, KINDS[stem])


def _one(kg: KnowledgeGraph, ctx: ImportContext, kind: Kind) -> None:
    for line, text in read_lines(ctx):
        if not text.strip():
            continue
        ctx.report.read += 1
        name = ctx.cleaner.name(text.strip(), kind, f"{ctx.path.name}:{line}")
        if name is None:
            ctx.report.skip("name dropped by a cleaning rule", f"{ctx.path.name}:{line}")
            continue
        lang = "en" if name.isascii() else "zh"
        kg.ensure(kind, name, source=ctx.src(f"{ctx.path.name}:{line}"), lang=lang)
        ctx.report.imported += 1
