"""HSDN symptom–disease links (Zhou et al. 2014) as TSV: the TF-IDF weight goes on each edge's ``Source.weight``.

Accepts dhimmel/hsdn ``symptoms-DO.tsv`` (``symptom_name disease_name cooccurs tfidf_score disease_id
symptom_id doid_code doid_name``) and the paper's full table (``MeSH Symptom Term  MeSH Disease Term
PubMed occurrence  TFIDF score``). Scores compare only within one disease.
"""

from __future__ import annotations

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, cell, open_table, register_importer
from knowledge.schema import Kind, Rel

REQUIRED = {
    "symptom": ("symptom_name", "MeSH Symptom Term"),
    "disease": ("disease_name", "MeSH Disease Term"),
    "score": ("tfidf_score", "TFIDF score", "tf-idf score"),
}
OPTIONAL = {
    "cooccurs": ("cooccurs", "PubMed occurrence"),
    "disease_id": ("disease_id",),
    "symptom_id": ("symptom_id",),
    "doid": ("doid_code",),
    "doid_name": ("doid_name",),
}


@register_importer("hsdn", source="hsdn", lang="en", help="HSDN symptom–disease TSV with TF-IDF weights")
def import_hsdn(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """One weighted ``disease —has_symptom→ symptom`` edge per row; the Disease Ontology name is preferred."""
    rows, cols, _ = open_table(ctx, REQUIRED, OPTIONAL, delimiter="\t")
    for line, row in rows:
        ctx.report.read += 1
        if not any(c.strip() for c in row):
            ctx.report.skip("blank row", f"line {line}")
            continue
        _row(kg, ctx, line, {k: cell(row, i) for k, i in cols.items()})


def _row(kg: KnowledgeGraph, ctx: ImportContext, line: int, rec: dict[str, str]) -> None:
    where = f"line {line}"
    try:
        score = float(rec["score"])
    except ValueError:
        raise ctx.error(f"not a number: {rec['score']!r}", line=line, field="tfidf_score") from None
    mesh = ctx.cleaner.name(rec["disease"], Kind.DISEASE, where)
    name = ctx.cleaner.name(rec.get("doid_name"), Kind.DISEASE, where) or mesh
    symptom = ctx.cleaner.name(rec["symptom"], Kind.SYMPTOM, where)
    if name is None or symptom is None:
        ctx.report.skip("row without a disease or symptom name", where)
        return
    attrs = {"mesh_id": rec.get("disease_id", ""), "doid": rec.get("doid", "")}
    src = ctx.src(line, weight=score)
    d = kg.add_entity(
        Kind.DISEASE,
        name,
        source=ctx.src(line),
        lang="en",
        aliases=[mesh] if mesh and mesh != name else [],
        attrs=attrs,
    )
    s = kg.ensure(Kind.SYMPTOM, symptom, source=ctx.src(line), lang="en")
    if rec.get("symptom_id"):
        kg.entity(s).attrs.setdefault("mesh_id", rec["symptom_id"])
    kg.add_edge(d, Rel.HAS_SYMPTOM, s, (src,))
    ctx.report.imported += 1
