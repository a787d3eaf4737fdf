"""Download a generated file: only from public addresses (or the relay itself, or what the admin
allows), under a byte cap and a deadline, without leaking the relay key.

Why this is careful: the URLs come from the relay, which passes on what upstream services
return. A URL pointing at ``127.0.0.1``, ``10.x``, ``169.254.169.254`` (cloud metadata) and the
like would make the bot fetch from its own network and post the answer to a chat (server-side
request forgery). So every hop of a download is checked like this:

1. the host is resolved (``resolver``; the system's ``getaddrinfo`` by default);
2. unless the host is trusted by name (see ``DownloadPolicy``), EVERY address it resolves to
   must be public (``is_public``) or inside a network the admin allowed; one bad address
   refuses the URL;
3. the request is sent to that checked address itself: the URL's host is replaced by the IP,
   the ``Host`` header keeps the name, and for https the TLS server name (SNI) and the
   certificate check use the name (httpx's ``sni_hostname`` extension). A second DNS answer
   (DNS rebinding) is never asked for, so it cannot point the connection elsewhere;
4. redirects are not followed by httpx: each ``Location`` is a new hop, checked the same way,
   at most ``MAX_REDIRECTS`` of them.

Downloads use their own short-lived HTTP client without keep-alive (a connection is never
reused for another name) and without proxies from the environment (a proxy would resolve the
name itself, so the checked address would not be the one connected to).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from core.errors import MediaDownloadError, MediaRefusedError, MediaTooLargeError

__all__ = [
    "MAX_REDIRECTS",
    "DownloadPolicy",
    "Resolver",
    "fetch_media",
    "is_public",
    "same_origin",
    "system_resolver",
]

MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> IP addresses`` as strings; raises ``OSError`` when the name is unknown."""


def _origin(url: str | httpx.URL) -> tuple[str, str, int] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    scheme = parsed.scheme.lower()
    port = parsed.port or _DEFAULT_PORTS.get(scheme, 0)
    return scheme, parsed.host.lower(), port


def same_origin(url: str, other: str) -> bool:
    """True when both URLs have the same scheme, host and (effective) port."""
    mine = _origin(url)
    return mine is not None and mine == _origin(other)


def _where(url: str | httpx.URL) -> str:
    """The URL without its query (signed CDN links carry tokens there), for logs."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return "<invalid url>"
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}{parsed.path}"


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # a zone id ("fe80::1%eth0") aside
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet: not loopback, private (RFC 1918, ULA),
    link-local (incl. 169.254.169.254 metadata), carrier NAT, multicast, reserved, unspecified
    or documentation space. IPv4 inside IPv6 (mapped, NAT64, 6to4, Teredo) is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        inner: IPAddress | None = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]  # the client's address
        if inner is not None:
            return is_public(inner)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class DownloadPolicy:
    """Where results may be downloaded from, besides public addresses.

    - ``relay_root``: URLs of the relay's own origin (same scheme, host name as configured and
      port as ``relay.base_url``) are trusted by name, whatever address the name resolves to:
      the relay already gets the key, and results it serves itself (``/mj/image/<id>``) are
      expected. Another port or another name of the same machine is NOT trusted.
    - ``hosts``: names the admin trusts (``jobs.media_allow_hosts``), exact match.
    - ``networks``: addresses the admin allows (an IP or CIDR in ``jobs.media_allow_hosts``).
    """

    relay_root: str = ""
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, relay_root: str, allow: Iterable[str] = ()) -> DownloadPolicy:
        """The policy for a relay at ``relay_root`` and an allow-list of names, IPs, CIDRs."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allow:
            text = entry.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if text:
                    hosts.add(text)
        return cls(relay_root, frozenset(hosts), tuple(networks))

    def trusts_name(self, url: str | httpx.URL) -> bool:
        """Whether ``url`` is fetched without looking at its addresses."""
        origin = _origin(url)
        if origin is None:
            return False
        return (bool(self.relay_root) and origin == _origin(self.relay_root)) or (
            origin[1].rstrip(".") in self.hosts
        )

    def allows(self, address: IPAddress) -> bool:
        """Whether a download may connect to ``address`` (a name not trusted)."""
        return is_public(address) or any(address in net for net in self.networks)

    def may_show(self, url: str) -> bool:
        """Whether ``url`` may be shown to users as a link: not a literal non-public address
        or a ``localhost`` name (unless trusted). Names are not resolved here."""
        origin = _origin(url)
        if origin is None:
            return False
        if self.trusts_name(url):
            return True
        host = origin[1].rstrip(".")
        literal = _ip(host)
        if literal is not None:
            return self.allows(literal)
        return host != "localhost" and not host.endswith(".localhost")


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver (``getaddrinfo``), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


