"""Result downloads cannot be turned against the bot's own network (SSRF), and what is posted as
a file is what it claims to be.

The fake relay runs on 127.0.0.1 (its own origin is trusted by name). Servers the bot must not
reach run on ANOTHER loopback address (127.0.0.2) or on another port reached as ``localhost``;
each records its requests, so "nothing fetched" is checked on the server side. Names such as
``cdn.test`` go through the resolver seam (no public DNS in tests).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bots.app import App
from core.config.settings import load_config
from core.errors import ConfigError, MediaDownloadError, MediaRefusedError
from core.jobs.midjourney import MjBackend
from core.jobs.suno import SunoBackend
from core.jobs.video import LUMA, VideoBackend
from core.media.fetcher import MediaFetcher, MediaLimits
from core.platform.types import AudioReply, FinalText, ImageReply, ReplyEvent, VideoReply
from core.relay.client import RelayClient
from core.relay.download import DownloadPolicy, Resolver, fetch_media, is_public
from core.relay.midjourney import MidjourneyClient
from core.relay.suno import SunoClient
from core.texts.i18n import t
from tests.conftest import TEST_KEY, collect, finished_job, message, write_config
from tests.fake_cdn import FakeCdn
from tests.fake_relay import FakeRelay, Json
from tests.fake_relay_media import png
from tests.fake_relay_video import MP4

HTML = b"<!doctype html><html><body>502 Bad Gateway</body></html>"
GONE = t("job.result_gone", "en")

boat_job = functools.partial(finished_job, prompt="a boat")  # the results' captions


@pytest.fixture
async def cdn() -> AsyncIterator[FakeCdn]:
    """A server on another loopback address than the relay's."""
    async with FakeCdn("127.0.0.2") as server:
        server.files["/a.png"] = (png(), "image/png")
        yield server


@pytest.fixture
async def local() -> AsyncIterator[FakeCdn]:
    """A server on the relay's address but another port, reached as ``localhost``."""
    async with FakeCdn("127.0.0.1") as server:
        server.files["/a.png"] = (png(), "image/png")
        yield server


@pytest.fixture
async def relay(fake_relay: FakeRelay) -> AsyncIterator[RelayClient]:
    async with RelayClient(fake_relay.url, TEST_KEY) as client:
        yield client


def resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


def dalle_answer(url: str) -> Json:
    return Json(200, {"created": 1, "data": [{"url": url}]})


def texts(events: list[ReplyEvent]) -> str:
    return "\n".join(e.text for e in events if isinstance(e, FinalText))


# -- the address check -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_policy_trusts_the_relay_origin_by_name_and_the_admin_list() -> None:
    policy = DownloadPolicy.of("http://127.0.0.1:3000", ["files.relay.lan", "10.0.0.0/8"])
    assert policy.trusts_name("http://127.0.0.1:3000/mj/image/1")
    assert not policy.trusts_name("http://127.0.0.1:6379/")  # same machine, other port
    assert not policy.trusts_name("https://127.0.0.1:3000/x")  # other scheme
    assert not policy.trusts_name("http://localhost:3000/x")  # other name of the same host
    assert policy.trusts_name("http://FILES.relay.lan/x.png")
    assert policy.allows(ipaddress.ip_address("10.9.8.7"))
    assert not policy.allows(ipaddress.ip_address("192.168.0.1"))
    assert not policy.may_show("http://192.168.0.1/x") and not policy.may_show("http://localhost/")
    assert policy.may_show("https://cdn.example.com/x.png") and policy.may_show("http://10.1.1.1/")


# -- (a) a loopback URL that is not the relay: refused, nothing fetched, a clear message ---------


