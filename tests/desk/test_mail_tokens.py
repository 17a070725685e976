"""Reply-to tokens: made for one case and one recipient, refused when altered."""

from slpdesk.mail.tokens import (
    ReplyToken,
    make_token,
    read_token,
    reply_address,
    token_from_address,
)


def test_a_token_names_its_case_and_recipient_and_survives_the_address(settings):
    address = reply_address("support@desk.example", 42, 7)
    assert address.startswith("support+") and address.endswith("@desk.example")
    token = token_from_address(address)
    assert read_token(token) == ReplyToken(42, 7)


def test_an_altered_or_foreign_token_is_refused(settings):
    token = make_token(42, 7)
    case, user, signature = token.rsplit(".", 2)
    assert read_token(f"43.{user}.{signature}") is None
    assert read_token(f"{case}.8.{signature}") is None
    assert read_token("garbage") is None
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    assert read_token(token) is None


def test_an_address_without_a_token():
    assert token_from_address("support@desk.example") is None
    assert token_from_address("<support+abc@desk.example>") == "abc"
