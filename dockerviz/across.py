"""The same image on several engines: same id, same digests, same layers?

One inspect per engine, no export: the image id is the config digest, the
RootFS diff ids are the layers' content, RepoDigests the registry manifests.
"""

from __future__ import annotations

from . import engine as _engine
from .errors import DockervizError, ImageNotFoundError

__all__ = ["compare_engines"]

COLUMNS = ["engine", "image", "id", "repo_digests", "layers", "size_bytes", "same_id", "same_layers",
           "first_different_layer", "shared_digests", "present"]


def _inspect(eng, image: str) -> dict | None:
    client = eng.client()
    try:
        with _engine.translated(image, engine=eng):
            return client.api.inspect_image(image)
    except ImageNotFoundError:
        return None
    finally:
        client.close()


def compare_engines(image: str, engines) -> "object":
    """A pandas DataFrame, one row per engine, comparing `image` (a name or id) there with the
    first engine that has it: same_id (the same config), same_layers (the same diff ids),
    first_different_layer (index, or -1), shared_digests (a RepoDigest in common)."""
    import pandas as pd

    resolved = [_engine.as_engine(e) for e in (engines if isinstance(engines, (list, tuple)) else [engines])]
    if not resolved:
        raise DockervizError("Give at least one engine to compare_engines().")
    found = [(eng, _inspect(eng, image)) for eng in resolved]
    if all(info is None for _, info in found):
        raise ImageNotFoundError(f"No engine of {[e.name for e in resolved]} has an image {image!r}.")
    ref = next(info for _, info in found if info is not None)
    ref_layers = list((ref.get("RootFS") or {}).get("Layers") or [])
    ref_digests = set(ref.get("RepoDigests") or [])
    rows = []
    for eng, info in found:
        if info is None:
            rows.append((eng.name, image, None, [], 0, 0, False, False, 0, False, False))
            continue
        layers = list((info.get("RootFS") or {}).get("Layers") or [])
        first = next((i for i, (a, b) in enumerate(zip(layers, ref_layers)) if a != b),
                     -1 if len(layers) == len(ref_layers) else min(len(layers), len(ref_layers)))
        digests = list(info.get("RepoDigests") or [])
        rows.append((eng.name, image, info["Id"], digests, len(layers), int(info.get("Size") or 0),
                     info["Id"] == ref["Id"], layers == ref_layers, first, bool(ref_digests & set(digests)), True))
    return pd.DataFrame.from_records(rows, columns=COLUMNS)
