"""Keyword features of offer text: the jieba-aware tokenizer against the old English word pattern.

Times ``CountVectorizer.fit_transform`` (what ``TextEncoder`` runs on the unique texts) on N unique
English descriptions with the old ``token_pattern`` (the reference, same run) and with
``recsys.learn.tokens.words``, then on N unique Chinese descriptions (the Chinese sample shop's,
segmented by jieba). Best of 3; jieba's dictionary is loaded before timing. Prints ratios.

Run: ``.venv/bin/python bench/bench_chinese_text.py [--n 20000]``
"""

from __future__ import annotations

import argparse
import time

from sklearn.feature_extraction.text import CountVectorizer

from recsys.data import synth, synth_vocab, synth_zh
from recsys.learn.tokens import words

OLD_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"


def _unique_texts(base: list[str], n: int) -> list[str]:
    return [f"{base[i % len(base)]} {i}" for i in range(n)]  # building the input, outside the timer


def _best(make, docs: list[str], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        make().fit_transform(docs)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="unique texts per language")
    args = parser.parse_args()
    shop = synth.generate(n_users=200)
    english = _unique_texts(shop.items[synth_vocab.DESCRIPTION].astype(str).tolist(), args.n)
    chinese = _unique_texts(synth_zh.to_chinese(shop).items[synth_vocab.DESCRIPTION].astype(str).tolist(), args.n)
    words("预热")  # load jieba's dictionary outside the timings

    def old() -> CountVectorizer:
        return CountVectorizer(lowercase=True, stop_words="english", token_pattern=OLD_PATTERN, binary=True)

    def new() -> CountVectorizer:
        return CountVectorizer(lowercase=True, stop_words="english", tokenizer=words, token_pattern=None, binary=True)

    reference = _best(old, english)
    ours = _best(new, english)
    segmented = _best(new, chinese)
    same = list(old().fit(english).get_feature_names_out()) == list(new().fit(english).get_feature_names_out())
    print(f"{args.n:,} English texts: old pattern {reference:.3f} s, words() {ours:.3f} s "
          f"({ours / reference:.2f}x); same vocabulary: {same}")
    print(f"{args.n:,} Chinese texts (jieba): {segmented:.3f} s ({segmented / reference:.1f}x the English reference)")


if __name__ == "__main__":
    main()
