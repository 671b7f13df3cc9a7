"""Image against image (dockerviz.model.diff) on synthetic layers: layers, files, config, secrets."""

import hashlib
import io

import pytest

from dockerviz.model.diff import MASK, ImageComparison, compare_images, is_secret_name
from dockerviz.model.image import Image
from dockerviz.model.layer import read_layer
from support import synth
from support.synth import layer_tar

BASE = [("dir", "bin"), ("file", "bin/sh", 1000), ("dir", "etc"), ("file", "etc/passwd", 50, 0o644)]
APP_A = [("dir", "app"), ("file", "app/main.py", 300), ("file", "app/old.txt", 40), ("file", "app/same.txt", 7)]
APP_B = [("dir", "app"), ("file", "app/main.py", 350), ("file", "app/new.txt", 60), ("file", "app/same.txt", 7)]


def image(name, specs, config=None):
    tars = [layer_tar(s) for s in specs]
    contents = [read_layer(io.BytesIO(t)) for t in tars]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    cfg = {"config": config or {}, "history": [{"created_by": f"RUN step {i} of {name}"} for i in range(len(specs))]}
    return Image(name=name, image_id="sha256:" + hashlib.sha256(name.encode()).hexdigest(), repo_tags=[name],
                 config=cfg, diff_ids=diff_ids, layer_ids=[d[7:19] for d in diff_ids], contents=contents,
                 source="synthetic", path="synthetic")


def test_layers_shared_by_diff_id_and_unique_to_each():
    a = image("a", [BASE, APP_A])
    b = image("b", [BASE, APP_B, [("file", "extra", 5)]])
    df = compare_images(a, b).layers
    assert list(df["status"]) == ["shared", "only in A", "only in B", "only in B"]
    shared = df[df["status"] == "shared"].iloc[0]
    assert shared["index_a"] == 0 and shared["index_b"] == 0 and bool(shared["same_chain"])
    assert df.loc[1, "index_a"] == 1 and df.loc[1, "index_b"] is pd_na()
    assert df.loc[2, "created_by_b"] == "RUN step 1 of b"


def pd_na():
    import pandas as pd

    return pd.NA


def test_same_layer_elsewhere_in_the_stack_is_shared_but_not_in_the_common_base():
    a = image("a", [BASE, APP_A])
    b = image("b", [APP_B, APP_A])  # APP_A's bytes again, above a different base
    cmp = ImageComparison(a, b)
    df = cmp.layers
    row = df[(df["status"] == "shared")].iloc[0]
    assert row["index_a"] == 1 and row["index_b"] == 1 and not bool(row["same_chain"])
    s = cmp.summary()
    assert s["shared_layers"] == 1 and s["shared_chain_layers"] == 0
    assert s["shared_bytes"] == a.contents[1].disk_bytes


def test_repeated_layers_are_matched_one_to_one():
    a = image("a", [APP_A, APP_A])
    b = image("b", [APP_A])
    df = compare_images(a, b).layers
    assert list(df["status"]) == ["shared", "only in A"]


def test_files_added_removed_changed_and_size_delta():
    a = image("a", [BASE, APP_A])
    b = image("b", [BASE, APP_B + [("file", "etc/passwd", 50, 0o600)]])
    files = compare_images(a, b).files.set_index("path")
    assert files.loc["/app/new.txt", "change"] == "added" and files.loc["/app/new.txt", "size_delta"] == 60
    assert files.loc["/app/old.txt", "change"] == "removed" and files.loc["/app/old.txt", "size_delta"] == -40
    assert files.loc["/app/main.py", "change"] == "changed"
    assert files.loc["/app/main.py", "size_delta"] == 50 and files.loc["/app/main.py", "what"] == "size"
    assert files.loc["/etc/passwd", "what"] == "mode" and files.loc["/etc/passwd", "mode_b"] == 0o600
    # same facts, written by layers with different diff ids: stored again, content may differ
    assert files.loc["/app/same.txt", "change"] == "rewritten"
    assert "/bin/sh" not in files.index  # from the shared base layer: unchanged, left out
    assert files.loc["/app/new.txt", "layer_b"] == 1


def test_swapped_comparison_mirrors_the_file_diff():
    a = image("a", [BASE, APP_A])
    b = image("b", [BASE, APP_B])
    cmp = compare_images(a, b)
    back = cmp.swapped().files.set_index("path")
    assert back.loc["/app/new.txt", "change"] == "removed" and back.loc["/app/old.txt", "change"] == "added"
    assert back.loc["/app/main.py", "size_delta"] == -50
    s = cmp.summary()
    assert (s["added"], s["removed"], s["changed"], s["rewritten"]) == (1, 1, 1, 1)
    assert s["size_delta"] == b.size_bytes - a.size_bytes


