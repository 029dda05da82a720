"""The CLI in Chinese: --lang / PROMOLENS_LANG / the system locale, help and import problems translated."""

from __future__ import annotations

import pytest

from recsys.cli import cli_language, main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.core import i18n


def test_cli_language_from_flag_env_then_system_locale():
    assert cli_language(["--lang", "zh_CN", "datasets"], {}) == "zh_CN"
    assert cli_language(["datasets"], {"PROMOLENS_LANG": "zh"}) == "zh_CN"
    assert cli_language(["--lang", "en", "datasets"], {"PROMOLENS_LANG": "zh_CN"}) == "en"
    assert cli_language(["datasets"], {"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert cli_language(["datasets"], {"LANG": "C.UTF-8"}) == "en"


def test_help_in_chinese(capsys):
    with pytest.raises(SystemExit):
        main(["--lang", "zh_CN", "--help"])
    out = capsys.readouterr().out
    assert "PromoLens：可解释的优惠券精准投放" in out
    assert "把交互 / 客户 / 优惠文件导入工作区" in out
    assert i18n.current_language() == "en"  # the CLI call does not leak its language


def test_import_problems_and_fixes_in_chinese(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PROMOLENS_LANG", raising=False)
    bad = tmp_path / "订单.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    code = main(["import", "--lang", "zh_CN", "--workspace", str(tmp_path / "ws"), "--interactions", str(bad)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert "数据无法导入：发现 2 个问题" in err and "没有做任何更改" in err
    assert "订单.csv：交互文件没有客户编号列（user_id）" in err
    assert "解决办法：" in err and "Fix:" not in err
    code = main(["import", "--workspace", str(tmp_path / "ws"), "--interactions", str(bad)])
    assert code == EXIT_BAD_INPUT
    assert "The data could not be imported: 2 problems found" in capsys.readouterr().err


def test_sample_locale_zh_writes_a_chinese_shop_and_leaves_the_english_one_alone(tmp_path, capsys):
    from recsys.data import synth

    small = ["--users", "200", "--items", "20", "--seed", "5"]
    assert main(["sample", "--out", str(tmp_path / "en"), *small]) == 0
    assert main(["sample", "--out", str(tmp_path / "zh"), "--locale", "zh", *small]) == 0
    capsys.readouterr()
    reference = synth.write_sample(synth.generate(n_users=200, n_items=20, seed=5), tmp_path / "reference")
    for name in ("users", "items", "interactions", "truth"):
        assert (tmp_path / "en" / reference[name].name).read_bytes() == reference[name].read_bytes(), name
    zh = tmp_path / "zh"
    assert (zh / "interactions.csv").read_bytes() == reference["interactions"].read_bytes()  # same events
    items = (zh / "items.csv").read_text(encoding="utf-8")
    users = (zh / "users.csv").read_text(encoding="utf-8")
    assert any(word in items for word in ("满减券", "折扣券", "包邮", "限时秒杀"))
    assert "价格敏感型" in users and "deal_seeker" not in users
    assert synth.load_truth(zh)["locale"] == "zh_CN"


def test_every_command_help_renders_in_chinese():
    """Each command's options are described in Chinese (argparse's own 'usage:' and 'options:' stay English)."""
    import argparse
    import re

    from recsys.cli import COMMANDS, build_parser

    with i18n.use_language("zh_CN"):
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
        for name in COMMANDS:
            text = sub.choices[name].format_help()  # fails on a broken %-placeholder
            option_lines = [line for line in text.splitlines() if re.match(r"^\s+--?\w", line) and "  " in line.strip()]
            english = [line for line in option_lines if not re.search(r"[\u4e00-\u9fff]", line)
                       and not line.strip().startswith("-h, --help")]
            assert not english, (name, english)
