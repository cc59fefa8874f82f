"""Normalisation and cleaning rules shared by every importer (each rule is shown in docs/knowledge.md).

Two layers:
- ``normalize(text)`` is what a node is *called*: NFKC (full-width → half-width), whitespace collapsed,
  the 39.net ``[详细]`` ("more…") marker and wrapping quotes/punctuation removed, snake_case → words.
- ``canonical(text)`` is what two names must share to be *the same node*: ``normalize`` + case folded,
  every space and punctuation mark removed, then the explicit ``VARIANTS`` table (肺大泡 → 肺大疱).

``Cleaner.items(values, kind)`` applies the drop rules to a list (truncated ``...`` names, scraped person
names in symptom lists, empty values, duplicates) and counts each rule it fired in an ``ImportReport``.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from knowledge.schema import Kind

DETAIL_MARK = re.compile(r"\s*\[(详细|詳細)\]\s*$")
_SPACES = re.compile(r"\s+")
_PUNCT_EDGES = " \t\r\n\"'`“”‘’,，、;；:：.。!！?？|/\\"
_TRUNCATED = re.compile(r"(\.\.\.|…|。。。)\s*$")
_ESCAPED_UTF8 = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")

#: Known variant spellings of one entity, canonical form → canonical form of the preferred name.
#: Checked by hand against the real data: each left side and right side name the same condition.
VARIANTS: dict[str, str] = {
    "肺大泡": "肺大疱",  # xywy has both records; 疱 is the standard character (bulla)
    "肺泡蛋白沉着症": "肺泡蛋白质沉积症",  # xywy: two records of pulmonary alveolar proteinosis
    "成人呼吸窘迫综合征": "急性呼吸窘迫综合征",  # ARDS: the old name is 'adult' RDS
    "pepticulcerdiseae": "pepticulcerdisease",  # Kaggle dataset.csv typo
    "dimorphichemmorhoidspiles": "dimorphichemorrhoidspiles",  # Kaggle dataset.csv vs description.csv
    "osteoarthristis": "osteoarthritis",  # Kaggle typo
}

#: Known misspellings in real files, fixed in the display name (normalised text → corrected text).
TYPOS: dict[str, str] = {
    "Peptic ulcer diseae": "Peptic ulcer disease",  # Kaggle dataset.csv
    "Osteoarthristis": "Osteoarthritis",  # Kaggle dataset.csv and description
    "Dimorphic hemmorhoids(piles)": "Dimorphic hemorrhoids(piles)",  # Kaggle dataset.csv
    "(vertigo) Paroymsal Positional Vertigo": "(vertigo) Paroxysmal Positional Vertigo",  # Kaggle, every file
}

#: Common Chinese surnames (single and compound); used only by ``looks_like_person_name``.
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温"
    "康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂"
    "成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党"
    "宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝衣毓巨"
)
COMPOUND_SURNAMES = {
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
}

#: Characters common in Chinese given names; a person-name token uses only these after its surname.
GIVEN_NAME_CHARS = set(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志文斌辉鹏玉品卓登宇浩然俊峰波宁晨阳博涵睿轩"
    "子欣怡雪琳婷佳颖慧思源嘉诗雨萱梓晓海燕红梅琴云飞龙虎彬凯旭东升春秋冬亮新荣昌盛福贵祥瑞永庆德智仁义礼信"
    "忠孝廉耻家宏利胜金鑫淼森林松柏青山岩石河江湖清泉晶莹璐瑶琪璇婧媛婕妍娇媚莉莎茜蕾薇蓉菲萍莲荷菊兵武"
    "卫民振兴学成才彦正泽道坤乾长鸿远达宪法钧铭锋锐剑刚毅坚韧朝晖耀光炜烨煜炎焱世纪元宝贝珍珠琦瑾瑜璋"
    "翠凤鹤鸣鹰雁燕莺雯霏霓露霜冰洁丹彤蓓蕊芝兰馨香蕙芸茹萌苗蔚茂荣华丰盈满溢润泓淳澄澈沛"
)

#: Characters that mark a medical phrase (pain, fever, swelling...): a token with one is never a person name.
MEDICAL_CHARS = set(
    "痛疼热烧咳嗽肿炎血疸尿便痒晕吐泻胀酸麻木汗冷喘闷瘫痪疹斑癣疮脓溃疡痰涕嚏眩悸抽搐惊厥昏迷乏力弱瘦胖"
    "紫绀呕恶哑聋盲渴饿秘硬僵萎缩裂烂臭苦腥浊稀黏稠结节块瘤癌增减高低快慢紧松干湿虚实寒阴阳气急促心肝脾"
    "肺肾胃肠脑头眼耳鼻口舌齿牙咽喉颈肩背腰腹胸腿脚手足皮肤毛发骨关节肌筋脉经带孕产乳阴茎睾精月病症征综合"
)


@lru_cache(maxsize=1 << 18)
def normalize(text: str) -> str:
    """Display form: NFKC, one space between words, no ``[详细]`` marker, no wrapping punctuation."""
    text = unicodedata.normalize("NFKC", text)
    text = DETAIL_MARK.sub("", text)
    text = _SPACES.sub(" ", text.replace("_", " ")).strip()
    if _TRUNCATED.search(text):  # keep the '...' so is_truncated can still see it
        return text
    return text.strip(_PUNCT_EDGES)


@lru_cache(maxsize=1 << 18)
def canonical(text: str) -> str:
    """Identity form: two names with the same canonical form are one entity (same kind)."""
    text = normalize(text).casefold()
    text = "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PSZ"))
    return VARIANTS.get(text, text)


def is_truncated(text: str) -> bool:
    """A crawled name cut short, e.g. ``枸橼酸西地那非...`` or ``发热伴咳嗽、咯...``."""
    return text.rstrip().endswith(("...", "…", "。。。"))


def looks_like_person_name(token: str) -> bool:
    """A 2–3 character Chinese token shaped like a name: surname + given-name characters, no medical character."""
    if not (2 <= len(token) <= 4) or not _CJK.match(token):
        return False
    if len(token) == 4 or token[:2] in COMPOUND_SURNAMES:
        surname, given = token[:2], token[2:]
        if surname not in COMPOUND_SURNAMES:
            return False
    else:
        surname, given = token[0], token[1:]
        if surname not in SURNAMES:
            return False
    if not given or any(ch in MEDICAL_CHARS for ch in token):
        return False
    return all(ch in GIVEN_NAME_CHARS for ch in given)


def fix_escaped_utf8(text: str) -> str:
    """Turn literal ``\\xe2\\x80\\x93`` sequences (mojibake in ChatDoctor's ``reason``) back into ``–``."""

    def _decode(m: re.Match[str]) -> str:
        raw = bytes(int(h, 16) for h in m.group(0).split("\\x")[1:])
        return raw.decode("utf-8", errors="replace")

    return _ESCAPED_UTF8.sub(_decode, text)


def split_list(text: str | None, separators: str) -> list[str]:
    """Split a list cell on any of ``separators`` (a regex character class body), dropping the ``[详细]`` mark."""
    if not text:
        return []
    text = DETAIL_MARK.sub("", unicodedata.normalize("NFKC", text))
    return [p for p in _splitter(separators).split(text) if p.strip()]


@lru_cache(maxsize=64)
def _splitter(separators: str) -> re.Pattern[str]:
    return re.compile(f"[{separators}]+")


class PrefixIndex:
    """Full names by prefix: restores a truncated ``阿克森费尔德...`` when exactly one known name extends it."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted({n for n in names if n and not is_truncated(n)})

    def unique(self, prefix: str) -> str | None:
        i = bisect.bisect_left(self.names, prefix)
        found = []
        while i < len(self.names) and self.names[i].startswith(prefix) and len(found) < 2:
            if self.names[i] != prefix:  # the bare prefix itself is a crawl artefact, not a name
                found.append(self.names[i])
            i += 1
        return found[0] if len(found) == 1 else None


class Cleaner:
    """Applies the drop rules to values and counts what it changed in ``report``."""

    def __init__(self, report: object, vocab: dict[Kind, PrefixIndex] | None = None) -> None:
        self.report = report
        self.vocab = vocab or {}  # known full names per kind, to restore truncated ones
        self._memo: dict[tuple[str, Kind], tuple[str | None, str | None]] = {}  # → (result, rule fired)

    def set_vocab(self, kind: Kind, names: Iterable[str]) -> None:
        """Known full names of ``kind``, used to restore truncated ones from now on."""
        self.vocab[kind] = PrefixIndex(names)
        self._memo.clear()

    def name(self, value: object, kind: Kind | str, where: str = "") -> str | None:
        """One cleaned name, or None when a rule drops it (the reason is counted)."""
        if value is None:
            return None
        raw = str(value)
        kind = kind if isinstance(kind, Kind) else Kind(kind)
        memo = self._memo.get((raw, kind))
        if memo is None:
            memo = self._memo[(raw, kind)] = self._name(raw, kind)
        result, rule = memo
        if rule is not None:
            self.report.clean(rule, raw, where)
        return result

    def _name(self, raw: str, kind: Kind) -> tuple[str | None, str | None]:
        """The cleaned name and the rule that fired (None: unchanged); pure, so memoised per value."""
        text = normalize(raw)
        if not text:
            return None, "dropped empty value"
        if is_truncated(text):
            index = self.vocab.get(kind)
            full = index.unique(_TRUNCATED.sub("", text).strip()) if index else None
            if full is None:
                return None, "dropped truncated name ('...')"
            return full, "restored truncated name from a vocabulary"
        if kind == Kind.SYMPTOM and looks_like_person_name(text):
            return None, "dropped person name in symptom list"
        if text in TYPOS:
            return TYPOS[text], "fixed known misspelling"
        if text != raw:
            return text, "normalised (width/whitespace/[详细]/punctuation)"
        return text, None

    def items(self, values: Iterable[object], kind: Kind | str, where: str = "") -> list[str]:
        """Cleaned, de-duplicated (by canonical form) names, in input order."""
        out: list[str] = []
        seen: set[str] = set()
        for v in values:
            name = self.name(v, kind, where)
            if name is None:
                continue
            c = canonical(name)
            if not c:
                self.report.clean("dropped empty value", name, where)
            elif c in seen:
                self.report.clean("dropped duplicate in list", name, where)
            else:
                seen.add(c)
                out.append(name)
        return out

    def text(self, value: object, where: str = "") -> str | None:
        """A free-text attribute: stripped, escaped UTF-8 repaired, empty → None."""
        if value is None:
            return None
        raw = str(value)
        text = fix_escaped_utf8(raw).strip()
        if text != raw.strip():
            self.report.clean("repaired escaped UTF-8 bytes", raw[:60], where)
        return text or None
