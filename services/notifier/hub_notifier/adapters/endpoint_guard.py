"""Webhook endpoints must be on the public internet: an agency must not be able to make the hub
send requests into its own network (server-side request forgery): loopback, private ranges,
link-local (cloud metadata at 169.254.169.254), multicast and reserved addresses are refused.

Checked when a subscription is created and again before every delivery, since a name can be
made to resolve elsewhere later. Development and tests (plain-http endpoints allowed) skip it:
their referrers' endpoints are on loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


class PrivateEndpoint(ValueError):
    """The endpoint's host is, or resolves to, an address the hub must not call."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone index
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refuse_private(addresses: Iterable[str]) -> None:
    found = list(addresses)
    if not found:
        raise PrivateEndpoint("the endpoint's host does not resolve")
    if not all(is_public(address) for address in found):
        raise PrivateEndpoint("the endpoint must be a public address, not a private or local one")


async def check_public(endpoint: str) -> None:
    """Resolve the endpoint's host and refuse it unless every address is public."""
    host = urlsplit(endpoint).hostname or ""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        refuse_private([str(literal)])
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise PrivateEndpoint("the endpoint's host does not resolve") from None
    refuse_private(str(info[4][0]) for info in infos)
