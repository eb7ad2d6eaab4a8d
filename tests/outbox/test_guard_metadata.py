"""The guard judges an IPv6 address by every IPv4 address it carries, and refuses cloud metadata
services by address or by name whatever the private-target setting: the forms that got through."""

from __future__ import annotations

import pytest

from songforge.outbox import CallbackTargetError, validate_callback_url
from songforge.outbox.guard import METADATA_ADDRESSES, embedded_ipv4

# 169.254.169.254 (a9fe:a9fe) wrapped in every standard IPv4-embedding IPv6 form.
WRAPPED_METADATA = [
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped
    "http://[::ffff:0:a9fe:a9fe]/",  # SIIT IPv4-translated
    "http://[::a9fe:a9fe]/",  # IPv4-compatible
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 well-known prefix
    "http://[64:ff9b:1:a9fe:a9:fe00::]/",  # NAT64 local-use /48
    "http://[64:ff9b:1::a9fe:a9fe]/",  # NAT64 local-use /96
    "http://[2002:a9fe:a9fe::]/",  # 6to4
    "http://[2002:a9fe:a9fe:1::1]/",
    "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo, client 169.254.169.254 (obfuscated)
]
METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://192.0.0.192/opc/v2/instance/",
    "http://[::ffff:100.100.100.200]/",
    "http://[64:ff9b::c000:c0]/",  # 192.0.0.192 through NAT64
    "http://[2002:6464:64c8::]/",  # 100.100.100.200 through 6to4
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.google.internal./computeMetadata/v1/",
    "http://metadata/",
]


@pytest.mark.parametrize("url", WRAPPED_METADATA + METADATA)
@pytest.mark.parametrize("allow_private", [True, False])
def test_metadata_is_refused_in_every_form_and_mode(url: str, allow_private: bool) -> None:
    with pytest.raises(CallbackTargetError, match="never allowed"):
        validate_callback_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[::ffff:0:a00:1]/",  # SIIT of 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    ],
)
def test_wrapped_private_addresses_need_permission(url: str) -> None:
    with pytest.raises(CallbackTargetError, match="not allowed"):
        validate_callback_url(url, allow_private=False)
    validate_callback_url(url, allow_private=True)


def test_a_public_6to4_address_is_accepted() -> None:
    validate_callback_url("http://[2002:808:808::1]/hook", allow_private=False)  # 6to4 of 8.8.8.8


def test_embedded_ipv4_reads_rfc_6052_examples() -> None:
    import ipaddress

    for text in ("64:ff9b:1:c000:2:2100::", "64:ff9b:1:c0:0:221::", "64:ff9b:1::c000:221"):
        assert ipaddress.ip_address("192.0.2.33") in embedded_ipv4(ipaddress.IPv6Address(text))
    assert ipaddress.ip_address("169.254.169.254") in METADATA_ADDRESSES
