"""Which address a request comes from: for the console's login throttling and audit log, and
the REST channel's message limits.

Directly, the connection's peer (request.ip). Behind a reverse proxy every request comes from the
proxy, so when the peer is one of the trusted proxies (CONSOLE_TRUSTED_PROXIES for the console,
CHAT_TRUSTED_PROXIES for the chat: comma-separated addresses or networks such as 10.0.0.0/24;
empty by default) the client is the right-most address in X-Forwarded-For
that is not itself a trusted proxy: the entries to its right were written by trusted proxies,
anything to its left may have been typed by the client. From any other peer the header is
ignored, so nobody can pick the address they are counted under.
"""
import ipaddress
from typing import Iterable, Optional, Tuple, Union

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
MAX_HOPS = 30  # X-Forwarded-For entries looked at, from the right


def parse_trusted(value: Optional[str], setting: str = "CONSOLE_TRUSTED_PROXIES"
                  ) -> Tuple[Network, ...]:
    """A trusted-proxies setting as networks (an address is a network of one); ValueError names
    the setting and the entry that is neither."""
    networks = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {item[:60]!r} is not an IP address or "
                             "network") from None
    return tuple(networks)


def parse_address(text: str) -> Optional[Address]:
    """An IPv4 or IPv6 address, also written with a port ("1.2.3.4:80", "[::1]:80"); IPv4-mapped
    IPv6 addresses become IPv4. None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address, trusted: Tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Tuple[Network, ...]) -> str:
    """The client's address, as text. `forwarded_for`: the X-Forwarded-For header lines, in
    the order received."""
    nearest = parse_address(peer or "")
    if nearest is None:
        return peer or "unknown"  # not an IP connection: nothing to look further into
    if not is_trusted(nearest, trusted):
        return str(nearest)
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops[-MAX_HOPS:]):
        address = parse_address(hop)
        if address is None:
            break  # not an address: keep the last one a trusted proxy vouched for
        nearest = address
        if not is_trusted(address, trusted):
            break
    return str(nearest)
