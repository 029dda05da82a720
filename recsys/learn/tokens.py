"""Words of offer text in any language: Chinese segmented with jieba, other scripts by a word pattern.

Chinese has no spaces between words, so a pattern that splits on spaces turns "满200减30全场通用"
into one token. :func:`words` segments runs of Chinese characters with `jieba
<https://github.com/fxsjy/jieba>`_ (its default dictionary, plus a few e-commerce promotion terms
it lacks, such as 包邮 and 满减券), and reads every other run (English, pinyin, brand names) with
the keyword pattern the text encoder always used: letters only, three or more, lower-cased.
Chinese single characters and common function words are dropped, as English stop words are.

>>> words("满200减30全场通用 Free shipping on iPhone cases")
['满减', '全场', '通用', 'free', 'shipping', 'iphone', 'cases']
>>> words("限时秒杀，全场5折起；包邮到家")
['限时秒杀', '全场', '折扣', '包邮', '到家']
"""

from __future__ import annotations

import logging
import re
import threading

#: Runs of Chinese characters (CJK unified ideographs and extension A).
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
#: Words of other scripts: letters only, at least three (as the English keyword features).
OTHER_WORD = re.compile(r"(?u)\b[^\W\d_]{3,}\b")
#: E-commerce and promotion terms jieba's general dictionary splits apart ("包邮" -> 包 / 邮到): kept whole.
PROMOTION_TERMS: tuple[str, ...] = (
    "包邮", "满减", "满减券", "折扣券", "优惠券", "代金券", "现金券", "无门槛", "秒杀", "限时秒杀", "限时",
    "会员日", "新人专享", "新客", "老客", "第二件半价", "买一送一", "直降", "返现", "积分", "抵扣", "满赠",
    "拼团", "预售", "定金", "尾款", "清仓", "爆款", "大促", "品牌日", "专享", "全场", "通用", "券后价",
    "组合购", "立省", "立减", "买二送一", "彩妆", "护肤", "优惠码",
)
#: Chinese words too common to tell offers apart (the Chinese counterpart of English stop words).
CHINESE_STOP_WORDS: frozenset[str] = frozenset({
    "的", "了", "和", "与", "及", "或", "在", "是", "就", "都", "也", "为", "对", "以", "等", "可", "可以", "您",
    "我们", "你们", "他们", "这个", "那个", "一个", "每", "起", "元", "件", "个", "用", "享", "到", "从", "再",
    "可用", "使用", "适用",
})

_FULL_REDUCTION = re.compile(r"满\s*\d+(?:\.\d+)?\s*(?:元)?\s*减\s*\d+(?:\.\d+)?\s*(?:元)?")
_DISCOUNT = re.compile(r"\d+(?:\.\d+)?\s*折")
_lock = threading.Lock()
_tokenizer = None


def _jieba():  # noqa: ANN202 - jieba.Tokenizer, imported lazily (it loads its dictionary on first use)
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict ..." on stderr
            tokenizer = jieba.Tokenizer()
            for term in PROMOTION_TERMS:
                tokenizer.add_word(term, freq=100_000)
            _tokenizer = tokenizer
    return _tokenizer


def words(text: str) -> list[str]:
    """The keywords of one text in reading order: Chinese words of two or more characters that are
    not stop words, and the other scripts' words (lower-cased). Amounts written into Chinese promotion
    phrases become the phrase's word: "满200减30" -> 满减, "5折" / "8.5折" -> 折扣."""
    if HAN_RUN.search(text) is None:  # no Chinese: the English keyword pattern alone (the common case)
        return [w.lower() for w in OTHER_WORD.findall(text)]
    text = _FULL_REDUCTION.sub(" 满减 ", text)
    text = _DISCOUNT.sub(" 折扣 ", text)
    out: list[str] = []
    position = 0
    for run in HAN_RUN.finditer(text):
        out += [w.lower() for w in OTHER_WORD.findall(text[position:run.start()])]
        out += [w for w in _jieba().lcut(run.group(), HMM=True) if len(w) > 1 and w not in CHINESE_STOP_WORDS]
        position = run.end()
    out += [w.lower() for w in OTHER_WORD.findall(text[position:])]
    return out


def has_chinese(text: str) -> bool:
    return HAN_RUN.search(text) is not None


__all__ = ["CHINESE_STOP_WORDS", "PROMOTION_TERMS", "has_chinese", "words"]
