"""reclaimable_bytes against an oracle computed with tarfile alone.

reclaimable = (bytes of regular files in the image's layer tars, from
`docker save`, every layer of the manifest counted, a layer that repeats an
earlier one included: the image really carries it twice, and `docker images`
counts it twice; hard-link members not counted)
minus (bytes of regular files in `docker export` of a container created, not
started, from the image, hard-link members not counted): what the layers carry
that the final filesystem does not show.

One correction: a container's root also has the daemon's init layer, which
puts empty files at /etc/hostname, /etc/hosts, /etc/resolv.conf, /.dockerenv
and /dev/console over whatever the image has there (moby daemon/initlayer).
The export's entries at those paths are therefore replaced by the image's own
final regular-file sizes there, read from the layers.
"""

from __future__ import annotations

import contextlib
import posixpath
import tarfile

import pytest

from support import TEST_LABEL, images

IMAGES = [*images.PARITY_IMAGES, *images.DEBIAN_IMAGES]


def _id(tag: str) -> str:
    return tag.split("/", 1)[1]


# paths the daemon's init layer writes as (empty) regular files
INIT_LAYER_FILES = ("/.dockerenv", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/console")


def _path(member: tarfile.TarInfo) -> str:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return "/" + name.strip("/")


def regular_bytes(tar: tarfile.TarFile, skip: tuple = ()) -> int:
    """Sum of sizes of regular-file members; hard links (type '1') are not regular."""
    return sum(m.size for m in tar if m.isreg() and _path(m) not in skip)


def layers_bytes(archive) -> int:
    return sum(regular_bytes(tar) for _i, _diff_id, tar in images.saved_layers(archive))


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def image_bytes_at(archive, paths) -> int:
    """Regular-file bytes the image itself ends with at these exact paths (layers applied in order)."""
    size = dict.fromkeys(paths, 0)
    for _i, _diff_id, tar in images.saved_layers(archive):
        members = [(_path(m), m) for m in tar]
        for name, _m in members:  # an opaque marker hides lower children before the layer's own entries
            if posixpath.basename(name) == ".wh..wh..opq":
                for p in size:
                    if _under(p, posixpath.dirname(name)) and p != posixpath.dirname(name):
                        size[p] = 0
        for name, m in members:
            base, parent = posixpath.basename(name), posixpath.dirname(name)
            if base.startswith(".wh."):
                if not base.startswith(".wh..wh."):
                    gone = posixpath.join(parent, base[4:])
                    for p in size:
                        if _under(p, gone):
                            size[p] = 0
                continue
            for p in size:
                if p == name:
                    size[p] = m.size if m.isreg() else 0
                elif _under(p, name) and not m.isdir():
                    size[p] = 0  # an ancestor became a file or a link
    return sum(size.values())


def exported_bytes(client, tag: str, folder) -> int:
    """Regular-file bytes of `docker export`, init-layer paths left out."""
    container = client.containers.create(
        tag,
        command=["/bin/true"],  # never started; some test images have no CMD
        network_mode="none",
        labels={TEST_LABEL: "1"},
    )
    try:
        path = folder / "export.tar"
        with open(path, "wb") as f:
            for chunk in container.export(chunk_size=1 << 20):
                f.write(chunk)
        with tarfile.open(path, mode="r|") as tar:
            return regular_bytes(tar, skip=INIT_LAYER_FILES)
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)


@pytest.fixture(scope="module")
def oracle(docker_client, saved_archive, tmp_path_factory):
    cache = {}

    def compute(tag):
        if tag not in cache:
            folder = tmp_path_factory.mktemp("export")
            archive = saved_archive(tag)
            in_layers = layers_bytes(archive)
            in_final = exported_bytes(docker_client, tag, folder) + image_bytes_at(archive, INIT_LAYER_FILES)
            (folder / "export.tar").unlink(missing_ok=True)
            cache[tag] = in_layers - in_final
        return cache[tag]

    return compute


def test_oracle_on_busybox_is_zero(oracle):
    # COPY busybox, then only symlinks: nothing is hidden
    assert oracle(images.BUSYBOX.tag) == 0


def test_oracle_keeps_image_files_under_init_layer(saved_archive):
    # the Debian root has its own non-empty /etc/hostname and /etc/resolv.conf
    assert image_bytes_at(saved_archive(images.DEBIAN.tag), INIT_LAYER_FILES) > 0


def test_oracle_on_parity_delete(oracle):
    # deleted file 11000, deleted dir 12000+13000, opaque dir 14000+14500,
    # overwritten 15000+19000, deleted-then-recreated 16000
    assert oracle(images.PARITY_DELETE.tag) == 11000 + 12000 + 13000 + 14000 + 14500 + 15000 + 19000 + 16000


@pytest.mark.parametrize("tag", IMAGES, ids=_id)
def test_reclaimable_matches_oracle(oracle, tag):
    import dockerviz

    assert dockerviz.analyze(tag).reclaimable_bytes == oracle(tag)


@pytest.mark.parametrize("tag", IMAGES, ids=_id)
def test_reclaimable_from_archive_matches_oracle(oracle, saved_archive, tag):
    import dockerviz

    assert dockerviz.analyze(str(saved_archive(tag))).reclaimable_bytes == oracle(tag)
