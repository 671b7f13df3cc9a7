"""The images of one or several engines: which layers they share, and what removing one frees.

`images_overview(engines)` reads each engine's `/system/df` (the numbers of
`docker system df -v`: SIZE, SHARED SIZE, UNIQUE SIZE, CONTAINERS) and, per
image, its layers (RootFS diff ids, chained as the daemon chains them) with
their sizes from the image history. A layer is shared when more than one of
the engine's images holds it (the daemon's rule); the same layer on another
engine is marked too, but disk is per engine, so it counts as shared only there.
"""

from __future__ import annotations

from . import engine as _engine
from .errors import DockervizError
from .sources.local_store import chain_ids

__all__ = ["ImagesOverview", "images_overview", "chain_ids", "layer_sizes"]

IMAGE_COLUMNS = ["engine", "image", "id", "tags", "size_bytes", "shared_bytes", "unique_bytes", "containers",
                 "layers", "shared_layers", "frees_bytes", "note"]
LAYER_COLUMNS = ["engine", "chain_id", "diff_id", "size_bytes", "images", "image_names", "on_engines", "created_by"]
SLOW_TIMEOUT = 300
READERS = 6

# History entries that never make a layer (classic builder "#(nop)" lines, BuildKit's bare instructions).
_METADATA = ("ENV", "CMD", "LABEL", "EXPOSE", "ENTRYPOINT", "WORKDIR", "USER", "ARG", "ONBUILD", "STOPSIGNAL",
             "HEALTHCHECK", "SHELL", "MAINTAINER", "VOLUME")


def _is_metadata(created_by: str) -> bool:
    text = (created_by or "").strip()
    if "#(nop)" in text:
        rest = text.split("#(nop)", 1)[1].strip()
        return not rest.startswith(("ADD", "COPY"))
    return text.split(" ", 1)[0].upper() in _METADATA


def layer_sizes(history: list[dict], n_layers: int) -> list[int]:
    """Sizes of the n layers, oldest first, from `docker history` (newest first, as the API gives it).

    The daemon reports each layer's size on its history entry and 0 on entries without
    a layer; a layer of 0 bytes looks like the latter, so entries are told apart by what
    made them, and the sized entries are trusted when the counts disagree."""
    oldest = list(reversed(history or []))
    sized = [int(h.get("Size") or 0) for h in oldest if int(h.get("Size") or 0) > 0]
    if len(sized) == n_layers:
        return sized
    layered = [int(h.get("Size") or 0) for h in oldest
               if int(h.get("Size") or 0) > 0 or not _is_metadata(h.get("CreatedBy", ""))]
    if len(layered) == n_layers:
        return layered
    sized = sized[-n_layers:] if n_layers else []
    return [0] * (n_layers - len(sized)) + sized


def _image_name(row: dict) -> str:
    tags = [t for t in (row.get("RepoTags") or []) if t and t != "<none>:<none>"]
    if tags:
        return tags[0]
    digests = [d for d in (row.get("RepoDigests") or []) if d and not d.startswith("<none>")]
    return digests[0] if digests else str(row.get("Id", ""))[7:19]


def _read_engine(eng) -> list[dict]:
    """One dict per image the engine's /system/df lists, with its layers."""
    from concurrent.futures import ThreadPoolExecutor

    from docker.errors import NotFound

    client = eng.client(timeout=SLOW_TIMEOUT)

    def describe(row):
        image_id = row["Id"]
        try:
            inspect = client.api.inspect_image(image_id)
            history = client.api.history(image_id)
        except NotFound:
            return None  # removed since /system/df answered
        # tags and digests as inspect gives them: Podman 4's /system/df mangles RepoTags
        row = dict(row, Id=_with_algorithm(image_id), RepoTags=list(inspect.get("RepoTags") or []),
                   RepoDigests=list(inspect.get("RepoDigests") or []))
        diff_ids = list((inspect.get("RootFS") or {}).get("Layers") or [])
        return {"row": row, "diff_ids": diff_ids, "chain_ids": chain_ids(diff_ids),
                "sizes": layer_sizes(history, len(diff_ids)), "created_by": _created_by(history, len(diff_ids))}

    try:
        with _engine.translated("the images of the engine", engine=eng):
            rows = client.api.df().get("Images") or []
            # two requests per image, answered by the daemon in parallel (the pool holds 10 connections)
            with ThreadPoolExecutor(max_workers=READERS) as pool:
                return [d for d in pool.map(describe, rows) if d is not None]
    finally:
        client.close()


def _with_algorithm(image_id: str) -> str:
    return image_id if ":" in image_id else f"sha256:{image_id}"  # Podman leaves the algorithm off


def _created_by(history: list[dict], n: int) -> list[str]:
    oldest = [h for h in reversed(history or [])
              if int(h.get("Size") or 0) > 0 or not _is_metadata(h.get("CreatedBy", ""))]
    texts = [str(h.get("CreatedBy") or "") for h in oldest][-n:] if n else []
    return [""] * (n - len(texts)) + texts


