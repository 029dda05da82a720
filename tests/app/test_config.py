"""The server defaults in .streamlit/config.toml are the hardened ones a team deployment needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config

from recsys.data.files import ReadLimits

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


@pytest.fixture(scope="module")
def settings() -> dict:
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))


def test_every_option_is_one_streamlit_knows(settings: dict) -> None:
    # A misspelt key is silently ignored by Streamlit: the hardening would not be there.
    known = set(st_config.get_config_options())
    unknown = [
        f"{section}.{name}"
        for section, options in settings.items()
        for name, value in options.items()
        if not isinstance(value, dict) and f"{section}.{name}" not in known
    ]
    assert unknown == []


def test_binds_to_this_machine_only(settings: dict) -> None:
    server = settings["server"]
    assert server["address"] == "127.0.0.1"
    assert set(server["allowedHosts"]) <= {"localhost", "127.0.0.1", "::1"}


def test_xsrf_and_cors_protection_are_on(settings: dict) -> None:
    assert settings["server"]["enableXsrfProtection"] is True
    assert settings["server"]["enableCORS"] is True


def test_upload_limit_matches_the_import_guard(settings: dict) -> None:
    # maxUploadSize is in MB (Streamlit multiplies by 1024 * 1024).
    assert settings["server"]["maxUploadSize"] * 1024 * 1024 == ReadLimits().max_file_bytes


def test_no_error_details_or_usage_statistics_leave_the_server(settings: dict) -> None:
    assert settings["client"]["showErrorDetails"] == "none"
    assert settings["client"]["showErrorLinks"] is False
    assert settings["browser"]["gatherUsageStats"] is False


def test_no_developer_conveniences_in_a_deployment(settings: dict) -> None:
    server = settings["server"]
    assert server["enableStaticServing"] is False
    assert server["runOnSave"] is False
    assert server["fileWatcherType"] == "none"
    # "viewer" hides rerun, clear cache and deploy but keeps the toolbar: the running indicator and Stop.
    # "minimal" would hide those too (no menu items set), so a long step looks frozen.
    assert settings["client"]["toolbarMode"] == "viewer"