async def _addresses(
    url: httpx.URL, policy: DownloadPolicy, resolver: Resolver, where: str
) -> list[str]:
    """The checked addresses to connect to for ``url``; MediaRefusedError when not allowed."""
    host = url.raw_host.decode("ascii")
    literal = _ip(url.host)
    if literal is not None:
        found = [str(literal)]
    else:
        port = url.port or _DEFAULT_PORTS[url.scheme]
        try:
            found = [str(a) for a in await resolver(host, port)]
        except OSError as exc:
            raise MediaDownloadError(f"cannot resolve {where}: {exc.strerror or exc}") from None
        if not found:
            raise MediaDownloadError(f"cannot resolve {where}: no address")
    if policy.trusts_name(url):
        return found
    for text in found:
        address = _ip(text)
        if address is None or not policy.allows(address):
            raise MediaRefusedError(f"{where} resolves to {text}, not a public address")
    return found


async def _open(
    http: httpx.AsyncClient, url: httpx.URL, addresses: Sequence[str], headers: dict[str, str]
) -> httpx.Response:
    """GET ``url`` from the first of ``addresses`` that accepts a connection (streamed)."""
    extensions: dict[str, str] = {}
    if url.scheme == "https" and _ip(url.host) is None:
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    sent = {**headers, "Host": url.netloc.decode("ascii")}
    failed: httpx.ConnectError | None = None
    for address in addresses:
        pinned = url.copy_with(host=address.split("%", 1)[0], username=None, password=None)
        request = http.build_request("GET", pinned, headers=sent, extensions=extensions)
        try:
            return await http.send(request, stream=True)
        except httpx.ConnectError as exc:  # nothing was sent: the next address may answer
            failed = exc
    assert failed is not None
    raise failed


async def fetch_media(
    url: str,
    *,
    policy: DownloadPolicy,
    credentials: Mapping[str, str] | None = None,
    max_bytes: int,
    timeout_s: float,
    redact: Callable[[str], str] = str,
    resolver: Resolver = system_resolver,
    tls: ssl.SSLContext | None = None,
) -> tuple[bytes, str]:
    """(bytes, content type) of ``url``; streams and stops as soon as ``max_bytes`` is passed.

    ``timeout_s`` bounds the whole download, name lookups and redirects included (a slow drip
    cannot outlast it). ``credentials`` (headers) go only to the relay's own origin
    (``policy.relay_root``), on the first hop and any redirect back to it. Raises
    ``MediaRefusedError`` for an address the policy refuses (nothing is sent there),
    ``MediaTooLargeError`` and ``MediaDownloadError``. ``tls``: the certificate checks
    (default: httpx's, with the certifi roots); tests pass one that trusts their own CA.
    """
    where = redact(_where(url))
    try:
        async with asyncio.timeout(timeout_s):
            async with httpx.AsyncClient(
                trust_env=False,
                verify=tls or _ssl_context(),
                timeout=httpx.Timeout(timeout_s),
                limits=httpx.Limits(max_keepalive_connections=0),
                follow_redirects=False,
            ) as http:
                return await _follow(http, url, policy, credentials, max_bytes, redact, resolver)
    except TimeoutError:
        raise MediaDownloadError(f"no complete answer in {timeout_s:g}s from {where}") from None
    except httpx.HTTPError as exc:
        raise MediaDownloadError(redact(f"{type(exc).__name__} from {where}")) from None


async def _follow(
    http: httpx.AsyncClient,
    url: str,
    policy: DownloadPolicy,
    credentials: Mapping[str, str] | None,
    max_bytes: int,
    redact: Callable[[str], str],
    resolver: Resolver,
) -> tuple[bytes, str]:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        where = redact(_where(current))
        if _origin(current) is None or not current.lower().startswith(("http://", "https://")):
            raise MediaDownloadError(f"not an http(s) URL: {where}")
        target = httpx.URL(current)
        addresses = await _addresses(target, policy, resolver, where)
        headers = {"Accept": "*/*"}
        if credentials and policy.relay_root and same_origin(current, policy.relay_root):
            headers |= credentials
        resp = await _open(http, target, addresses, headers)
        try:
            location = resp.headers.get("location", "").strip()
            if resp.status_code in _REDIRECTS and location:
                current = str(target.join(location))
                continue
            if not resp.is_success:
                raise MediaDownloadError(
                    f"HTTP {resp.status_code} from {where}", status=resp.status_code
                )
            declared = resp.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaTooLargeError(max_bytes, f"{where} declares {declared} bytes")
            data = bytearray()
            async for chunk in resp.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise MediaTooLargeError(max_bytes, f"{where} sent more")
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            return bytes(data), ctype or "application/octet-stream"
        finally:
            await resp.aclose()
    raise MediaDownloadError(f"more than {MAX_REDIRECTS} redirects from {redact(_where(url))}")
