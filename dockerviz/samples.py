"""The bundled sample: a real `docker save` archive of a small image, and how it was made.

With a daemon, the sample is loaded into it (`docker load`) and analysed
live; without one, the archive itself is analysed. `python -m dockerviz.samples
record` rebuilds the archive on a real engine (it needs Debian's
busybox-static for a FROM-scratch image: no registry is involved).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import tarfile
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
SAMPLE_ARCHIVE = DATA_DIR / "sample-image.tar.gz"
SAMPLE_TAG = "dockerviz-sample:latest"
SAMPLE_TAG_V1 = "dockerviz-sample:1"

# A small app image with the classic mistakes in it: a download deleted in a
# later step, a file rewritten only to change its mode, a cache left behind.
SAMPLE_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL org.opencontainers.image.title="dockerviz sample app"
ENV APP_HOME=/app APP_MODE=demo
RUN mkdir -p /app/data /tmp/download && head -c 262144 /dev/urandom > /tmp/download/dataset.bin \\
    && cp /tmp/download/dataset.bin /app/data/dataset.bin
COPY app.sh /app/app.sh
RUN rm -rf /tmp/download
RUN chmod 755 /app/app.sh && mkdir -p /var/cache/app && head -c 65536 /dev/urandom > /var/cache/app/index.db
WORKDIR /app
CMD ["/app/app.sh"]
"""

SAMPLE_APP = """\
#!/bin/sh
# A tiny service: counts what is in its data folder, then waits.
echo "app mode: $APP_MODE"
ls -l "$APP_HOME/data"
exec sleep 3600
"""


def sample_archive() -> str:
    return str(SAMPLE_ARCHIVE)


def sample_image(*, engine=None) -> str:
    """The bundled sample image: loaded into the daemon when one answers (and not there yet),
    as dockerviz-sample:latest, which is returned; without a daemon, the path of its archive."""
    return sample_source(engine=engine)


def sample_source(*, live: bool | None = None, engine=None) -> str:
    """What to analyse when the user names nothing: the sample in the daemon, else the archive."""
    from .engine import as_engine, daemon_available, translated

    eng = as_engine(engine)
    if live is None:
        live = daemon_available(eng)
    if not live:
        return sample_archive()
    client = eng.client(timeout=None)
    with translated(SAMPLE_TAG, engine=eng):
        try:
            client.api.inspect_image(SAMPLE_TAG)
        except Exception as exc:  # not loaded yet: load the bundled archive
            from docker.errors import ImageNotFound

            if not isinstance(exc, ImageNotFound):
                raise
            with gzip.open(SAMPLE_ARCHIVE, "rb") as f:
                client.api.load_image(f.read())
    return SAMPLE_TAG


def _context(busybox: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in (("Dockerfile", SAMPLE_DOCKERFILE.encode(), 0o644),
                                 ("app.sh", SAMPLE_APP.encode(), 0o644),
                                 ("busybox", Path(busybox).read_bytes(), 0o755)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def record(busybox: str = "/bin/busybox", out: Path = SAMPLE_ARCHIVE) -> str:
    """Build the sample image on the daemon and write its compressed `docker save` archive."""
    from . import engine
    from .errors import BuildError

    if not os.path.exists(busybox):
        raise SystemExit(f"{busybox} is missing: install Debian's busybox-static (apt-get install busybox-static).")
    client = engine.client(timeout=None)
    image_id = None
    for msg in client.api.build(fileobj=io.BytesIO(_context(busybox)), custom_context=True, tag=SAMPLE_TAG,
                                network_mode="none", rm=True, forcerm=True, nocache=True, decode=True):
        if "error" in msg:
            raise BuildError(msg["error"])
        if "aux" in msg and "ID" in msg["aux"]:
            image_id = msg["aux"]["ID"]
    client.api.tag(image_id, SAMPLE_TAG_V1.split(":")[0], SAMPLE_TAG_V1.split(":")[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with gzip.GzipFile(tmp, "wb", mtime=0) as gz:
        for chunk in client.api.get_image(SAMPLE_TAG):
            gz.write(chunk)
    shutil.move(tmp, out)
    return str(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["record"]:
        print(record(*sys.argv[2:3]))
    else:
        print(sample_source())
