"""Optional login (st.login, OIDC) and optional per-user workspaces, in pages/shared.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages import shared

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "promolens", "client_secret": "s", "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}


def _page() -> None:
    import streamlit as st

    from pages import shared

    shared.sidebar()
    st.write(f"page body in {shared.workspace().path}")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv(shared.PER_USER_ENV, raising=False)
    return AppTest.from_function(_page, default_timeout=60)


def _body(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_without_auth_there_is_no_login(app: AppTest) -> None:
    app.run()
    assert not app.exception
    assert "page body" in _body(app)
    assert not [b for b in app.button if b.label == "Log in"]


def test_with_auth_the_page_waits_for_a_login(app: AppTest) -> None:
    app.secrets["auth"] = AUTH
    app.run()
    assert not app.exception
    assert [b.label for b in app.button] == ["Log in"]
    assert "page body" not in _body(app)


def test_a_logged_in_user_sees_the_page(app: AppTest) -> None:
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, "email": "ann@example.com"}
    app.run()
    assert not app.exception
    assert "page body" in _body(app)
    assert "Log out" in [b.label for b in app.button]


def test_per_user_workspaces_keep_users_apart(app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared.PER_USER_ENV, "1")
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, "email": "Ann@Example.com", "email_verified": True}
    app.run()
    assert not app.exception
    ann = shared.user_workspace_path((tmp_path / "ws").resolve(), "ann@example.com")
    assert f"page body in {ann}" in _body(app)
    assert "example.com" not in str(ann)  # the address is not written to disk
    assert ann != shared.user_workspace_path((tmp_path / "ws").resolve(), "bob@example.com")


def test_per_user_workspaces_without_login_refuse_to_share(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared.PER_USER_ENV, "1")
    app.run()
    assert not app.exception
    assert "page body" not in _body(app)
    assert any(shared.PER_USER_ENV in e.value for e in app.error)


def test_per_user_workspaces_key_on_issuer_and_subject_never_on_an_unverified_email(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(shared.PER_USER_ENV, "1")
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, "email": "ann@example.com"}  # anyone can claim an unverified address
    app.run()
    assert not app.exception and "page body" not in _body(app)
    assert any("verified e-mail" in e.value for e in app.error)
    app.user = {"is_logged_in": True, "email": "ann@example.com", "iss": "https://idp.example", "sub": "42"}
    app.run()
    expected = shared.user_workspace_path((tmp_path / "ws").resolve(), "https://idp.example|42")
    assert f"page body in {expected}" in _body(app)
