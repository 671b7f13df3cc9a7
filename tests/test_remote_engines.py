"""Remote engines: every feature over TCP+TLS and over SSH, docker contexts, and the errors
for a bad certificate, a refused key and an unknown context.

Real components (tests/support/remote.py): a second dockerd on a --tlsverify TCP port with
its own data root (holding the busybox test image, moved there by `docker save | load`), and
openssh-server on loopback reaching the shared daemon over ssh://. The environment is set the
way a user sets it (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, HOME with ~/.ssh).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

import dockerviz
from dockerviz.errors import EngineSSHError, EngineTLSError, UnknownContextError
from support import TEST_LABEL, images
from support.remote import make_ca, wait_for

pytestmark = pytest.mark.daemon

BUSY = images.BUSYBOX.tag
DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "DOCKER_CONFIG")


def _clear(monkeypatch):
    for k in DOCKER_ENV:
        monkeypatch.delenv(k, raising=False)


@pytest.fixture(params=["tls", "ssh"])
def remote_env(request, monkeypatch):
    """The environment of a user whose DOCKER_HOST is a TLS daemon or an ssh:// host."""
    _clear(monkeypatch)
    if request.param == "tls":
        daemon = request.getfixturevalue("tls_daemon")
        for k, v in daemon.env.items():
            monkeypatch.setenv(k, v)
        return daemon.host
    server = request.getfixturevalue("ssh_server")
    monkeypatch.setenv("HOME", str(server.home))
    monkeypatch.setenv("DOCKER_HOST", server.host)
    return server.host


def test_analysis_through_the_save_stream(remote_env, saved_archive):
    img = dockerviz.analyze(BUSY, cache=False, progress=lambda p: None)
    assert img.path == "save-stream"  # not this machine's store, even where it is readable
    oracle = dockerviz.analyze(str(saved_archive(BUSY)), cache=False, progress=lambda p: None)
    assert img.diff_ids == oracle.diff_ids
    # layer ids are the engine's own naming (v1 ids before API 1.44, diff-id hex after): compare the rest
    def rows(image):
        return [{k: v for k, v in row.items() if k not in ("id", "layer_id")} for row in image.layer_rows()]

    assert rows(img) == rows(oracle)
    assert (img.size_bytes, img.efficiency) == (oracle.size_bytes, oracle.efficiency)
    # file contents come from the same engine, by a second pass over its save stream
    data = img.read("/bin/busybox", max_bytes=8 << 20)
    assert data[:4] == b"\x7fELF" and data == oracle.read("/bin/busybox", max_bytes=8 << 20)


def test_build_run_lifecycle_events_and_monitor(remote_env, tmp_path):
    engine = dockerviz.Engine()
    assert engine.host == remote_env
    tag = f"dockerviz-test/remote-build:{uuid.uuid4().hex[:8]}"
    dockerfile = f'FROM {BUSY}\nRUN echo built-remotely > /hello\nCMD ["sleep", "1000"]\n'
    result = dockerviz.build(tmp_path, dockerfile=dockerfile, tag=tag, network_mode="none",
                             labels={TEST_LABEL: "1"})
    client = engine.client(timeout=60)
    try:
        assert client.api.inspect_image(tag)["Id"] == result.image_id  # built there, not here
        with dockerviz.run(tag, network_mode="none", labels={TEST_LABEL: "1"}) as view:
            assert view.engine == engine and view.state == "running"
            seen = []
            view.on_change(lambda v: seen.append(v.state))
            client.api.pause(view.id)  # behind the view's back: only the events stream can tell it
            assert wait_for(lambda: view.state == "paused"), seen
            view.unpause()
            with dockerviz.monitor([view], keep=20) as mon:
                assert wait_for(lambda: len(mon.rows()) >= 2, timeout=30), mon.errors()
            df = mon.samples
            assert set(df.engine) == {engine.name} and (df.mem_bytes > 0).all()
            view.stop(timeout=1)
            assert view.state == "exited" and view.exit_code is not None
        assert view.state == "removed"
        assert not client.api.containers(all=True, filters={"id": view.id})
    finally:
        client.api.remove_image(tag, force=True)
        client.close()


# ---- contexts -----------------------------------------------------------------------------