class ImagesOverview:
    """Every image of one or several engines with its shared and unique bytes.

    `images` and `layers` are pandas DataFrames; `figure()` draws the images as bars of
    their layers to scale, the shared ones in colour; in a notebook it shows itself.
    """

    def __init__(self, per_engine: dict):
        self.engines = list(per_engine)
        self._per_engine = per_engine
        self._build()

    def _build(self) -> None:
        import pandas as pd

        engines_of: dict[str, set] = {}
        for eng, images in self._per_engine.items():
            for im in images:
                for c in im["chain_ids"]:
                    engines_of.setdefault(c, set()).add(eng.name)
        image_rows, layer_rows = [], []
        self.bars = []  # per image: (engine name, image name, [(chain id, size, shared)]) for the figure
        for eng, images in self._per_engine.items():
            refs: dict[str, list[str]] = {}
            for im in images:
                for c in dict.fromkeys(im["chain_ids"]):
                    refs.setdefault(c, []).append(_image_name(im["row"]))
            seen_layer = set()
            for im in images:
                row, name = im["row"], _image_name(im["row"])
                segs = [(c, s, len(refs[c]) > 1) for c, s in zip(im["chain_ids"], im["sizes"])]
                shared = sum(s for _, s, sh in segs if sh)
                total = sum(s for _, s, _ in segs)
                containers = int(row.get("Containers") or 0)
                multi_tag = len([t for t in row.get("RepoTags") or [] if t != "<none>:<none>"]) > 1
                note = []
                if containers > 0:
                    note.append(f"used by {containers} container{'s' if containers != 1 else ''}: remove them first")
                if multi_tag:
                    note.append("several tags: `docker rmi` of one only untags")
                image_rows.append((eng.name, name, row["Id"], list(row.get("RepoTags") or []), total, shared,
                                   total - shared, max(containers, 0), len(segs),
                                   sum(1 for _, _, sh in segs if sh), total - shared, "; ".join(note)))
                self.bars.append((eng.name, name, segs))
                for i, (c, s, _) in enumerate(segs):
                    if c in seen_layer:
                        continue
                    seen_layer.add(c)
                    layer_rows.append((eng.name, c, im["diff_ids"][i], s, len(refs[c]), refs[c], len(engines_of[c]),
                                       im["created_by"][i]))
        self.images = pd.DataFrame.from_records(image_rows, columns=IMAGE_COLUMNS)
        self.images = self.images.sort_values(["engine", "size_bytes"], ascending=[True, False], kind="stable")
        self.images = self.images.reset_index(drop=True)
        self.layers = pd.DataFrame.from_records(layer_rows, columns=LAYER_COLUMNS)
        self.layers = self.layers.sort_values(["engine", "images", "size_bytes"], ascending=[True, False, False],
                                              kind="stable").reset_index(drop=True)
        for col in ("size_bytes", "shared_bytes", "unique_bytes", "containers", "layers", "shared_layers",
                    "frees_bytes"):
            self.images[col] = self.images[col].astype("int64")

    # ---- answers -------------------------------------------------------------------------

    def shared_layers(self):
        """Layers held by more than one image of an engine: how many images, how many bytes each."""
        return self.layers[self.layers.images > 1].reset_index(drop=True)

    def frees(self, image: str, engine=None) -> int:
        """Bytes that removing `image` (name or id) would free on its engine: its unique layers."""
        df = self.images
        hit = df[(df.image == image) | df.id.str.startswith(image) | df.id.str.startswith("sha256:" + image)
                 | df.tags.map(lambda t: image in t)]
        if engine is not None:
            hit = hit[hit.engine == _engine.as_engine(engine).name]
        if hit.empty:
            raise DockervizError(f"No image {image!r} in this overview; its images: {', '.join(df.image[:10])}.")
        return int(hit.iloc[0].frees_bytes)

    def describe(self) -> str:
        df = self.images
        n_eng = len(self.engines)
        total = int(self.layers.size_bytes.sum()) if len(self.layers) else 0
        shared = int(self.shared_layers().size_bytes.sum()) if len(self.layers) else 0
        from .humanize import fmt_bytes

        return (f"{len(df)} images on {n_eng} engine{'s' if n_eng != 1 else ''}: {fmt_bytes(total)} of layers "
                f"on disk, {fmt_bytes(shared)} of them in layers shared by several images")

    def __repr__(self) -> str:
        return f"<ImagesOverview {self.describe()}>"

    # ---- display -------------------------------------------------------------------------------

    def figure(self, max_images: int = 20):
        """A matplotlib Figure: one bar per image, its layers to scale, shared layers coloured."""
        from .views.overview_figure import overview_figure

        return overview_figure(self, max_images=max_images)

    def _repr_html_(self) -> str:
        from .views.overview_figure import overview_html

        return overview_html(self)


def images_overview(engines=None) -> ImagesOverview:
    """Every image of an engine (or of a list of engines: Engine, docker.DockerClient or host URL;
    default: the one the docker CLI would use) with its layers' shared and unique bytes, the
    containers using it, which layers several images share, and what removing each would free."""
    if engines is None or not isinstance(engines, (list, tuple, set)):
        engines = [engines]
    resolved = [_engine.as_engine(e) for e in engines]
    names = [e.name for e in resolved]
    if len(set(names)) < len(names):
        raise DockervizError(f"Two engines share a name in {names}: give each one, e.g. Engine(host, name='web-1').")
    return ImagesOverview({eng: _read_engine(eng) for eng in resolved})
