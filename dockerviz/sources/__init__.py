"""Sources of image data, behind one interface: `open_source(x)` -> context manager -> ImageRecord."""

from __future__ import annotations

import os

from ..errors import SourceError

# Each source is imported when one is opened: naming an archive loads no daemon code.
_LAZY = {
    "ArchiveSource": ".archive_file",
    "DaemonSource": ".daemon",
    "OCILayoutSource": ".oci_layout",
    "ImageRecord": ".base",
    "LayerRef": ".base",
}

TRANSPORT_PREFIXES = ("registry://", "docker://", "docker-daemon:", "docker-archive:", "oci:", "oci-archive:")
# auto: tar-split, else overlay2-diff (local classic overlay2 store), else save-stream.
PATHS = ("auto", "tar-split", "overlay2-diff", "save-stream", "archive", "oci-layout", "registry")


def _looks_like_path(text: str) -> bool:
    # Image references contain '/' too (library/busybox); only these shapes are paths.
    return text.startswith(("/", "./", "../", "~")) or text.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst"))


def open_source(source, *, path: str = "auto", client=None, on_bytes=None, on_wait=None, on_export_size=None,
                cache=None, image: str | None = None, platform: str | None = None, registry=None):
    """Pick the source for what the user named.

    An existing directory is an OCI layout, an existing file an archive, and
    anything else an image reference for the daemon, read through `path`
    (see PATHS). `cache` lets a daemon source skip `docker save` when the
    layers and the image description are cached. `image` (a tag, ref name or
    digest) and `platform` (OS/ARCH[/VARIANT]) choose among several images in
    an archive or layout (see choose.py); `platform` also checks a daemon image
    and picks from a registry's index. A transport prefix says what is meant
    (see transports): `registry://` (read with the `registry` options),
    `docker://` and `docker-daemon:` (the daemon), `docker-archive:`,
    `oci-archive:`, `oci:` (a `:REF` after the path is the image chosen).
    """
    if path not in PATHS:
        raise SourceError(f"Unknown read path {path!r}; choose one of {', '.join(PATHS)}.")
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise SourceError(
            f"Cannot analyse {source!r}: pass an image name or id, a `docker save` archive path, "
            "an OCI layout directory, or registry://HOST/REPO:TAG."
        )
    transport = None
    if source.startswith(TRANSPORT_PREFIXES):  # parsed only then: a plain name or path loads none of it
        from .transports import parse_transport

        transport = parse_transport(source)
    if transport is not None:
        if transport.kind == "registry":
            _check_path(path, "registry", source)
            if image:
                raise SourceError(f"image={image!r} chooses among the images of an archive or OCI layout; "
                                  f"{source!r} names one image (pass platform= to pick from its index).")
            from .registry import RegistrySource

            return RegistrySource(transport.target, options=registry, platform=platform)
        named, source = source, transport.target
        image = image or transport.want
        if transport.kind != "daemon" and not os.path.exists(source):
            raise SourceError(f"No such file or directory: {source} (in {named}).")
    if path == "registry":
        raise SourceError(f"--path registry reads registry://HOST/REPO:TAG references, not {source!r}.")
    daemon = transport is not None and transport.kind == "daemon"
    if not daemon and os.path.isdir(source):
        _check_path(path, "oci-layout", source)
        from .oci_layout import OCILayoutSource

        return OCILayoutSource(source, want=image, platform=platform)
    if not daemon and os.path.isfile(source):
        _check_path(path, "archive", source)
        from .archive_file import ArchiveSource

        return ArchiveSource(source, want=image, platform=platform)
    if not daemon and _looks_like_path(source):
        raise SourceError(
            f"No such file or directory: {source}. To analyse an image in the daemon, pass its name; "
            "to analyse an archive, create it first with `docker save -o FILE IMAGE`."
        )
    if path in ("archive", "oci-layout"):
        raise SourceError(f"--path {path} needs a file or directory, but {source!r} is neither.")
    if image:
        raise SourceError(f"image={image!r} chooses among the images of an archive or OCI layout; {source!r} is "
                          "an image in the daemon already (pass platform= to check its platform).")
    from .daemon import DaemonSource

    return DaemonSource(source, client=client, on_bytes=on_bytes, on_wait=on_wait, on_export_size=on_export_size,
                        path=path, cache=cache, platform=platform)


def list_images(source, *, client=None) -> list:
    """What a source holds: choose.Candidates (images and attestations), in the source's order."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and os.path.isdir(source):
        from .oci_layout import OCILayoutSource

        return OCILayoutSource(source).candidates()
    if isinstance(source, str) and os.path.isfile(source):
        from .archive_file import ArchiveSource

        src = ArchiveSource(source)
        try:
            return src.candidates()
        finally:
            src.close()
    if isinstance(source, str) and source.startswith("registry://"):
        src = open_source(source)
        try:
            return src.candidates()
        finally:
            src.close()
    return open_source(source, client=client).candidates()


def _check_path(path: str, only: str, source: str) -> None:
    if path not in ("auto", only):
        raise SourceError(f"--path {path} reads images in a daemon; {source} is read as {only} (use --path auto).")


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = ["open_source", "list_images", "ImageRecord", "LayerRef", "ArchiveSource", "DaemonSource", "OCILayoutSource", "PATHS"]
