"""Chinese shops' files: GBK/GB18030 and Big5 CSV exports, Chinese headers and event names, full-width numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main
from recsys.core import columns as C
from recsys.data.mapping import guess_mapping
from recsys.data.read import load_table
from recsys.data.validate import to_number
from recsys.workspace.store import Workspace

HEADER = "会员编号,优惠券ID,下单时间,行为,订单金额,数量,订单号,门店"
EVENTS = ("浏览", "点击", "领取", "核销", "购买")
SHOPS = ("北京朝阳店", "上海徐汇店", "广州天河店")
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def chinese_export(n: int = 400, seed: int = 0) -> str:
    """What a Chinese shop's order/coupon export looks like: Chinese headers, events and shop names,
    slash dates, a few amounts typed with full-width digits and a yuan sign."""
    rng = np.random.default_rng(seed)
    rows = [HEADER]
    for i in range(n):  # building a small test file, not processing data
        event = EVENTS[rng.integers(len(EVENTS))]
        amount = f"{rng.integers(10, 500)}.{rng.integers(0, 100):02d}" if event in ("购买", "核销") else ""
        if amount and i % 25 == 7:
            amount = "￥" + amount.translate(FULL_WIDTH)
        rows.append(f"M{rng.integers(1, 60):05d},Q{rng.integers(1, 12):03d},2024/{rng.integers(1, 13)}/"
                    f"{rng.integers(1, 28)} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d},{event},{amount},"
                    f"{1 if amount else ''},D{i:06d},{SHOPS[i % 3]}")
    return "\r\n".join(rows) + "\r\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_chinese_csv_reads_with_its_encoding(tmp_path, encoding):
    path = tmp_path / "订单.csv"
    path.write_bytes(chinese_export().encode(encoding))
    loaded = load_table(path, "订单.csv")
    assert loaded.encoding == {"gbk": "gb18030", "gb18030": "gb18030"}.get(encoding, encoding)
    assert list(loaded.frame.columns) == HEADER.split(",")
    assert set(loaded.frame["门店"]) == set(SHOPS)


def test_big5_traditional_chinese_reads_as_big5(tmp_path):
    text = "會員編號,商品編碼,下單時間,訂單金額\r\n" + "".join(
        f"M{i},S{i % 7},2024-01-{i % 28 + 1:02d},{i}\r\n" for i in range(50))
    path = tmp_path / "訂單.csv"
    path.write_bytes(text.encode("big5"))
    loaded = load_table(path, "訂單.csv")
    assert loaded.encoding == "big5"
    assert list(loaded.frame.columns) == ["會員編號", "商品編碼", "下單時間", "訂單金額"]


def test_latin1_files_are_not_taken_for_chinese(tmp_path):
    text = "Kunde;Artikel;Stadt\r\n" + "".join(f"K{i};A{i};{c}\r\n" for i, c in enumerate(
        ["Müller", "Zürich", "Besançon", "Malmö", "Straße", "Ærø", "São Paulo"] * 5))
    path = tmp_path / "kunden.csv"
    path.write_bytes(text.encode("cp1252"))
    loaded = load_table(path, "kunden.csv")
    assert loaded.encoding == "cp1252"
    assert "Müller" in set(loaded.frame["Stadt"])


def test_chinese_headers_are_guessed():
    assert guess_mapping(HEADER.split(","), "interactions") == {
        C.USER_ID: "会员编号", C.ITEM_ID: "优惠券ID", C.EVENT: "行为", C.TIMESTAMP: "下单时间",
        C.VALUE: "订单金额", C.QUANTITY: "数量", C.ORDER_ID: "订单号",
    }
    assert guess_mapping(["用户ID", "商品编码", "时间", "事件", "金额"], "interactions") == {
        C.USER_ID: "用户ID", C.ITEM_ID: "商品编码", C.EVENT: "事件", C.TIMESTAMP: "时间", C.VALUE: "金额",
    }
    assert guess_mapping(["客户编号", "券ID", "日期"], "interactions") == {
        C.USER_ID: "客户编号", C.ITEM_ID: "券ID", C.TIMESTAMP: "日期"}


def test_full_width_and_yuan_amounts_are_numbers():
    values = pd.Series(["￥１，２３４．５０", "128元", "RMB 30", "３０", "12.5", "满200减30"], dtype=object)
    numbers, bad = to_number(values)
    assert numbers.iloc[:5].tolist() == [1234.5, 128.0, 30.0, 30.0, 12.5]
    assert bad.tolist() == [False] * 5 + [True]  # text stays refused, with the usual clear message


def test_gbk_export_imports_through_the_cli_with_the_mapping_guessed(tmp_path, capsys):
    path = tmp_path / "订单.csv"
    path.write_bytes(chinese_export().encode("gbk"))
    ws_path = tmp_path / "ws"
    assert main(["import", "--lang", "zh_CN", "--workspace", str(ws_path), "--interactions", str(path)]) == 0
    out = capsys.readouterr().out
    assert "已导入数据集" in out and "会员编号 -> user_id" in out and "优惠券ID -> item_id" in out
    ws = Workspace(ws_path)
    (info,) = ws.datasets()
    dataset = ws.load_dataset(info.id)
    frame = dataset.interactions
    assert frame[C.USER_ID].str.startswith("M").all()
    # Chinese event names become the canonical events (购买 -> purchase, 核销 -> redeem, ...)
    assert set(frame[C.EVENT]) == {C.VIEW, C.CLICK, C.REDEEM, C.PURCHASE}
    bought = frame[frame[C.EVENT].isin([C.PURCHASE, C.REDEEM])]
    assert bought[C.VALUE].notna().all() and (bought[C.VALUE] > 0).all()  # full-width amounts included
    assert frame[C.TIMESTAMP].notna().all()
