"""Builds in a live notebook leave no untagged images behind."""

from __future__ import annotations

import time

__all__ = ["BuildTidy"]


class BuildTidy:
    """Removes the images a tour build leaves untagged, when nothing else names or uses them.

    Rebuilding a tag (the tour builds with nocache) leaves the previous image
    untagged, and a failing build leaves the images of the steps that worked;
    without this every run of the notebooks would add a few to `docker images`.
    An image a container or a child image still uses is kept (the daemon refuses).
    """

    def __init__(self, tags: list[str]):
        from .. import engine

        self.client = engine.client()
        self.replaced = []
        for t in tags:
            try:
                self.replaced.append(self.client.api.inspect_image(t)["Id"])
            except Exception:
                pass  # not built before
        self.before = self._untagged()
        self.started = time.time()

    def _untagged(self) -> dict[str, int]:
        """{id: created (epoch seconds)} of the daemon's untagged leaf images."""
        try:
            return {i["Id"]: int(i.get("Created") or 0) for i in self.client.api.images(filters={"dangling": True})}
        except Exception:
            return {}

    def finish(self) -> None:
        made = [i for i, created in self._untagged().items() if i not in self.before and created >= self.started - 2]
        try:
            for image_id in self.replaced + made:
                try:
                    if not self.client.api.inspect_image(image_id).get("RepoTags"):
                        self.client.api.remove_image(image_id)
                except Exception:
                    pass  # gone already, or in use: nothing to tidy
        finally:
            self.client.close()
