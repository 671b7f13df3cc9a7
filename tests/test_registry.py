"""Images read from a real registry (Debian's docker-registry on 127.0.0.1, TLS, htpasswd) without pulling.

The oracle for every compression is the same image analysed from the daemon in
the same run; bytes are counted at the registry side (its log's
`http.response.written`), against the descriptors' sizes.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys

import pytest
from support import REPO_ROOT, images
from support import package_images as pi
from support.registry import IDENTITY_TOKEN, PASSWORD, USER, multi_platform_layout

import dockerviz
from dockerviz.cache import LayerCache
from dockerviz.errors import IntegrityError

PD = images.PARITY_DELETE.tag + ":latest"
LINKS = images.PARITY_LINKS.tag + ":latest"

# name in the registry -> (image in the daemon, how it is pushed)
PUSHES = {
    "pd:gzip": (PD, "gzip"),
    "pd:zstd": (PD, "zstd"),
    "pd:plain": (PD, "none"),
    "pd:chunked": (PD, "zstd:chunked"),
    "pd:estargz": (PD, "estargz"),
    "links:docker": (LINKS, "docker push"),
}


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory, registry):
    """A docker CLI config folder as `docker login` leaves it."""
    return registry.login_config(tmp_path_factory.mktemp("docker-config"))


@pytest.fixture(scope="module")
def opts(registry, docker_config, tmp_path_factory):
    # certs_dir: an empty folder, so the CA is trusted through ca_file only, whatever /etc/docker holds
    return {"ca_file": str(registry.ca), "docker_config": str(docker_config / "config.json"),
            "certs_dir": str(tmp_path_factory.mktemp("no-certs"))}


@pytest.fixture(scope="module")
def pushed(registry, docker_client):
    done: set = set()

    def push(name: str) -> str:
        if name not in done:
            image, how = PUSHES[name]
            if how == "docker push":
                registry.docker_push(docker_client, image, name)
            else:
                registry.skopeo_fresh(f"docker-daemon:{image}", name, how)
            done.add(name)
        return f"registry://{registry.host}/{name}"

    return push


def _without_layer_ids(img, *, diff_ids: bool = True) -> dict:
    data = img.to_dive_json(file_lists=True)
    for layer in data["layer"]:
        del layer["id"]  # dive names a layer by its legacy folder or its blob: different by source
        if not diff_ids:
            del layer["digestId"]
    for key in ("name", "source", "path", "id"):  # id: skopeo's OCI copies rewrite the config (same layers)
        del data["image"][key]
    return data


def _sizes(registry, name: str) -> tuple[int, int, list]:
    """(manifest bytes, config bytes, layer descriptors) as the registry holds them."""
    repo, tag = name.split(":")
    manifest, msize = registry.manifest(repo, tag)
    return msize, manifest["config"]["size"], manifest["layers"]


@pytest.mark.parametrize("name", list(PUSHES))
def test_registry_analysis_is_the_daemons_cold_and_warm(name, registry, pushed, opts, docker_client, tmp_path):
    ref = pushed(name)
    daemon = dockerviz.analyze(PUSHES[name][0], cache=False)
    msize, csize, layers = _sizes(registry, name)
    layer_bytes = sum(d["size"] for d in layers)
    cache = LayerCache(tmp_path / "cache")

    mark = registry.mark()
    cold = dockerviz.analyze(ref, cache=cache, registry=opts)
    got = registry.requests(mark)
    cold_bytes = registry.written(mark)
    same_tar = PUSHES[name][1] != "estargz"  # an eStargz layer's stream holds its TOC too: other diff ids
    assert _without_layer_ids(cold, diff_ids=same_tar) == _without_layer_ids(daemon, diff_ids=same_tar)
    assert (cold.diff_ids == daemon.diff_ids) == same_tar and cold.reclaimable_bytes == daemon.reclaimable_bytes
    if PUSHES[name][1] == "docker push":
        assert cold.id == daemon.id  # the Engine pushes its own config
    assert cold.efficiency == daemon.efficiency and cold.inefficient_bytes == daemon.inefficient_bytes
    assert cold.source == "registry"
    blob_bytes = cold_bytes - msize - csize
    chunked = PUSHES[name][1] in ("zstd:chunked", "estargz")
    print(f"\n{name}: cold {cold_bytes} B (layers {blob_bytes} of {layer_bytes} compressed, "
          f"{blob_bytes / layer_bytes:.4f}x), manifest {msize} B, config {csize} B, {len(got)} requests")
    if chunked:
        assert cold.path == "registry-toc"
        assert blob_bytes <= 0.05 * layer_bytes, got
    else:
        assert cold.path == "registry"
        assert blob_bytes <= layer_bytes, got
    assert all(n == 0 or s < 300 for _, s, n in got)

    mark = registry.mark()
    warm = dockerviz.analyze(ref, cache=cache, registry=opts)
    warm_bytes = registry.written(mark)
    print(f"{name}: warm {warm_bytes} B (manifest + config = {msize + csize} B)")
    assert warm.path == "cache"
    assert warm_bytes <= msize + csize
    assert _without_layer_ids(warm, diff_ids=same_tar) == _without_layer_ids(daemon, diff_ids=same_tar)


def test_multi_platform_index_reads_this_machines_image(registry, opts, tmp_path, monkeypatch):
    src = multi_platform_layout(tmp_path / "multi", PD, images.BUSYBOX.tag + ":latest")
    registry.skopeo(src, "multi:1", "--all", "--preserve-digests")
    mark = registry.mark()
    img = dockerviz.analyze(f"registry://{registry.host}/multi:1", cache=False, registry=opts)
    assert img.config.get("architecture") == "amd64"
    assert "the host's platform" in img.chosen
    manifests = [u for u, s, _ in registry.requests(mark) if "/manifests/" in u and s == 200]
    assert len(manifests) == 2, manifests  # the index and this platform's manifest; never the other one
    assert _without_layer_ids(img) == _without_layer_ids(dockerviz.analyze(PD, cache=False))
    index, _ = registry.manifest("multi", "1")
    assert len(index["manifests"]) == 2
    arm = dockerviz.analyze(f"registry://{registry.host}/multi:1", cache=False, registry=opts,
                            platform="linux/arm64")
    assert arm.config.get("architecture") == "arm64"
    assert arm.diff_ids == dockerviz.analyze(images.BUSYBOX.tag, cache=False).diff_ids
    monkeypatch.setenv("DOCKERVIZ_REGISTRY_CA", opts["ca_file"])  # what the CLI and images() read
    monkeypatch.setenv("DOCKER_CONFIG", os.path.dirname(opts["docker_config"]))
    listed = dockerviz.images(f"registry://{registry.host}/multi:1")
    assert sorted(listed["platform"]) == ["linux/amd64", "linux/arm64"]


def test_by_digest_and_verified_manifest(registry, pushed, opts):
    ref = pushed("pd:gzip")
    digest = subprocess.run(["skopeo", "inspect", "--cert-dir", str(registry.certs), "--creds", f"{USER}:{PASSWORD}",
                             "--format", "{{.Digest}}", f"docker://{registry.host}/pd:gzip"],
                            capture_output=True, text=True, check=True).stdout.strip()
    img = dockerviz.analyze(f"registry://{registry.host}/pd@{digest}", cache=False, registry=opts)
    assert img.id == dockerviz.analyze(ref, cache=False, registry=opts).id
    wrong = "sha256:" + "0" * 64
    with pytest.raises(dockerviz.RegistryImageNotFoundError, match="no image"):
        dockerviz.analyze(f"registry://{registry.host}/pd@{wrong}", cache=False, registry=opts)


def test_estargz_reads_only_footer_and_toc(registry, opts, shared_fixtures, tmp_path):
    fixture = shared_fixtures / "dive-peer-images" / "test-oci-estargz-image.tar"
    expected = json.loads((shared_fixtures / "dive-peer-images" / "test-oci-estargz-image.dive.json").read_text())
    registry.skopeo(f"oci-archive:{fixture}", "estargz:1", "--preserve-digests")
    msize, csize, layers = _sizes(registry, "estargz:1")
    cache = LayerCache(tmp_path / "cache")
    mark = registry.mark()
    img = dockerviz.analyze(f"registry://{registry.host}/estargz:1", cache=cache, registry=opts)
    got = registry.requests(mark)
    blob_bytes = registry.written(mark) - msize - csize
    assert img.path == "registry-toc"
    assert img.to_dive_json()["image"]["sizeBytes"] == expected["image"]["sizeBytes"]
    assert img.efficiency == expected["image"]["efficiencyScore"]
    assert img.inefficient_bytes == expected["image"]["inefficientBytes"]
    assert img.dive.layer_sizes == expected["layerSizes"]
    # two ranges: the 51-byte footer, then the TOC's gzip member up to it; never the file data
    blob_gets = [(u, s, n) for u, s, n in got if "/blobs/" in u and u.endswith(layers[0]["digest"])]
    assert [s for _, s, _ in blob_gets] == [206, 206], got
    assert blob_gets[0][2] == 51
    assert blob_bytes < layers[0]["size"] / 10 + 300  # the layer is tiny: its TOC is ~300 bytes of 4496
    print(f"\neStargz (dive's fixture): {blob_bytes} B of the {layers[0]['size']} B layer")
    mark = registry.mark()
    assert dockerviz.analyze(f"registry://{registry.host}/estargz:1", cache=cache, registry=opts).path == "cache"
    assert registry.written(mark) <= msize + csize


def test_bearer_token_from_a_token_service(registry, pushed, opts):
    pushed("pd:gzip")
    tok = registry.token()  # a second registry process on the same storage, asking for tokens
    before = tok.server.issued
    img = dockerviz.analyze(f"registry://{tok.host}/pd:gzip", cache=False,
                            registry={**opts, "docker_config": _config_for(tok.host, opts)})
    assert tok.server.issued > before
    assert img.diff_ids == dockerviz.analyze(PD, cache=False).diff_ids
    with pytest.raises(dockerviz.RegistryAuthError) as err:
        dockerviz.analyze(f"registry://{tok.host}/pd:gzip", cache=False,
                          registry={**opts, "docker_config": _config_for(tok.host, opts, password="wrong")})
    assert USER in str(err.value) and f"docker login {tok.host}" in str(err.value)
    # an identity token (OAuth2 refresh token) in config.json, exchanged at the token service by POST
    config = os.path.join(os.path.dirname(opts["docker_config"]), "config-identity.json")
    with open(config, "w") as f:
        json.dump({"auths": {tok.host: {"identitytoken": IDENTITY_TOKEN}}}, f)
    before = tok.server.refreshed
    img = dockerviz.analyze(f"registry://{tok.host}/pd:gzip", cache=False, registry={**opts, "docker_config": config})
    assert tok.server.refreshed > before and img.source == "registry"


def _config_for(host: str, opts: dict, *, password: str = PASSWORD, extra: dict | None = None) -> str:
    folder = os.path.dirname(opts["docker_config"])
    path = os.path.join(folder, f"config-{host.replace(':', '_')}-{password}.json")
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    with open(path, "w") as f:
        json.dump({"auths": {f"https://{host}": {"auth": auth}}, **(extra or {})}, f)
    return path


def test_auth_failures_say_who_and_how_to_log_in(registry, pushed, opts, tmp_path):
    ref = pushed("pd:gzip")
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(dockerviz.RegistryAuthError, match=r"asks for a user name and password.*docker login "
                       + registry.host.replace(".", r"\.")):
        dockerviz.analyze(ref, cache=False, registry={**opts, "docker_config": str(empty)})
    with pytest.raises(dockerviz.RegistryAuthError) as err:
        dockerviz.analyze(ref, cache=False,
                          registry={**opts, "docker_config": _config_for(registry.host, opts, password="nope")})
    assert f"user '{USER}'" in str(err.value) and f"docker login {registry.host}" in str(err.value)


def test_credential_helper(registry, pushed, opts, tmp_path, monkeypatch):
    ref = pushed("pd:gzip")
    helper = tmp_path / "bin" / "docker-credential-dvtest"
    helper.parent.mkdir()
    log = tmp_path / "asked"
    helper.write_text("#!/bin/sh\nread server\necho \"$server\" >> " + str(log) + "\n"
                      f"echo '{{\"Username\": \"{USER}\", \"Secret\": \"{PASSWORD}\"}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "dvtest"}))
    img = dockerviz.analyze(ref, cache=False, registry={**opts, "docker_config": str(config)})
    assert img.source == "registry"
    assert log.read_text().split() == [registry.host]
    # credHelpers: a helper for this registry only, winning over auths
    config.write_text(json.dumps({"credHelpers": {registry.host: "dvtest"},
                                  "auths": {registry.host: {"auth": base64.b64encode(b"x:wrong").decode()}}}))
    assert dockerviz.analyze(ref, cache=False, registry={**opts, "docker_config": str(config)}).id == img.id
    assert log.read_text().split() == [registry.host, registry.host]


def test_tls_needs_the_ca_and_says_where_to_put_it(registry, pushed, opts, tmp_path):
    ref = pushed("pd:gzip")
    no_ca = {k: v for k, v in opts.items() if k != "ca_file"}
    with pytest.raises(dockerviz.RegistryTLSError) as err:
        dockerviz.analyze(ref, cache=False, registry=no_ca)
    assert f"/etc/docker/certs.d/{registry.host}/ca.crt" in str(err.value)
    assert "cannot be verified (unable to get local issuer certificate)" in str(err.value)
    # docker's own place for it: certs.d/HOST:PORT/ca.crt
    certs = tmp_path / "certs.d" / registry.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(registry.ca.read_bytes())
    img = dockerviz.analyze(ref, cache=False, registry={**no_ca, "certs_dir": str(tmp_path / "certs.d")})
    assert img.source == "registry"
    # insecure: verification off, on request only
    assert dockerviz.analyze(ref, cache=False, registry={**no_ca, "insecure": [registry.host]}).id == img.id


def test_unknown_image_and_unreachable_registry(registry, pushed, opts):
    pushed("pd:gzip")
    with pytest.raises(dockerviz.RegistryImageNotFoundError, match="no image .*pd:nosuchtag"):
        dockerviz.analyze(f"registry://{registry.host}/pd:nosuchtag", cache=False, registry=opts)
    with pytest.raises(dockerviz.ImageNotFoundError, match="skopeo list-tags"):
        dockerviz.analyze(f"registry://{registry.host}/no/such/repo:1", cache=False, registry=opts)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(dockerviz.RegistryUnavailableError, match=f"127.0.0.1:{port}"):
            dockerviz.analyze(f"registry://127.0.0.1:{port}/pd:gzip", cache=False, registry=opts)


def test_corrupt_blob_is_refused_and_not_cached(registry, opts, tmp_path, docker_client):
    # an image of its own (a layer no other test shares), pushed, then one byte of its blob flipped on disk
    tag = f"{images.PREFIX}/registry-corrupt:{os.getpid()}"
    docker_client.images.build(fileobj=_dockerfile(f"FROM {images.BUSYBOX.tag}\nRUN echo {os.getpid()} > /mark\n"),
                               tag=tag, network_mode="none", rm=True, labels={"dockerviz.test": "1"},
                               custom_context=True)
    try:
        registry.skopeo_fresh(f"docker-daemon:{tag}", "corrupt:1", "gzip")
        registry.skopeo_fresh(f"docker-daemon:{tag}", "corrupt:diffid", "gzip", edit=_wrong_last_diff_id)
    finally:
        docker_client.images.remove(tag, force=True)
    cache = LayerCache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match=r"layer 2 .*does not match its diff id"):
        dockerviz.analyze(f"registry://{registry.host}/corrupt:diffid", cache=cache, registry=opts)
    assert WRONG_DIFF_ID.split(":")[1] not in {os.path.basename(p) for _, _, p in cache.files()}
    _, _, layers = _sizes(registry, "corrupt:1")
    before = dockerviz.analyze(f"registry://{registry.host}/corrupt:1", cache=False, registry=opts)
    blob = registry.blob_file(layers[-1]["digest"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    # the bytes of a file, asked for after the registry's copy changed under the analysis: refused, not shown
    with pytest.raises(IntegrityError, match=rf"blob of the layer {len(layers) - 1} .*corrupt or was altered.*"
                       rf"names {layers[-1]['digest']}"):
        before.read("/mark")
    cache = LayerCache(tmp_path / "cache")
    with pytest.raises(dockerviz.ArchiveError, match=rf"layer {len(layers) - 1} .*the registry's copy is corrupt.*"
                       rf"names {layers[-1]['digest']}"):
        dockerviz.analyze(f"registry://{registry.host}/corrupt:1", cache=cache, registry=opts)
    config = json.loads(registry.blob_file(_manifest_config(registry, "corrupt:1")).read_bytes())
    cached = {os.path.basename(p) for _, _, p in cache.files()}
    assert config["rootfs"]["diff_ids"][-1].split(":")[1] not in cached


# -- file contents ---------------------------------------------------------------------------

CONTENT_FILES = ["/data/overwritten.txt", "/data/phoenix.bin", "/data/keep/kept.bin", "/bin/busybox"]


@pytest.mark.parametrize("name", ["pd:gzip", "pd:zstd", "pd:plain", "pd:chunked", "pd:estargz"])
def test_file_bytes_from_every_compression_equal_docker_cp(name, registry, pushed, opts, docker_client, tmp_path):
    img = dockerviz.analyze(pushed(name), cache=False, registry=opts)
    daemon = dockerviz.analyze(PD, cache=False)
    for path in CONTENT_FILES:
        assert img.read(path) == pi.docker_cp_bytes(docker_client, PD, path), (name, path)
    assert img.preview("/bin/busybox").type.startswith("ELF")
    assert img.text("/data/overwritten.txt").endswith("appended\n")
    # an older layer's copy, and how the last layer changed the file: the daemon's local store is the oracle
    k = img.locate("/data/overwritten.txt", None)[0]
    old = img.read("/data/overwritten.txt", layer=k - 1)
    assert old == daemon.read("/data/overwritten.txt", layer=k - 1) != img.read("/data/overwritten.txt")
    d = img.file_diff("/data/overwritten.txt", k)
    new = img.read("/data/overwritten.txt")
    assert d.change == "content" and d.diff.splitlines()[2:] == pi.diff_u_hunks(old, new, tmp_path)
    assert d.diff == daemon.file_diff("/data/overwritten.txt", k).diff
    with pytest.raises(dockerviz.FileContentsError, match="is not in"):
        img.read("/data/file-to-delete")
    assert img.packages.equals(daemon.packages)


def test_links_and_hard_links_from_a_docker_push(registry, pushed, opts, docker_client):
    img = dockerviz.analyze(pushed("links:docker"), cache=False, registry=opts)
    link = img.preview("/links/sym-rel")
    assert link.kind == "symlink" and link.link == "dup-b"  # retargeted by the last layer, never followed
    with pytest.raises(dockerviz.FileContentsError, match="symbolic link"):
        img.read("/links/sym-rel")
    for path in ("/links/target.bin", "/links/hard-same-layer", "/links/hard-later-layer", "/links/dup-b"):
        assert img.read(path) == pi.docker_cp_bytes(docker_client, LINKS, path), path
    assert img.read("/links/mode.bin", layer=len(img.diff_ids) - 3) == \
        pi.docker_cp_bytes(docker_client, LINKS, "/links/mode.bin")
    assert img.packages.equals(dockerviz.analyze(LINKS, cache=False).packages)


def test_packages_and_their_database_bytes_from_a_registry(registry, opts, docker_client):
    pi.build_apk(docker_client)
    tag = pi.apk_spec().tag
    registry.skopeo_fresh(f"docker-daemon:{tag}:latest", "apk:1", "zstd")
    img = dockerviz.analyze(f"registry://{registry.host}/apk:1", cache=False, registry=opts)
    daemon = dockerviz.analyze(tag, cache=False)
    assert len(img.packages) == len(pi.APK_2) and img.packages.equals(daemon.packages)
    db = "/lib/apk/db/installed"
    assert img.read(db) == pi.docker_cp_bytes(docker_client, tag, db)
    assert img.read(db, layer=2) == daemon.read(db, layer=2) != img.read(db)
    assert [r[1:4] for r in img.package_change_rows(4)] == [r[1:4] for r in daemon.package_change_rows(4)]


def test_compare_two_registry_images_file_diff_equals_diff_u(registry, opts, docker_client, tmp_path):
    tags, want = [], []
    for i, text in enumerate(["one\\ntwo\\nthree\\n", "one\\nTWO\\nthree\\nfour\\n"]):  # printf escapes
        tag = f"{images.PREFIX}/registry-diff-{i}:{os.getpid()}"
        docker_client.images.build(
            fileobj=_dockerfile(f"FROM {images.BUSYBOX.tag}\nRUN printf '{text}' > /etc/app.conf\n"), tag=tag,
            network_mode="none", rm=True, labels={"dockerviz.test": "1"}, custom_context=True)
        tags.append(tag)
    try:
        for i, tag in enumerate(tags):
            want.append(pi.docker_cp_bytes(docker_client, tag, "/etc/app.conf"))
            registry.skopeo_fresh(f"docker-daemon:{tag}", f"diff:{i}", ["gzip", "zstd"][i])
    finally:
        for tag in tags:
            docker_client.images.remove(tag, force=True)
    between = dockerviz.compare(f"registry://{registry.host}/diff:0", f"registry://{registry.host}/diff:1",
                                registry=opts)
    d = between.file_diff("/etc/app.conf")
    assert d.change == "content" and d.diff.splitlines()[2:] == pi.diff_u_hunks(want[0], want[1], tmp_path)


def _manifest_config(registry, name: str) -> str:
    repo, tag = name.split(":")
    return registry.manifest(repo, tag)[0]["config"]["digest"]


WRONG_DIFF_ID = "sha256:" + "d1" * 32


def _wrong_last_diff_id(layout) -> None:
    """The config names a diff id the top layer does not have (manifest and index rewritten to match)."""
    import hashlib

    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    config["rootfs"]["diff_ids"][-1] = WRONG_DIFF_ID

    def put(obj) -> dict:
        data = json.dumps(obj).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": "sha256:" + digest, "size": len(data)}

    manifest["config"].update(put(config))
    index["manifests"][0].update(put(manifest))
    (layout / "index.json").write_text(json.dumps(index))


def _dockerfile(text: str):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(text.encode())
        tar.addfile(info, io.BytesIO(text.encode()))
    buf.seek(0)
    return buf


def test_skopeo_transport_prefixes(saved_archive, tmp_path):
    plain = _without_layer_ids(dockerviz.analyze(PD, cache=False))
    archive = saved_archive(PD)
    subprocess.run(["skopeo", "copy", "-q", f"docker-daemon:{PD}", f"oci:{tmp_path / 'layout'}:v1"], check=True)
    subprocess.run(["skopeo", "copy", "-q", f"docker-daemon:{PD}", f"oci-archive:{tmp_path / 'o.tar'}:v1"], check=True)
    for src in (f"docker://{PD}", f"docker-daemon:{PD}", f"docker-archive:{archive}",
                f"oci:{tmp_path / 'layout'}:v1", f"oci-archive:{tmp_path / 'o.tar'}:v1"):
        assert _without_layer_ids(dockerviz.analyze(src, cache=False)) == plain, src
    with pytest.raises(dockerviz.SourceError, match="No such file"):
        dockerviz.analyze(f"oci-archive:{tmp_path / 'missing.tar'}", cache=False)


def test_cli_analyze_and_diff_take_registry_refs(registry, pushed, opts, tmp_path):
    gzip_ref, zstd_ref = pushed("pd:gzip"), pushed("pd:zstd")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DOCKER_CONFIG": os.path.dirname(opts["docker_config"]),
           "DOCKERVIZ_CACHE_DIR": str(tmp_path / "cache")}
    probe = ("import sys, io, contextlib; from dockerviz.cli import main; buf = io.StringIO()\n"
             "with contextlib.redirect_stdout(buf): code = main(sys.argv[1:])\n"
             "heavy = [m for m in ('pandas', 'ipywidgets', 'matplotlib', 'docker') if m in sys.modules]\n"
             "print(buf.getvalue()); print('HEAVY', heavy, code, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", probe, "analyze", gzip_ref, "--json", "-", "-q"],
                         env={**env, "DOCKERVIZ_REGISTRY_CA": opts["ca_file"]}, capture_output=True, text=True,
                         check=False)
    assert "HEAVY [] 0" in out.stderr, out.stderr  # the JSON path stays light for registry sources too
    data = json.loads(out.stdout)
    assert data["image"]["source"] == "registry"
    assert data["image"]["efficiencyScore"] == dockerviz.analyze(PD, cache=False).efficiency
    out = subprocess.run([sys.executable, "-m", "dockerviz", "diff", gzip_ref, zstd_ref, "--json", "-", "-q",
                          "--registry-ca", opts["ca_file"]], env=env, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    diff = json.loads(out.stdout)
    assert diff["summary"]["shared_layers"] == diff["summary"]["layers_a"]  # same diff ids, other compression
    assert diff["files"] == []
    out = subprocess.run([sys.executable, "-m", "dockerviz", "analyze", "registry://127.0.0.1:1/x:y", "-q"],
                         env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "No registry answers at https://127.0.0.1:1" in out.stderr


def test_compare_takes_registry_refs(registry, pushed, opts):
    diff = dockerviz.compare(pushed("pd:zstd"), PD, registry=opts)
    summary = diff.comparison.summary()
    assert summary["shared_layers"] == summary["layers_a"] == summary["layers_b"]
    assert diff.comparison.a.source == "registry" and diff.comparison.b.source == "daemon"
    assert diff.comparison.file_rows() == []  # the same files: only unchanged paths would be listed, and none are


def test_plain_http_only_for_loopback(registry, pushed, opts, tmp_path):
    pushed("pd:gzip")
    host = registry.plain()  # the same storage over plain HTTP, no auth, on 127.0.0.1
    mark = registry.mark()
    img = dockerviz.analyze(f"registry://{host}/pd:gzip", cache=False, registry={"docker_config": str(tmp_path / "none")})
    assert img.diff_ids == dockerviz.analyze(PD, cache=False).diff_ids
    assert registry.written(mark) > 0  # it answered over HTTP, after HTTPS found no TLS there
    # the same server named by a host that is not loopback (and not insecure) is never spoken to in plain HTTP
    from dockerviz.sources.registry_http import RegistryClient, RegistryOptions

    assert RegistryClient(host, "127.0.0.1", "pd", RegistryOptions())._plain_ok
    assert not RegistryClient("registry.example.com", "registry.example.com", "pd", RegistryOptions())._plain_ok
    assert RegistryClient("registry.example.com", "registry.example.com", "pd",
                          RegistryOptions(insecure=["registry.example.com"]))._plain_ok
