"""The one exception hierarchy dockerviz raises.

Every error a user can cause (bad input, no daemon, a failed build) surfaces
as a DockervizError subclass whose message says what to do next. Errors from
docker-py, tarfile or json never escape raw: they are translated at the
boundary where dockerviz calls those libraries.
"""


class DockervizError(Exception):
    """Base of every error dockerviz raises on purpose."""


class DaemonUnavailableError(DockervizError):
    """No Docker daemon answered at DOCKER_HOST or the default socket."""


class DaemonError(DockervizError):
    """The daemon answered with an error we could not map to anything finer."""


class ImageNotFoundError(DockervizError):
    """The image reference names no image in the daemon."""


class ContainerNotFoundError(DockervizError):
    """The id or name names no container in the daemon."""


class ArchiveError(DockervizError):
    """An image archive or OCI layout is truncated, corrupt or inconsistent."""


class UnsafePathError(ArchiveError):
    """An archive member is named with '..', an absolute path, or escapes by a link."""


class WhiteoutError(ArchiveError):
    """A layer holds an invalid whiteout name ('.wh.', '.wh..')."""


class SourceError(DockervizError):
    """A SOURCE argument names nothing dockerviz can read."""


class ImageChoiceError(SourceError):
    """A source holds several images and the one asked for (by name or platform) is not among them."""


class BuildError(DockervizError):
    """A build failed; carries the failing step when one is known."""

    def __init__(self, message, *, step=None, instruction=None, exit_code=None, log_tail=None):
        super().__init__(message)
        self.step = step
        self.instruction = instruction
        self.exit_code = exit_code
        self.log_tail = list(log_tail or [])
        self.result = None  # the BuildResult, when the build got as far as starting


class FileContentsError(DockervizError):
    """A file's contents cannot be given: no such file at that layer, not a regular file, or over the size cap."""


class CacheError(DockervizError):
    """The analysis cache folder cannot be used."""


class LimitError(ArchiveError):
    """An image exceeds one of dockerviz's limits on untrusted input (see dockerviz.limits)."""

    def __init__(self, message, *, limit: str | None = None):
        super().__init__(message)
        self.limit = limit


class IntegrityError(ArchiveError):
    """A layer or blob does not hash to the digest its image names: it was altered or cut short."""


class EngineTLSError(DaemonUnavailableError):
    """A TLS connection to an engine failed: a certificate is missing, untrusted or refused."""


class EngineSSHError(DaemonUnavailableError):
    """An ssh:// engine refused the key, or its host key is not trusted."""


class UnknownContextError(DockervizError):
    """DOCKER_CONTEXT, `docker context use` or Engine(context=...) names no docker context."""


class RegistryError(DockervizError):
    """A registry answered in a way dockerviz cannot use (bad manifest, unexpected status)."""


class RegistryUnavailableError(RegistryError):
    """No registry answered at the host and port named (refused, unknown host, timed out)."""


class RegistryAuthError(RegistryError):
    """The registry refused the credentials given, or asked for credentials none were found for."""


class RegistryTLSError(RegistryError):
    """The registry's TLS certificate could not be verified."""


class RegistryImageNotFoundError(RegistryError, ImageNotFoundError):
    """The repository, tag or digest is not in the registry."""


class RecordingError(DockervizError):
    """A recording cannot answer: no answer recorded for a call, an unreadable or newer file."""
