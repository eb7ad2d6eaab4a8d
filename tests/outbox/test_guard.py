"""The outbound address guard (`songforge.outbox.guard`): which callback targets are refused, in
words that name no API field until a dialect names its own."""

from __future__ import annotations

import httpx
import pytest

from songforge.errors import InvalidInput
from songforge.outbox import CallbackTargetError, guard, validate_callback_url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:169.254.169.254]/",
        "https://169.254.1.1:8443/x",
    ],
)
def test_link_local_is_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(ValueError, match="link-local"):
        validate_callback_url(url, allow_private=True)
    with pytest.raises(ValueError):
        validate_callback_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://0.0.0.0/",
    ],
)
def test_private_and_loopback_need_permission(url: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        validate_callback_url(url, allow_private=False)
    validate_callback_url(url, allow_private=True)


def test_public_address_is_accepted() -> None:
    validate_callback_url("https://93.184.215.14/hook?x=1", allow_private=False)
    validate_callback_url("http://8.8.8.8:8080/", allow_private=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1/", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http:///nohost", "host"),
        ("", "non-empty"),
        ("http://example.com/" + "a" * 1100, "1024"),
        ("http://host.invalid/x", "cannot be resolved"),
        ("http://127.0.0.1:99999/", "valid URL"),
    ],
)
def test_bad_urls_get_clear_messages(url: str, message: str) -> None:
    with pytest.raises(CallbackTargetError, match=message):
        validate_callback_url(url, allow_private=True)


def test_messages_name_no_field_until_the_caller_names_one() -> None:
    with pytest.raises(CallbackTargetError) as refused:
        validate_callback_url("ftp://example.com/x", allow_private=True)
    assert isinstance(refused.value, InvalidInput)
    assert str(refused.value) == "callback URL must use http or https"
    assert refused.value.for_field("replyUrl") == "replyUrl must use http or https"
    assert not refused.value.unresolvable
    with pytest.raises(CallbackTargetError) as unresolved:
        validate_callback_url("http://host.invalid/x", allow_private=True)
    assert unresolved.value.unresolvable  # the only refusal worth asking DNS again about
    assert unresolved.value.for_field("url") == "url host 'host.invalid' cannot be resolved"


def test_pinned_request_keeps_host_and_sni() -> None:
    target = "https://user@hooks.example.com:8443/p?q=1"
    url, headers, ext = guard.pinned_request(target, "93.184.215.14")
    assert url == "https://93.184.215.14:8443/p?q=1"
    assert headers == {"host": "hooks.example.com:8443"}
    assert ext == {"sni_hostname": "hooks.example.com"}
    url6, _h, _e = guard.pinned_request("http://h.example/", "2001:db8::1")
    assert url6 == "http://[2001:db8::1]/"
    assert httpx.URL(url6).host == "2001:db8::1"