@pytest.mark.parametrize("name", ["DB_PASSWORD", "GITHUB_TOKEN", "aws_secret_access_key", "API_KEY", "CREDENTIALS",
                                  "PGPASSWD", "BASIC_AUTH", "SSH_PRIVATE", "npm_token"])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "LANG", "PYTHONUNBUFFERED"])
def test_plain_names(name):
    assert not is_secret_name(name)


CFG_A = {"Env": ["PATH=/bin", "API_TOKEN=old-token-value", "MODE=dev"], "Cmd": ["sh"], "User": "",
         "WorkingDir": "/", "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
         "Labels": {"version": "1", "gone": "x"}}
CFG_B = {"Env": ["PATH=/bin", "API_TOKEN=new-token-value", "DB_PASSWORD=hunter2", "MODE=prod"],
         "Cmd": ["python", "app.py"], "Entrypoint": ["/entry"], "User": "app", "WorkingDir": "/app",
         "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}, "Labels": {"version": "2"}}


def test_config_diff_fields_and_secret_masking():
    a = image("a", [BASE], CFG_A)
    b = image("b", [BASE], CFG_B)
    cmp = compare_images(a, b)
    cfg = cmp.config
    by = {(r.field, r.key): r for r in cfg.itertuples()}
    assert by[("Env", "PATH")].change == "same"
    assert by[("Env", "MODE")].change == "changed" and by[("Env", "MODE")].b == "prod"
    tok = by[("Env", "API_TOKEN")]
    assert tok.change == "changed" and tok.masked and tok.a == MASK and tok.b == MASK
    pw = by[("Env", "DB_PASSWORD")]
    assert pw.change == "added" and pw.a is None and pw.b == MASK
    assert by[("Cmd", "")].a == '["sh"]' and by[("Cmd", "")].b == '["python", "app.py"]'
    assert by[("Entrypoint", "")].change == "added"
    assert by[("User", "")].change == "added" and by[("User", "")].b == "app"
    assert by[("WorkingDir", "")].change == "changed"
    assert by[("ExposedPorts", "443/tcp")].change == "added" and by[("ExposedPorts", "80/tcp")].change == "same"
    assert by[("Volumes", "/data")].change == "removed"
    assert by[("Labels", "version")].change == "changed" and by[("Labels", "gone")].change == "removed"
    text = cfg.to_string() + repr(cmp) + str(cmp.config_rows())
    for secret in ("old-token-value", "new-token-value", "hunter2"):
        assert secret not in text


def test_show_secrets_reveals_values():
    a = image("a", [BASE], CFG_A)
    b = image("b", [BASE], CFG_B)
    cfg = compare_images(a, b, show_secrets=True).config.set_index(["field", "key"])
    assert cfg.loc[("Env", "DB_PASSWORD"), "b"] == "hunter2"
    assert not cfg["masked"].any()


def test_compare_sources_archive_against_oci_layout(tmp_path):
    import dockerviz

    base, app_a, app_b = layer_tar(BASE), layer_tar(APP_A), layer_tar(APP_B)
    archive = synth.write(tmp_path / "a.tar", synth.legacy_archive([base, app_a]))
    oci = synth.write_oci_layout(tmp_path / "oci", [base, app_b], compress="gzip")
    a = dockerviz.analyze(archive, cache=False)
    b = dockerviz.analyze(oci, cache=False)
    cmp = compare_images(a, b)
    assert list(cmp.layers["status"]) == ["shared", "only in A", "only in B"]
    assert set(cmp.files["path"]) == {"/app/main.py", "/app/new.txt", "/app/old.txt", "/app/same.txt"}


def test_secret_assignments_in_history_commands_are_masked():
    from dockerviz.model.diff import mask_command

    cmd = ('|2 GITHUB_TOKEN=ghp_abc MODE=prod /bin/sh -c export DB_PASSWORD="s3 cret" && '
           "curl -H auth https://x && echo PATH=/bin")
    out = mask_command(cmd)
    assert "ghp_abc" not in out and "s3 cret" not in out
    assert f"GITHUB_TOKEN={MASK}" in out and "MODE=prod" in out and "PATH=/bin" in out
    assert mask_command("/bin/sh -c #(nop)  ENV API_KEY=xyz") == f"/bin/sh -c #(nop)  ENV API_KEY={MASK}"
    a = image("a", [BASE])
    a.steps[0].created_by = "/bin/sh -c #(nop)  ENV SECRET_KEY=abc123"
    b = image("b", [APP_A])
    assert "abc123" not in compare_images(a, b).layers.to_string()
    assert "abc123" in compare_images(a, b, show_secrets=True).layers.to_string()
