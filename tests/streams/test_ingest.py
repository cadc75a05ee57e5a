"""The real ingest path: Debian's nginx with the RTMP module in front of the running app,
fed by ffmpeg. nginx calls the hooks over HTTP, writes HLS, and serves it; the test watches
the database and the HLS server. Its nginx config is the one in docs/ingest.md.

Needs nginx, libnginx-mod-rtmp and ffmpeg (`make media-tools`). Without them the tests are
skipped with the reason, except with REQUIRE_MEDIA_TOOLS set (CI), where they fail.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from streams import services
from streams.models import Stream
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
RTMP_MODULE = os.environ.get("NGINX_RTMP_MODULE", "/usr/lib/nginx/modules/ngx_rtmp_module.so")
POLL = 0.1


@dataclass(frozen=True)
class MediaTools:
    nginx: str
    rtmp_module: str
    ffmpeg: str


@pytest.fixture(scope="session")
def media_tools() -> MediaTools:
    ffmpeg = shutil.which("ffmpeg")
    missing = [
        what
        for what, present in (
            (f"nginx ({NGINX})", os.access(NGINX, os.X_OK)),
            (f"nginx's RTMP module ({RTMP_MODULE})", os.path.isfile(RTMP_MODULE)),
            ("ffmpeg", ffmpeg is not None),
        )
        if not present
    ]
    if missing:
        reason = (
            f"no {', '.join(missing)}: install Debian's nginx-light, libnginx-mod-rtmp and "
            "ffmpeg (make media-tools)"
        )
        if os.environ.get("REQUIRE_MEDIA_TOOLS"):
            pytest.fail(f"REQUIRE_MEDIA_TOOLS is set and there is {reason}")
        pytest.skip(reason)
    return MediaTools(nginx=NGINX, rtmp_module=RTMP_MODULE, ffmpeg=ffmpeg)


def nginx_conf(*, root: Path, rtmp_module: str, rtmp_port: int, http_port: int, app: str) -> str:
    """Everything nginx writes (pid, logs, temp files, HLS) stays under root, so it runs
    without touching /etc or /var. master_process off keeps it one process: nothing is
    left behind if it is killed, and no worker switches to another user who could not
    write into the test's private temporary directory."""
    return f"""
load_module {rtmp_module};
daemon off;
master_process off;
error_log {root}/error.log info;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}

rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        # Publishers connect here with the stream key as the stream name. on_publish
        # answers 302 with the live's id: nginx-rtmp renames the stream, and the push
        # below carries it to the hls application under that id.
        application live {{
            live on;
            record off;
            deny play all;
            on_publish {app}/hooks/rtmp/publish;
            on_publish_done {app}/hooks/rtmp/publish_done;
            push rtmp://127.0.0.1:{rtmp_port}/hls;
        }}
        # HLS is written here and not in `live`: nginx-rtmp's HLS module takes the stream
        # name before on_publish renames it, so in `live` the files would be named after
        # the secret key.
        application hls {{
            live on;
            record off;
            allow publish 127.0.0.1;
            deny publish all;
            deny play all;
            hls on;
            hls_path {root}/hls;
            hls_fragment 1s;
            hls_playlist_length 6s;
        }}
    }}
}}

http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{http_port};
        root {root}/hls;
        log_not_found off;  # the test polls for the playlist: keep 404s out of error.log
        add_header Cache-Control no-cache;
    }}
}}
"""


@dataclass
class Ingest:
    rtmp_url: str
    hls_base: str
    hls_dir: Path
    root: Path
    tools: MediaTools
    processes: list[subprocess.Popen] = field(default_factory=list)

    def publish(self, name: str, *, seconds: int) -> subprocess.Popen:
        """Push a synthetic stream (test card and a tone) as `name`, in the background."""
        log = (self.root / f"ffmpeg-{len(self.processes)}.log").open("wb")
        command = [
            self.tools.ffmpeg,
            *("-nostdin", "-hide_banner", "-loglevel", "warning", "-re"),
            *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"),
            *("-f", "lavfi", "-i", "sine=frequency=440"),
            *("-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "25"),
            *("-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv"),
            f"{self.rtmp_url}/{name}",
        ]
        with log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def logs(self) -> str:
        """The tail of nginx's and ffmpeg's logs, for failure messages."""
        parts = []
        for path in sorted(self.root.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def hls_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.hls_dir)) for p in self.hls_dir.rglob("*"))


