"""Several engines at once: one monitor over containers on two engines, the same image compared
across three (the shared daemon, the TLS daemon, Podman), and images_overview of the three checked
against the TLS daemon's own /system/df and `docker system df -v` (SIZE, SHARED SIZE, UNIQUE SIZE,
CONTAINERS): that daemon holds only what this module puts there, so its numbers do not move.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

import dockerviz
from support import TEST_LABEL, images
from support.remote import wait_for

pytestmark = pytest.mark.daemon

BUSY = images.BUSYBOX.tag


@pytest.fixture(scope="module")
def engines(docker_client, test_images, tls_daemon):
    local = dockerviz.Engine.from_client(docker_client, name="local")
    remote = dockerviz.Engine(tls_daemon.host, cert_path=str(tls_daemon.cert_path), name="tls")
    return local, remote


def _build(engine, folder, tag, line):
    folder.mkdir()
    return dockerviz.build(folder, dockerfile=f"FROM {BUSY}\n{line}\n", tag=tag, network_mode="none",
                           labels={TEST_LABEL: "1"}, engine=engine)


def test_monitor_over_containers_on_two_engines(engines):
    local, remote = engines
    name = f"dv-fleet-{uuid.uuid4().hex[:6]}"  # the same name on both engines
    opts = dict(network_mode="none", labels={TEST_LABEL: "1"}, name=name)
    with dockerviz.run(BUSY, ["sleep", "300"], engine=local, **opts) as a, \
            dockerviz.run(BUSY, ["sleep", "300"], engine=remote, **opts) as b:
        with dockerviz.monitor([a, b], keep=10) as mon:
            assert wait_for(lambda: {r[0] for r in mon.rows()} == {f"{name}@local", f"{name}@tls"}), mon.errors()
        df = mon.samples
        assert set(zip(df.container, df.engine)) == {(f"{name}@local", "local"), (f"{name}@tls", "tls")}
        summary = mon.usage_summary()
        assert dict(zip(summary.container, summary.engine)) == {f"{name}@local": "local", f"{name}@tls": "tls"}
        assert (summary.image_size_bytes > 0).all()
        png = mon.widget  # the figure labels each line with its engine
        assert "on 2 engines" in png.status.value and ">tls<" in png.table.value
    assert a.state == b.state == "removed"


def test_same_image_across_three_engines(engines, podman, tmp_path):
    local, remote = engines
    pod = dockerviz.Engine(podman.host, name="podman")
    df = dockerviz.compare_engines(BUSY, [local, remote, pod])
    assert list(df.engine) == ["local", "tls", "podman"]
    assert df.present.all() and df.same_id.all() and df.same_layers.all(), df
    assert (df.first_different_layer == -1).all()
    tag = f"dockerviz-test/fleet-same-tag:{uuid.uuid4().hex[:6]}"
    base_layers = int(df.layers[0])
    try:
        _build(local, tmp_path / "one", tag, "RUN echo one > /which")
        _build(remote, tmp_path / "two", tag, "RUN echo two > /which")
        df = dockerviz.compare_engines(tag, [local, remote, pod])
        assert list(df.present) == [True, True, False]
        assert list(df.same_id) == [True, False, False] and list(df.same_layers) == [True, False, False]
        assert int(df.first_different_layer[1]) == base_layers  # the busybox layers agree, the RUN layer not
    finally:
        for eng in (local, remote):
            c = eng.client()
            try:
                c.api.remove_image(tag, force=True)
            except Exception:
                pass
            c.close()


_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def _cli_bytes(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)\s*([kKMGT]?B)", text.strip())
    assert m, text
    return float(m.group(1)) * _UNITS[m.group(2)]


def test_images_overview_matches_system_df(engines, tls_daemon, podman, tmp_path):
    local, remote = engines
    pod = dockerviz.Engine(podman.host, name="podman")
    tags = [f"dockerviz-test/fleet-overview-{i}:{uuid.uuid4().hex[:6]}" for i in range(2)]
    c = remote.client(timeout=60)
    try:
        _build(remote, tmp_path / "one", tags[0], "RUN dd if=/dev/zero of=/one bs=1k count=300")
        _build(remote, tmp_path / "two", tags[1], "RUN dd if=/dev/zero of=/two bs=1k count=200")
        with dockerviz.run(tags[0], ["sleep", "300"], engine=remote, network_mode="none",
                           labels={TEST_LABEL: "1"}):
            ov = dockerviz.images_overview([local, remote, pod])
            oracle = c.api.df()
            cli = json.loads(tls_daemon.cli("system", "df", "-v", "--format", "json"))
        mine = ov.images[ov.images.engine == "tls"].set_index("id")
        assert set(mine.index) == {im["Id"] for im in oracle["Images"]}
        for im in oracle["Images"]:
            row = mine.loc[im["Id"]]
            assert (row.size_bytes, row.shared_bytes, row.unique_bytes, row.containers) == \
                (im["Size"], im["SharedSize"], im["Size"] - im["SharedSize"], im["Containers"]), row
        by_id = {im["ID"]: im for im in cli["Images"]}
        for image_id, row in mine.iterrows():
            shown = by_id[image_id]
            assert int(shown["Containers"]) == row.containers
            for col, key in (("unique_bytes", "UniqueSize"), ("shared_bytes", "SharedSize")):
                assert abs(_cli_bytes(shown[key]) - row[col]) <= max(0.001 * row[col], 1), (col, shown)
        # the busybox layers are shared by busybox and both builds; each build's own layer is unique
        base = ov.layers[(ov.layers.engine == "tls") & (ov.layers.images == 3)]
        assert len(base) >= 1 and int(base.on_engines.min()) == 3  # the same layer here and in Podman
        assert ov.frees(tags[1], engine=remote) == int(mine[mine.image == tags[1]].unique_bytes.iloc[0]) > 200_000
        used = mine[mine.image == tags[0]].iloc[0]
        assert used.containers == 1 and "remove them first" in used.note
        assert set(ov.images.engine) == {"local", "tls", "podman"}
        busybox_ids = set(ov.images[ov.images.tags.map(lambda t: f"{BUSY}:latest" in t)].id)
        assert len(busybox_ids) == 1  # one config digest on both Docker engines ...
        assert busybox_ids <= set(ov.images[ov.images.engine == "podman"].id)  # ... and Podman (algorithm added)
        html = ov._repr_html_()
        assert "<img" in html and tags[1] in html and "data:image/png;base64," in html
    finally:
        for tag in tags:
            c.api.remove_image(tag, force=True)
        c.close()


def test_overview_figure_draws_an_engine_name_literally(docker_client, test_images):
    """An engine's name is the user's text: dollar signs in it are drawn, never read as mathtext."""
    import io

    from dockerviz.overview import ImagesOverview

    named = dockerviz.Engine.from_client(docker_client, name=r"cost $\notacommand$ one")
    ov = dockerviz.images_overview([named, dockerviz.Engine.from_client(docker_client, name="plain")])
    assert isinstance(ov, ImagesOverview)
    ov.figure().savefig(io.BytesIO(), format="png")
    assert "dockerviz-images-overview" in ov._repr_html_()
