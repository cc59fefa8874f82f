"""PII/PHI scrubbing for the HIPAA Safe Harbor identifiers (§164.514(b)(2)), English and Chinese.

``scrub(text)`` replaces each identifier with a typed placeholder (``[PHONE]``, ``[NAME]`` ...) and returns
the spans it replaced, in the original text's offsets (the values themselves are not kept). Used by the data
builder before training and by logging. Names are found by context heuristics (titles, "my name is",
greeting lines, "我叫…", "患者…"), so recall on bare names in free text is limited: say so to users.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

VERSION = "pii-2026.11.28.1"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范"
    "金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳司马上官诸葛"
)
_CN = r"[\u4e00-\u9fff]"
_ZH_NAME = rf"[{_SURNAMES}](?:某某|某|{_CN}{{1,2}})(?=[,,。.!!??、;;::\s]|$|先生|女士|医生|大夫|老师|护士|患者|的|今年|是|在|来|说|因|于|岁|男|女|，)"
_EN_NAME = r"[A-Z][a-z]+(?:'[A-Z][a-z]+)?(?:[ -][A-Z][a-z]*(?:'[A-Z][a-z]+)?){0,2}"
_NOT_NAMES = {
    "Doctor",
    "Doc",
    "There",
    "All",
    "Team",
    "Sir",
    "Madam",
    "Everyone",
    "Nurse",
    "Thanks",
    "Thank",
    "Please",
}
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MONTHS = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_STREET = r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|crescent|close)\b\.?"


@dataclass(frozen=True)
class Span:
    """One replaced identifier: its kind and where it was in the original text."""

    start: int
    end: int
    kind: str


@dataclass
class ScrubResult:
    """Scrubbed text and the spans that were replaced (offsets into the original text)."""

    text: str
    spans: list[Span] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return sorted({s.kind for s in self.spans})


def valid_cn_id(number: str) -> bool:
    """GB 11643 checksum of an 18-character Chinese resident ID number."""
    if not re.fullmatch(r"\d{17}[\dXx]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def _rx(
    kind: str, pattern: str, flags: int = re.IGNORECASE, group: int | str = 0
) -> Callable[[str], Iterator[Span]]:
    compiled = re.compile(pattern, flags)

    def find(text: str) -> Iterator[Span]:
        for m in compiled.finditer(text):
            if m.group(group):
                yield Span(m.start(group), m.end(group), kind)

    return find


def _cn_ids(text: str) -> Iterator[Span]:
    for m in re.finditer(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])", text):
        if valid_cn_id(m.group(0)):
            yield Span(m.start(), m.end(), "ID_CARD")


def _phones(text: str) -> Iterator[Span]:
    pats = (
        r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)",  # Chinese mobile
        r"(?<![\w+])\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}(?!\d)",  # international
        r"(?<!\d)\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)",  # North American
        r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)",  # Chinese landline
    )
    for pat in pats:
        for m in re.finditer(pat, text):
            before = text[max(0, m.start() - 12) : m.start()].lower()
            yield Span(m.start(), m.end(), "FAX" if ("fax" in before or "传真" in before) else "PHONE")


def _names(text: str) -> Iterator[Span]:
    en = (
        rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+({_EN_NAME})",
        rf"(?i:\bmy name is|\bname\s*:|\bpatient(?: name)?\s*:|\bthis is|\bsigned|\bregards,|\bthanks,|\bsincerely,)\s*({_EN_NAME})",
        rf"(?m)^(?i:hi|hello|dear|hey)\s+({_EN_NAME})\s*[,!:]",
        rf"\b(?i:patient|pt)\s+({_EN_NAME})\b",
    )
    for pat in en:
        for m in re.finditer(pat, text):
            name = m.group(1)
            first = name.split()[0]
            if first not in _NOT_NAMES:
                yield Span(m.start(1), m.end(1), "NAME")
    zh = (
        rf"(?:我叫|我的名字是|本人|姓名[::]?\s*|患者[::]?\s*|病人[::]?\s*|家属[::]?\s*|联系人[::]?\s*)({_ZH_NAME})",
        rf"([{_SURNAMES}](?!是|在|和|与|的|们|个|时|后|面|前|来|去|要|说){_CN}{{0,2}}?)(?=先生|女士|医生|大夫|老师|护士|阿姨|大爷)",
    )
    for pat in zh:
        for m in re.finditer(pat, text):
            yield Span(m.start(1), m.end(1), "NAME")


_ZH_ADDRESS = re.compile(
    rf"(?:{_CN}{{2,6}}(?:省|自治区))?(?:{_CN}{{2,6}}市)?{_CN}{{2,6}}(?:区|县)(?:{_CN}{{1,10}}?(?:大街|大道|路|街|巷|胡同|村|镇|乡|小区|段))+"
    rf"(?:\d+号)?(?:{_CN}{{0,6}}?\d+(?:号楼|栋|幢|单元|室))*"
)
_ADDRESS_LEAD = ("住在", "家住", "位于", "来自", "住址", "地址", "我家", "在", "住", "到", "是", ":", ":")


def _zh_addresses(text: str) -> Iterator[Span]:
    """Chinese addresses down to the street; leading verbs ("住在", "地址") are not part of the place."""
    for m in _ZH_ADDRESS.finditer(text):
        start = m.start()
        stripped = True
        while stripped:
            stripped = False
            for lead in _ADDRESS_LEAD:
                if text.startswith(lead, start) and m.end() - start > len(lead) + 4:
                    start += len(lead)
                    stripped = True
        yield Span(start, m.end(), "ADDRESS")


def _generic_ids(text: str) -> Iterator[Span]:
    """Any other long number (≥ 9 digits) is an identifier under Safe Harbor (j)…(r)."""
    for m in re.finditer(r"(?<![\d.])\d{9,}(?![\d.])", text):
        yield Span(m.start(), m.end(), "ID")


def _keyed(
    kind: str, keys: str, value: str = r"(?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,}"
) -> Callable[[str], Iterator[Span]]:
    return _rx(
        kind, rf"(?:{keys})\s*(?:number|no\.?|num|#|id|号码?)?\s*(?:is|[:#=:])?\s*(?P<v>{value})", group="v"
    )


_FINDERS: tuple[Callable[[str], Iterator[Span]], ...] = (
    _rx("EMAIL", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    _rx("URL", r"\b(?:https?://|www\.)[^\s<>\"',,。]+"),
    _rx("IP", r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d|\.\d)"),
    _rx("IP", r"\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"),
    _rx("DEVICE", r"\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b"),
    _rx("SSN", r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"),
    _keyed("SSN", r"\bssn|social security"),
    _cn_ids,
    _keyed("MRN", r"\bmrn|medical record|\bchart|病历号|住院号|门诊号|病案号"),
    _keyed("HEALTH_PLAN", r"\bmember|\bpolicy|insurance|health plan|medicare|medicaid|医保卡?|社保卡?"),
    _keyed("ACCOUNT", r"\baccount|\bacct|银行卡|卡号|账号|账户"),
    _keyed("LICENSE", r"\blicen[cs]e|\bdea|\bnpi|驾驶证|驾照|执业证(?:书)?|资格证"),
    _keyed("DEVICE", r"\bserial|\bdevice|\bimei|\bpacemaker|设备|序列号"),
    _rx(
        "VEHICLE",
        r"\b[A-HJ-NPR-Z0-9]{17}\b(?<=\d[A-HJ-NPR-Z0-9]{16})|\b(?:vin|plate|licen[cs]e plate)\s*(?:number|no\.?|#)?\s*[:#]?\s*([A-Z0-9-]{5,8})\b",
        re.IGNORECASE,
    ),
    _rx(
        "VEHICLE", r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z]·?[A-Z0-9]{5,6}", 0
    ),
    _phones,
    _rx(
        "ADDRESS",
        rf"\b\d{{1,5}}\s+(?:[A-Z][a-z]+\s){{1,3}}{_STREET}(?:,?\s*(?:apt|apartment|suite|unit|flat)\s*\w+)?",
        re.IGNORECASE,
    ),
    _zh_addresses,
    _rx("ADDRESS", rf"{_CN}{{2,8}}(?:路|街|大道|巷)\d+号(?:\d+(?:号楼|栋|单元|室))*", 0),
    _rx("ADDRESS", r",\s*([A-Z][a-z]+(?: [A-Z][a-z]+)?),\s*[A-Z]{2}\s+\d{5}\b", 0, group=1),
    _rx(
        "ZIP",
        r"\b(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[AT]|W[AIVY])\s+(?P<v>\d{5}(?:-\d{4})?)\b",
        0,
        group="v",
    ),
    _keyed("ZIP", r"\bzip(?: code)?|\bpostcode|\bpostal code|邮编|邮政编码", r"\d{5,6}(?:-\d{4})?"),
    _rx(
        "DATE",
        rf"\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}\b|\b\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}\b|\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?\b",
    ),
    _rx("DATE", r"(?:\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{4}\s*年\s*\d{1,2}\s*月", 0),
    _rx(
        "AGE",
        r"\b(?:aged?\s+)?(?:9\d|1[0-4]\d)(?:[ -]?(?:years?|yrs?)(?:[ -]old)?|[ -]?y/?o\b)|\baged?\s+(?:9\d|1[0-4]\d)\b|(?<!\d)(?:9\d|1[0-4]\d)\s*(?:岁|周岁)",
    ),
    _names,
    _generic_ids,
)


def find_spans(text: str) -> list[Span]:
    """Every identifier found, overlaps resolved (earlier finders win, then the longer span)."""
    chosen: list[Span] = []
    for rank, finder in enumerate(_FINDERS):
        for span in finder(text):
            if span.end <= span.start:
                continue
            clash = [c for c in chosen if c.start < span.end and span.start < c.end]
            if not clash:
                chosen.append(span)
            elif all(
                rank > 0
                and (span.end - span.start) > 1.5 * (c.end - c.start)
                and c.kind in ("DATE", "ID", "PHONE")
                for c in clash
            ):
                chosen = [c for c in chosen if c not in clash] + [span]
    return sorted(chosen, key=lambda s: s.start)


def scrub(text: str) -> ScrubResult:
    """Replace every identifier with ``[KIND]``; the spans point into the original text."""
    spans = find_spans(text)
    out, pos = [], 0
    for s in spans:
        out.append(text[pos : s.start])
        out.append(f"[{s.kind}]")
        pos = s.end
    out.append(text[pos:])
    return ScrubResult("".join(out), spans)
