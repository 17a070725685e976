"""Reply-to addresses that carry a signed token per case and recipient.

``support+<token>@example.com``: the token names the case and the person it
was sent to, signed with the secret key (HMAC via ``django.core.signing``),
so a reply can be matched to its case without trusting the subject line, and
a forged or altered token is refused. Tokens do not expire: a customer may
answer an old mail.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

SALT = "slpdesk.mail.reply-to"


@dataclass(frozen=True)
class ReplyToken:
    case_id: int
    user_id: int


def make_token(case_id: int, user_id: int) -> str:
    """A compact, URL- and address-safe signed token for (case, recipient)."""
    value = signing.Signer(salt=SALT).sign(f"{case_id}.{user_id}")
    return value.replace(":", ".")


def read_token(token: str) -> ReplyToken | None:
    """The (case, recipient) a token was made for, or None when it is not one of ours."""
    try:
        case, user, signature = token.strip().rsplit(".", 2)
        value = signing.Signer(salt=SALT).unsign(f"{case}.{user}:{signature}")
        case_id, user_id = value.split(".")
        return ReplyToken(int(case_id), int(user_id))
    except (ValueError, signing.BadSignature):
        return None


def reply_address(base: str, case_id: int, user_id: int) -> str:
    """``support@example.com`` → ``support+<token>@example.com``."""
    local, _, domain = base.partition("@")
    return f"{local}+{make_token(case_id, user_id)}@{domain}"


def token_from_address(address: str) -> str | None:
    """The token in ``support+<token>@example.com``, if there is one."""
    local = address.strip().strip("<>").partition("@")[0]
    if "+" not in local:
        return None
    return local.split("+", 1)[1] or None


# ------------------------------------------- confirming an e-mail escalation
CONFIRM_SALT = "slpdesk.mail.escalation-confirm"


@dataclass(frozen=True)
class ConfirmToken:
    message_id: int  # the held InboundMessage
    case_id: int
    user_id: int  # the contact asked to confirm


def make_confirm_token(message_id: int, case_id: int, user_id: int) -> str:
    """A signed, timestamped token for the link that confirms a held escalation request
    (``/portal/cases/<number>/escalate/confirm/<token>/``)."""
    return signing.dumps([message_id, case_id, user_id], salt=CONFIRM_SALT)


def read_confirm_token(token: str, *, max_age) -> ConfirmToken | None:
    """What a confirmation token names, or None when it is forged, altered or older
    than ``max_age`` (a timedelta)."""
    try:
        message_id, case_id, user_id = signing.loads(token, salt=CONFIRM_SALT,
                                                     max_age=max_age)
        return ConfirmToken(int(message_id), int(case_id), int(user_id))
    except (ValueError, TypeError, signing.BadSignature):
        return None