def _stop(process: subprocess.Popen, *, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_port(port: int, process: subprocess.Popen, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(POLL)


@pytest.fixture
def reads_beside_the_app(transactional_db):
    """On SQLite the test database is one in-memory database in shared-cache mode, where a
    table lock that is taken fails at once ("database table is locked") instead of waiting
    for the busy timeout: this thread's polls would fail when they meet the hook's write in
    the server's thread, and could make that write fail. Read-uncommitted readers take no
    table locks. PostgreSQL needs nothing."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 1")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 0")


@pytest.fixture
def ingest(media_tools, asgi_server, reads_beside_the_app, tmp_path, settings):
    """nginx-rtmp on free ports, calling the hooks of the real app served by asgi_server,
    and serving the HLS it writes. Stops nginx and every ffmpeg at teardown."""
    rtmp_port, http_port = free_port(), free_port()
    hls_dir = tmp_path / "hls"
    for directory in (hls_dir, tmp_path / "tmp"):
        directory.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        nginx_conf(
            root=tmp_path,
            rtmp_module=media_tools.rtmp_module,
            rtmp_port=rtmp_port,
            http_port=http_port,
            app=asgi_server,
        )
    )
    hls_base = f"http://127.0.0.1:{http_port}"
    settings.HLS_PLAYBACK_BASE_URL = hls_base
    state = Ingest(
        rtmp_url=f"rtmp://127.0.0.1:{rtmp_port}/live",
        hls_base=hls_base,
        hls_dir=hls_dir,
        root=tmp_path,
        tools=media_tools,
    )
    # -e: the error log before the config is read (Debian's default is stderr).
    with (tmp_path / "nginx-stderr.log").open("wb") as out:
        nginx = subprocess.Popen(
            [media_tools.nginx, "-c", str(conf), "-p", str(tmp_path), "-e", "error.log"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        try:
            _wait_port(rtmp_port, nginx, deadline)
            _wait_port(http_port, nginx, deadline)
        except OSError:
            pytest.fail(f"nginx did not start\n{state.logs()}")
        yield state
    finally:
        for process in state.processes:
            _stop(process, sig=signal.SIGKILL)
        # SIGQUIT: a graceful shutdown; _stop kills nginx if it takes more than 5 s.
        _stop(nginx, sig=signal.SIGQUIT)


def wait_for(check: Callable[[], object], *, seconds: float, what: str, ingest: Ingest):
    """Poll check() until it returns something truthy (returned), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}\n{ingest.logs()}")
        time.sleep(POLL)


def fetch(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise
    except urllib.error.URLError:
        return None


def status(stream: Stream) -> str:
    return Stream.objects.values_list("status", flat=True).get(pk=stream.pk)


@pytest.fixture
def scheduled(live_host):
    return services.stream_schedule(host=live_host, title="Ingest", scheduled_at=timezone.now())


def test_publishing_with_the_key_puts_the_live_on_air_serves_hls_and_ends_it(ingest, scheduled):
    stream, key = scheduled
    ffmpeg = ingest.publish(key, seconds=6)

    wait_for(lambda: status(stream) == "live", seconds=20, what="the live on air", ingest=ingest)
    stream.refresh_from_db()
    assert stream.started_at is not None
    assert stream.playback_url == f"{ingest.hls_base}/{stream.pk}.m3u8"

    # The playlist is named after the live's id (the hook's redirect), and so are its
    # segments: the secret key is in no public URL and no file name.
    playlist = wait_for(
        lambda: fetch(stream.playback_url), seconds=20, what="the HLS playlist", ingest=ingest
    ).decode()
    assert playlist.startswith("#EXTM3U")
    segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
    assert segments and all(s.startswith(f"{stream.pk}-") for s in segments)
    assert fetch(f"{ingest.hls_base}/{segments[0]}")[:1] == b"\x47"  # MPEG-TS sync byte
    files = ingest.hls_files()
    assert files and all(name.startswith(f"{stream.pk}") for name in files)
    assert not [name for name in files if key in name]
    assert status(stream) == "live"

    assert ffmpeg.wait(timeout=20) == 0, ingest.logs()
    wait_for(lambda: status(stream) == "ended", seconds=10, what="publish_done", ingest=ingest)
    stream.refresh_from_db()
    assert stream.ended_at is not None and stream.ended_reason == "publisher stopped"


def test_a_wrong_key_is_refused_and_nothing_goes_on_air(ingest, scheduled):
    stream, key = scheduled
    ffmpeg = ingest.publish(f"{key[:-4]}nope", seconds=6)

    assert ffmpeg.wait(timeout=15) != 0, ingest.logs()
    assert list(Stream.objects.values_list("pk", "status", "started_at")) == [
        (stream.pk, "scheduled", None)
    ]
    assert ingest.hls_files() == []
