"""The layer ids `docker save` (Engine < 25) gives an image's layers, computed without exporting it."""

from __future__ import annotations

import hashlib
import json

#
# `docker save` on Engine < 25 names each layer directory by a "v1 id": the
# sha256 of a JSON object (moby image/v1.CreateID) made of a V1Image, the
# layer's chain id and the parent's v1 id. dive prints these ids; computing
# them here keeps the layer tables of every path identical. Engine 25+ names
# layers by their (uncompressed) digest instead, which is the diff id.

_CONFIG_FIELDS = (  # api/types/container.Config, in struct order; True = omitempty
    ("Hostname", False, ""), ("Domainname", False, ""), ("User", False, ""),
    ("AttachStdin", False, False), ("AttachStdout", False, False), ("AttachStderr", False, False),
    ("ExposedPorts", True, None), ("Tty", False, False), ("OpenStdin", False, False), ("StdinOnce", False, False),
    ("Env", False, None), ("Cmd", False, None), ("Healthcheck", True, None), ("ArgsEscaped", True, False),
    ("Image", False, ""), ("Volumes", False, None), ("WorkingDir", False, ""), ("Entrypoint", False, None),
    ("NetworkDisabled", True, False), ("MacAddress", True, ""), ("OnBuild", False, None), ("Labels", False, None),
    ("StopSignal", True, ""), ("StopTimeout", True, None), ("Shell", True, None),
)
_HEALTH_FIELDS = ("Test", "Interval", "Timeout", "StartPeriod", "Retries")  # all omitempty


def _go_json(value) -> str:
    """encoding/json's output for already-ordered data (HTML-safe escaping, sorted map keys by caller)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _go_config(cfg) -> dict:
    cfg = cfg if isinstance(cfg, dict) else {}
    out = {}
    for name, omitempty, empty in _CONFIG_FIELDS:
        v = cfg.get(name, empty)
        if isinstance(v, dict) and name in ("ExposedPorts", "Volumes", "Labels"):
            v = {k: (v[k] if name == "Labels" else {}) for k in sorted(v)}
        if name == "Healthcheck" and isinstance(v, dict):
            v = {k: v[k] for k in _HEALTH_FIELDS if v.get(k) not in (None, 0, [], "")}
        if omitempty and v in (None, "", False, 0, {}, []):
            continue
        out[name] = v
    return out


def legacy_layer_ids(config: dict, chain: list[str]) -> list[str]:
    """The layer directory names `docker save` (Engine < 25) gives this image's layers."""
    ids = []
    parent = ""
    empty_v1 = {"created": "1970-01-01T00:00:00Z", "container_config": _go_config({})}
    for i, chain_id in enumerate(chain):
        if i == len(chain) - 1:
            v1 = {}
            for key in ("comment", "created", "container", "container_config", "docker_version", "author",
                        "config", "architecture", "variant", "os", "Size"):
                if key == "created":
                    v1[key] = config.get("created") or "0001-01-01T00:00:00Z"
                elif key == "container_config":
                    v1[key] = _go_config(config.get("container_config"))
                elif key == "config":
                    if config.get("config") is not None:
                        v1[key] = _go_config(config["config"])
                elif config.get(key) not in (None, "", 0):
                    v1[key] = config[key]
        else:
            v1 = dict(empty_v1)
        v1["layer_id"] = chain_id
        if parent:
            v1["parent"] = parent
        text = "{" + ",".join(f"{_go_json(k)}:{_go_json(v1[k])}" for k in sorted(v1)) + "}"
        parent = "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        ids.append(parent[len("sha256:"):])
    return ids