def _cli(*args, env):
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_docker_context_use_and_DOCKER_CONTEXT(tls_daemon, tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    env = {k: v for k, v in os.environ.items() if k not in DOCKER_ENV[:4]}
    c = tls_daemon.cert_path
    _cli("context", "create", "dv-tls", "--docker",
         f"host={tls_daemon.host},ca={c / 'ca.pem'},cert={c / 'cert.pem'},key={c / 'key.pem'}", env=env)
    _cli("context", "use", "dv-tls", env=env)
    engine = dockerviz.Engine()
    assert (engine.name, engine.host) == ("dv-tls", tls_daemon.host) and "dv-tls" in engine.describe()
    img = dockerviz.analyze(BUSY, cache=False, progress=lambda p: None)
    assert img.path == "save-stream"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")  # DOCKER_CONTEXT overrides `docker context use`
    assert dockerviz.Engine().is_local
    monkeypatch.setenv("DOCKER_CONTEXT", "dv-tls")
    client = dockerviz.Engine().client()
    assert client.api.inspect_image(BUSY)["RepoTags"] == [f"{BUSY}:latest"]
    client.close()


def test_unknown_context_names_the_fix(tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONTEXT", "no-such-context")
    with pytest.raises(UnknownContextError, match="no docker context named 'no-such-context'.*DOCKER_CONTEXT"):
        dockerviz.analyze(BUSY)
    monkeypatch.delenv("DOCKER_CONTEXT")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "gone"}))
    with pytest.raises(UnknownContextError, match=r"'gone'.*config\.json.*docker context use"):
        dockerviz.container("anything")


def test_a_host_url_whose_port_is_not_a_number_is_an_error_naming_it(tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    for url in ("ssh://user@127.0.0.1:22x", "tcp://127.0.0.1:23y"):
        with pytest.raises(dockerviz.DockervizError) as err:
            dockerviz.Engine(url).client()
        assert url in str(err.value)


# ---- what the user is told when a connection is refused ---------------------------------------


def test_tls_failures_name_what_to_fix(tls_daemon, tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("DOCKER_HOST", tls_daemon.host)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    other = make_ca(tmp_path / "other")  # a CA the daemon has never heard of
    monkeypatch.setenv("DOCKER_CERT_PATH", str(other))
    with pytest.raises(EngineTLSError, match=f"does not vouch for.*{other / 'ca.pem'}|{other / 'ca.pem'} does not vouch"):
        dockerviz.analyze(BUSY)
    # the right CA, but a client certificate the daemon's CA did not sign
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name, src in (("ca.pem", tls_daemon.cert_path), ("cert.pem", other), ("key.pem", other)):
        (mixed / name).write_bytes((src / name).read_bytes())
    monkeypatch.setenv("DOCKER_CERT_PATH", str(mixed))
    with pytest.raises(EngineTLSError, match="refused this client's certificate.*--tlscacert"):
        dockerviz.run(BUSY, ["true"], network_mode="none")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DOCKER_CERT_PATH", str(empty))
    with pytest.raises(EngineTLSError, match=f"needs ca.pem, cert.pem, key.pem in {empty}.*DOCKER_CERT_PATH"):
        dockerviz.analyze(BUSY)
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_CERT_PATH")
    with pytest.raises(EngineTLSError, match="speaks TLS only.*DOCKER_TLS_VERIFY=1"):
        dockerviz.Engine().client()


def test_ssh_refused_key_and_unknown_host_key(ssh_server, tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("DOCKER_HOST", ssh_server.host)
    monkeypatch.setenv("HOME", str(ssh_server.other_home))  # a key the server does not accept
    with pytest.raises(EngineSSHError, match="refused the key for user 'root'.*authorized_keys"):
        dockerviz.analyze(BUSY)
    stranger = tmp_path / "home"
    (stranger / ".ssh").mkdir(parents=True)
    for name in ("id_ed25519", "id_ed25519.pub"):
        (stranger / ".ssh" / name).write_bytes((ssh_server.home / ".ssh" / name).read_bytes())
    monkeypatch.setenv("HOME", str(stranger))  # the right key, but the host key was never trusted
    with pytest.raises(EngineSSHError, match="not in ~/.ssh/known_hosts.*ssh-keyscan"):
        dockerviz.Engine().client()


def test_DOCKER_HOST_wins_over_contexts_as_in_the_cli(tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "missing-one"}))
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    monkeypatch.setenv("DOCKER_CONTEXT", "also-missing")
    assert dockerviz.Engine().host == "tcp://127.0.0.1:1"  # no context is read at all


def test_a_docker_py_client_names_its_engine(tls_daemon, monkeypatch):
    import docker

    _clear(monkeypatch)
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would replace the ca.pem of docker-py's own client
        monkeypatch.delenv(var, raising=False)
    c = tls_daemon.cert_path
    given = docker.DockerClient(base_url=tls_daemon.host, tls=docker.tls.TLSConfig(
        client_cert=(str(c / "cert.pem"), str(c / "key.pem")), ca_cert=str(c / "ca.pem"), verify=True))
    df = dockerviz.compare_engines(BUSY, [given])  # engine= takes a docker.DockerClient too
    assert bool(df.present[0]) and df.engine[0] == tls_daemon.host
    assert given.version()["ApiVersion"]  # dockerviz used connections of its own and left this one open
    given.close()