@pytest.mark.parametrize("where", ["other-address", "localhost"])
async def test_loopback_result_is_refused_and_the_user_told(
    app: App,
    fake_relay: FakeRelay,
    cdn: FakeCdn,
    local: FakeCdn,
    where: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"{cdn.url}/a.png" if where == "other-address" else f"http://localhost:{local.port}/a.png"
    fake_relay.enqueue(dalle_answer(url))
    with caplog.at_level(logging.WARNING, "relaybot.media"):
        events = await collect(app, message("/img a cat"))
    assert not any(isinstance(e, ImageReply) for e in events)
    assert texts(events) == GONE  # a clear message, and the private URL is not shown
    assert cdn.requests == [] and local.requests == []
    assert "not a public address" in caplog.text


async def test_ipv4_mapped_ipv6_literal_is_refused(relay: RelayClient, local: FakeCdn) -> None:
    with pytest.raises(MediaRefusedError):
        await relay.download(
            f"http://[::ffff:127.0.0.1]:{local.port}/a.png", max_bytes=10_000, timeout_s=5
        )
    assert local.requests == []


async def test_a_name_with_one_private_address_is_refused(
    relay: RelayClient, local: FakeCdn
) -> None:
    resolve = resolver({"mixed.test": ["93.184.216.34", "127.0.0.1"]})
    policy = DownloadPolicy.of(relay.root)
    with pytest.raises(MediaRefusedError, match="127.0.0.1"):
        await relay.download(
            f"http://mixed.test:{local.port}/a.png",
            max_bytes=10_000,
            timeout_s=5,
            policy=policy,
            resolver=resolve,
        )
    assert local.requests == []


# -- (b) a redirect from an allowed URL to a loopback or private one: refused at the hop ---------


async def test_redirect_from_the_relay_to_loopback_is_refused_at_the_hop(
    app: App, fake_relay: FakeRelay, cdn: FakeCdn
) -> None:
    hop = f"{fake_relay.url}/media/redirect?to={cdn.url}/a.png"
    fake_relay.enqueue(dalle_answer(hop))
    events = await collect(app, message("/img a cat"))
    assert texts(events) == GONE and not any(isinstance(e, ImageReply) for e in events)
    assert [r.path for r in fake_relay.requests][-1] == "/media/redirect"  # the allowed hop
    assert cdn.requests == []  # the refused one was never contacted


async def test_redirect_from_an_allowed_cdn_to_loopback_or_private_is_refused(
    relay: RelayClient, cdn: FakeCdn, local: FakeCdn
) -> None:
    # cdn.test is allowed by the admin and served by the 127.0.0.2 server via the resolver seam
    table = {"cdn.test": ["127.0.0.2"], "intranet.test": ["192.168.1.20"]}
    resolve = resolver(table | {"localhost": ["127.0.0.1"]})
    fetcher = MediaFetcher(relay, MediaLimits(), allow_hosts=["cdn.test"], resolver=resolve)
    allowed = f"http://cdn.test:{cdn.port}"
    assert await fetcher.fetch(f"{allowed}/a.png", "image") == (png(), "image/png")
    assert cdn.requests[0][1]["Host"] == f"cdn.test:{cdn.port}"  # pinned address, same name
    for target in (f"http://localhost:{local.port}/a.png", "http://intranet.test/a.png"):
        redirect = f"{allowed}/redirect?to={target}"
        assert await fetcher.fetch(redirect, "image") is None
        assert not fetcher.linkable(redirect)  # led to a private address: no link either
    assert local.requests == []
    assert [path for path, _ in cdn.requests] == ["/a.png", "/redirect", "/redirect"]


async def test_redirects_are_bounded(relay: RelayClient, cdn: FakeCdn) -> None:
    policy = DownloadPolicy.of(relay.root, ["127.0.0.2"])
    with pytest.raises(MediaDownloadError, match="more than 5 redirects"):
        await relay.download(f"{cdn.url}/loop", max_bytes=1000, timeout_s=5, policy=policy)
    assert len(cdn.requests) == 6


async def test_an_unknown_name_is_a_failed_download(relay: RelayClient) -> None:
    fetcher = MediaFetcher(relay, MediaLimits(), resolver=resolver({}))
    assert await fetcher.fetch("https://nowhere.test/a.png", "image") is None
    assert fetcher.linkable("https://nowhere.test/a.png")  # a public-looking link: shown


# -- the admin's allow-list --------------------------------------------------------------------


async def test_allow_list_in_the_config_reaches_the_downloads(
    tmp_path: Path, fake_relay: FakeRelay, cdn: FakeCdn
) -> None:
    path = write_config(tmp_path, fake_relay.url, "jobs:\n  media_allow_hosts: [127.0.0.2]\n")
    async with App(load_config(path, {"RELAY_API_KEY": TEST_KEY})) as app:
        fake_relay.enqueue(dalle_answer(f"{cdn.url}/a.png"))
        events = await collect(app, message("/img a cat"))
    assert [(e.data, e.mime) for e in events if isinstance(e, ImageReply)] == [(png(), "image/png")]
    assert [p for p, _ in cdn.requests] == ["/a.png"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("[cdn.example.com, 'not a host!']", "jobs.media_allow_hosts[1]: must be a host name"),
        ("[10.0.0.0/33]", "jobs.media_allow_hosts[0]: must be a host name"),
        ("files.lan", "jobs.media_allow_hosts: must be a list"),
    ],
)
def test_allow_list_is_validated(
    tmp_path: Path, fake_relay: FakeRelay, value: str, problem: str
) -> None:
    path = write_config(tmp_path, fake_relay.url, f"jobs:\n  media_allow_hosts: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"RELAY_API_KEY": TEST_KEY})
    assert problem in str(info.value)


def test_allow_list_accepts_names_addresses_and_networks(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    value = "[Files.Relay.LAN, 10.0.0.0/8, 192.168.1.5, 'fd00::/8']"
    path = write_config(tmp_path, fake_relay.url, f"jobs:\n  media_allow_hosts: {value}\n")
    settings = load_config(path, {"RELAY_API_KEY": TEST_KEY})
    assert settings.jobs.media_allow_hosts == (
        "files.relay.lan",
        "10.0.0.0/8",
        "192.168.1.5/32",
        "fd00::/8",
    )


# -- (c) what is posted as a file is what it claims to be --------------------------------------


async def test_html_where_a_picture_was_expected_is_not_posted_as_a_photo(
    app: App, fake_relay: FakeRelay
) -> None:
    url = fake_relay.add_file(HTML, "image/png", name="lying.png")  # says png, is an error page
    fake_relay.enqueue(dalle_answer(url))
    events = await collect(app, message("/img a cat"))
    assert not any(isinstance(e, ImageReply) for e in events)
    assert texts(events) == t("job.link", "en", url=url)  # a public-looking URL: the link


@pytest.mark.parametrize(
    "body",
    [
        png()[:20] + b"\x00" * 40,  # PNG magic bytes, then garbage
        png()[:-12] + b"\x00" * 12,  # a PNG whose last chunk is broken
        b"\xff\xd8\xff",  # a JPEG signature and nothing else
        MP4,  # a clip
    ],
)
async def test_only_a_sound_picture_passes_as_one(
    relay: RelayClient, fake_relay: FakeRelay, body: bytes
) -> None:
    fetcher = MediaFetcher(relay, MediaLimits())
    url = fake_relay.add_file(body, "image/png", name="odd.png")
    assert await fetcher.fetch(url, "image") is None


async def test_mj_result_that_is_not_a_picture_or_refused(
    relay: RelayClient, fake_relay: FakeRelay, cdn: FakeCdn
) -> None:
    fetcher = MediaFetcher(relay, MediaLimits())
    mj = MjBackend(MidjourneyClient(relay), fetcher, poll_interval_s=5, deadline_s=60)
    page = fake_relay.add_file(HTML, "image/png", name="grid.png")
    events = await mj.result_events(boat_job("mj", "imagine", {"task_id": "1", "image_url": page}))
    assert events == [FinalText(t("job.link", "en", url=page), markdown=False)]
    private = f"{cdn.url}/a.png"
    events = await mj.result_events(
        boat_job("mj", "imagine", {"task_id": "1", "image_url": private})
    )
    assert events == [FinalText(GONE, markdown=False)] and cdn.requests == []
    real = fake_relay.add_file(png(), "application/octet-stream", name="grid-ok.png")
    events = await mj.result_events(boat_job("mj", "imagine", {"task_id": "1", "image_url": real}))
    assert events == [ImageReply(png(), "image/png", "#7 a boat")]  # type from the bytes


async def test_video_result_that_is_not_a_clip_goes_as_a_link(
    relay: RelayClient, fake_relay: FakeRelay, cdn: FakeCdn
) -> None:
    video = VideoBackend(
        luma=None,  # type: ignore[arg-type]
        kling=None,  # type: ignore[arg-type]
        runway=None,  # type: ignore[arg-type]
        media=MediaFetcher(relay, MediaLimits()),
        poll_interval_s=5,
        deadline_s=60,
    )
    page = fake_relay.add_file(HTML, "video/mp4", name="clip.mp4")
    events = await video.result_events(boat_job("video", LUMA, {"task_id": "t", "video": page}))
    assert events[0] == VideoReply(None, page, "video/mp4", "#7 a boat")  # the link, no file
    clip = fake_relay.add_file(MP4, "video/mp4", name="ok.mp4")
    events = await video.result_events(boat_job("video", LUMA, {"task_id": "t", "video": clip}))
    assert events[0] == VideoReply(MP4, clip, "video/mp4", "#7 a boat")
    private = f"{cdn.url}/clip.mp4"
    events = await video.result_events(boat_job("video", LUMA, {"task_id": "t", "video": private}))
    assert events == [FinalText(GONE, markdown=False)] and cdn.requests == []


async def test_suno_result_that_is_not_a_song_or_refused(
    relay: RelayClient, fake_relay: FakeRelay, cdn: FakeCdn
) -> None:
    suno = SunoBackend(
        SunoClient(relay), MediaFetcher(relay, MediaLimits()), poll_interval_s=5, deadline_s=60
    )
    page = fake_relay.add_file(HTML, "audio/mpeg", name="song.mp3")
    cover = fake_relay.add_file(HTML, "image/jpeg", name="cover.jpg")
    clip = {"id": "c1", "title": "Rain", "audio": page, "image": cover, "duration": 30}
    events = await suno.result_events(boat_job("suno", "music", {"task_id": "s", "clips": [clip]}))
    assert not any(isinstance(e, AudioReply | ImageReply) for e in events)
    assert FinalText(t("job.link", "en", url=page), markdown=False) in events
    private = {**clip, "audio": f"{cdn.url}/song.mp3", "image": f"{cdn.url}/a.png"}
    events = await suno.result_events(
        boat_job("suno", "music", {"task_id": "s", "clips": [private]})
    )
    assert FinalText(GONE, markdown=False) in events and cdn.requests == []
    song = fake_relay.add_file(b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb", "audio/mpeg")
    ok = {**clip, "audio": song, "image": ""}
    events = await suno.result_events(boat_job("suno", "music", {"task_id": "s", "clips": [ok]}))
    assert any(isinstance(e, AudioReply) and e.data.startswith(b"ID3") for e in events)


# -- https to the checked address: the certificate is still checked against the name -----------

TLS_DIR = Path(__file__).parent / "tls"  # a self-signed certificate for cdn.test (100 years)


async def test_https_goes_to_the_checked_address_and_checks_the_name() -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(TLS_DIR / "cdn-test.pem", TLS_DIR / "cdn-test.key")
    client_tls = ssl.create_default_context(cafile=str(TLS_DIR / "cdn-test.pem"))
    resolve = resolver({"cdn.test": ["127.0.0.2"], "other.test": ["127.0.0.2"]})
    async with FakeCdn("127.0.0.2", tls=server_tls) as server:
        server.files["/a.png"] = (png(), "image/png")
        policy = DownloadPolicy.of("http://relay.test", ["cdn.test", "other.test"])
        data, _ = await fetch_media(
            f"https://cdn.test:{server.port}/a.png",
            policy=policy,
            max_bytes=10_000,
            timeout_s=5,
            resolver=resolve,
            tls=client_tls,
        )
        assert data == png() and server.requests[0][1]["Host"] == f"cdn.test:{server.port}"
        with pytest.raises(MediaDownloadError):  # same address, a name the certificate lacks
            await fetch_media(
                f"https://other.test:{server.port}/a.png",
                policy=policy,
                max_bytes=10_000,
                timeout_s=5,
                resolver=resolve,
                tls=client_tls,
            )
    assert len(server.requests) == 1
