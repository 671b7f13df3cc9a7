"""Two analysed images side by side: shared and unique layers, files, config.

Pure model code: no widget, no daemon. Tables are pandas DataFrames built on
first use.

- Layers are matched by diff id (the digest of the uncompressed layer tar), so
  a layer counts as shared when both images hold the same bytes, wherever it
  sits. `same_chain` says whether it also sits in the common base of both
  stacks (identical layers below it too), which is what lets an engine store
  it once.
- Files compare the two final filesystems by tar header facts (type, size,
  mode, owner, link target). A regular file whose facts are equal but that
  was written by layers with different diff ids is reported as "rewritten":
  its bytes were stored twice and its content may differ.
- Config compares Env (per variable), Cmd, Entrypoint, User, WorkingDir,
  ExposedPorts, Volumes (per key) and Labels (per label). Values of
  environment variables whose names look secret are masked unless
  `show_secrets=True`; whether they differ is still reported. The same goes
  for NAME=value assignments in the history commands shown.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cached_property

from . import entries as E

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
REWRITTEN = "rewritten"
SAME = "same"

SHARED = "shared"
ONLY_A = "only in A"
ONLY_B = "only in B"

MASK = "\u2022\u2022\u2022\u2022\u2022\u2022 (hidden)"
SECRET_NAME_RE = re.compile(r"PASSWORD|TOKEN|SECRET|KEY|CREDENTIAL|PASSWD|AUTH|PRIVATE", re.IGNORECASE)

CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "User", "WorkingDir", "ExposedPorts", "Volumes", "Labels"]

LAYER_DIFF_COLUMNS = ["diff_id", "status", "index_a", "index_b", "same_chain", "size_bytes", "entries",
                      "created_by_a", "created_by_b"]
FILE_DIFF_COLUMNS = ["path", "change", "type_a", "type_b", "size_a", "size_b", "size_delta", "mode_a", "mode_b",
                     "owner_a", "owner_b", "link_a", "link_b", "layer_a", "layer_b", "what"]
CONFIG_DIFF_COLUMNS = ["field", "key", "a", "b", "change", "masked"]


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME_RE.search(name or ""))


_ASSIGNMENT_RE = re.compile(r"""(?<![\w.-])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s"';&|]*)""")


def mask_command(text: str) -> str:
    """A history command with the values of secret-looking NAME=value assignments masked
    (ENV and ARG steps, `|2 TOKEN=... /bin/sh -c` build-arg prefixes, `export KEY=...`)."""
    if not text or "=" not in text:
        return text

    def repl(m):
        return f"{m.group(1)}={MASK}" if is_secret_name(m.group(1)) and m.group(2) else m.group(0)

    return _ASSIGNMENT_RE.sub(repl, text)


def _inner_config(image) -> dict:
    cfg = image.config if isinstance(image.config, dict) else {}
    inner = cfg.get("config")
    if not isinstance(inner, dict):
        inner = cfg.get("container_config") if isinstance(cfg.get("container_config"), dict) else {}
    return inner


def _env_map(env) -> dict:
    out: dict[str, str] = {}
    for item in env or []:
        name, sep, value = str(item).partition("=")
        out[name] = value if sep else ""
    return out


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _layer_commands(image, show_secrets: bool = False) -> dict[int, str]:
    return {s.layer: (s.created_by if show_secrets else mask_command(s.created_by))
            for s in image.steps if s.layer is not None}


class ImageComparison:
    """Image `a` against image `b` (b is the newer one: "added" means in b, not in a)."""

    def __init__(self, a, b, *, show_secrets: bool = False):
        self.a = a
        self.b = b
        self.show_secrets = bool(show_secrets)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<dockerviz.ImageComparison {self.a.name!r} -> {self.b.name!r} shared_layers={s['shared_layers']} "
                f"files +{s['added']} -{s['removed']} ~{s['changed']} size {s['size_a']} -> {s['size_b']}>")

    def swapped(self) -> "ImageComparison":
        return ImageComparison(self.b, self.a, show_secrets=self.show_secrets)

    # -- layers -----------------------------------------------------------
    def layer_rows(self) -> list[dict]:
        """Rows of `layers` as dicts (same columns)."""
        return self._layer_table

    @cached_property
    def _layer_table(self) -> list[dict]:
        a, b = self.a, self.b
        cmd_a, cmd_b = _layer_commands(a, self.show_secrets), _layer_commands(b, self.show_secrets)
        prefix = 0
        while prefix < min(len(a.diff_ids), len(b.diff_ids)) and a.diff_ids[prefix] == b.diff_ids[prefix]:
            prefix += 1
        # Match repeated diff ids one to one, in order.
        positions_b: dict[str, list[int]] = {}
        for j, d in enumerate(b.diff_ids):
            positions_b.setdefault(d, []).append(j)
        used_b: set[int] = set()
        rows = []
        for i, d in enumerate(a.diff_ids):
            js = positions_b.get(d) or []
            j = js.pop(0) if js else None
            c = a.contents[i]
            if j is not None:
                used_b.add(j)
            rows.append({"diff_id": d, "status": SHARED if j is not None else ONLY_A, "index_a": i, "index_b": j,
                         "same_chain": j is not None and i < prefix and j == i, "size_bytes": c.disk_bytes,
                         "entries": len(c.entries), "created_by_a": cmd_a.get(i, ""),
                         "created_by_b": cmd_b.get(j, "") if j is not None else ""})
        for j, d in enumerate(b.diff_ids):
            if j in used_b:
                continue
            c = b.contents[j]
            rows.append({"diff_id": d, "status": ONLY_B, "index_a": None, "index_b": j, "same_chain": False,
                         "size_bytes": c.disk_bytes, "entries": len(c.entries), "created_by_a": "",
                         "created_by_b": cmd_b.get(j, "")})
        return rows

    @cached_property
    def layers(self):
        """One row per layer of either image: shared (by diff id), only in A, only in B."""
        import pandas as pd

        df = pd.DataFrame(self.layer_rows(), columns=LAYER_DIFF_COLUMNS)
        df["index_a"] = df["index_a"].astype("Int64")
        df["index_b"] = df["index_b"].astype("Int64")
        return df

    # -- files ------------------------------------------------------------
    def file_rows(self) -> list[tuple]:
        """Rows of `files` as tuples (same columns), sorted by path."""
        return self._file_rows

    @cached_property
    def _file_rows(self) -> list[tuple]:
        fa = self.a.merged.final
        fb = self.b.merged.final
        ida, idb = self.a.diff_ids, self.b.diff_ids
        rows = []
        for path in fa.keys() | fb.keys():
            ha = fa.get(path)
            hb = fb.get(path)
            if ha is None:
                lb, eb = hb
                rows.append((E.display_path(path), ADDED, None, eb.kind, None, eb.size, eb.size, None, eb.mode,
                             None, f"{eb.uid}:{eb.gid}", None, eb.link, None, lb, ""))
                continue
            la, ea = ha
            if hb is None:
                rows.append((E.display_path(path), REMOVED, ea.kind, None, ea.size, None, -ea.size, ea.mode, None,
                             f"{ea.uid}:{ea.gid}", None, ea.link, None, la, None, ""))
                continue
            lb, eb = hb
            what = []
            if ea.kind != eb.kind:
                what.append("type")
            if ea.size != eb.size:
                what.append("size")
            if ea.mode != eb.mode:
                what.append("mode")
            if (ea.uid, ea.gid) != (eb.uid, eb.gid):
                what.append("owner")
            if ea.link != eb.link:
                what.append("link")
            if what:
                change = CHANGED
            elif ea.kind == E.FILE and ida[la] != idb[lb]:
                change = REWRITTEN
                what.append("content may differ")
            else:
                continue
            rows.append((E.display_path(path), change, ea.kind, eb.kind, ea.size, eb.size, eb.size - ea.size,
                         ea.mode, eb.mode, f"{ea.uid}:{ea.gid}", f"{eb.uid}:{eb.gid}", ea.link, eb.link, la, lb,
                         ", ".join(what)))
        rows.sort(key=lambda r: r[0])
        return rows

    @cached_property
    def files(self):
        """Paths that differ between the two final filesystems (unchanged paths are left out)."""
        import pandas as pd

        df = pd.DataFrame(self.file_rows(), columns=FILE_DIFF_COLUMNS)
        for col in ("size_a", "size_b", "mode_a", "mode_b", "layer_a", "layer_b"):
            df[col] = df[col].astype("Int64")
        return df

    # -- config -----------------------------------------------------------
    def config_rows(self) -> list[dict]:
        ca, cb = _inner_config(self.a), _inner_config(self.b)
        rows: list[dict] = []

        def add(field, key, va, vb, secret=False):
            if va is None and vb is None:
                return
            if va == vb:
                change = SAME
            elif va is None:
                change = ADDED
            elif vb is None:
                change = REMOVED
            else:
                change = CHANGED
            masked = secret and not self.show_secrets
            if masked:
                va = MASK if va is not None else None
                vb = MASK if vb is not None else None
            rows.append({"field": field, "key": key, "a": va, "b": vb, "change": change, "masked": masked})

        ea, eb = _env_map(ca.get("Env")), _env_map(cb.get("Env"))
        for name in list(ea) + [n for n in eb if n not in ea]:
            add("Env", name, ea.get(name), eb.get(name), secret=is_secret_name(name))
        for field in ("Cmd", "Entrypoint", "User", "WorkingDir"):
            va, vb = ca.get(field), cb.get(field)
            if field in ("User", "WorkingDir"):
                va, vb = (va or None), (vb or None)
            add(field, "", _as_text(va), _as_text(vb))
        for field in ("ExposedPorts", "Volumes"):
            ka = list((ca.get(field) or {}).keys()) if isinstance(ca.get(field), dict) else []
            kb = list((cb.get(field) or {}).keys()) if isinstance(cb.get(field), dict) else []
            for key in ka + [k for k in kb if k not in ka]:
                add(field, key, "yes" if key in ka else None, "yes" if key in kb else None)
        la = ca.get("Labels") if isinstance(ca.get("Labels"), dict) else {}
        lb = cb.get("Labels") if isinstance(cb.get("Labels"), dict) else {}
        for key in list(la) + [k for k in lb if k not in la]:
            add("Labels", key, _as_text(la.get(key)), _as_text(lb.get(key)))
        return rows

    @cached_property
    def config(self):
        """One row per config item (Env variable, label, port, volume, or whole field)."""
        import pandas as pd

        df = pd.DataFrame(self.config_rows(), columns=CONFIG_DIFF_COLUMNS)
        for col in ("a", "b"):  # unset stays None (not NaN): it is a value of its own here
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        return df

    # -- packages and file contents ------------------------------------------
    def package_rows(self, managers=None) -> list[tuple]:
        """(manager, name, location, change, version_a, version_b, size_a, size_b) for every package
        added, removed, upgraded or downgraded from A to B (versions ordered by each manager's rules)."""
        from . import packages as P

        before = self.a.package_states[-1] if self.a.package_states else {}
        after = self.b.package_states[-1] if self.b.package_states else {}
        rows = []
        for (manager, loc, name), change, old, new in P.changes_between(before, after):
            if managers and manager not in managers:
                continue
            size_a = old[1] if old and old[1] >= 0 else None
            size_b = new[1] if new and new[1] >= 0 else None
            rows.append((manager, name, loc, change, old[0] if old else None, new[0] if new else None, size_a, size_b))
        return rows

    @cached_property
    def packages(self):
        """container-diff's package answer: added / removed / upgraded / downgraded, per manager."""
        import pandas as pd

        from .packages import DIFF_COLUMNS

        df = pd.DataFrame(self.package_rows(), columns=DIFF_COLUMNS)
        for col in ("size_a", "size_b"):
            df[col] = df[col].astype("Int64")
        return df

    def file_diff(self, path):
        """How `path` differs from A's final filesystem to B's: a unified diff, or what else changed."""
        from . import contents as C

        key = self.a._path_key(path)
        old, old_data = self.a.diff_side(key, None)
        new, new_data = self.b.diff_side(key, None)
        return C.diff_of(key, old, old_data, new, new_data, old_label=f"a{E.display_path(key)} ({self.a.name})",
                         new_label=f"b{E.display_path(key)} ({self.b.name})")

    # -- numbers ----------------------------------------------------------
    def summary(self) -> dict:
        rows = self.layer_rows()
        counts = Counter(r[1] for r in self.file_rows())
        shared_bytes = sum(r["size_bytes"] for r in rows if r["status"] == SHARED)
        return {
            "name_a": self.a.name, "name_b": self.b.name, "id_a": self.a.id, "id_b": self.b.id,
            "size_a": self.a.size_bytes, "size_b": self.b.size_bytes,
            "size_delta": self.b.size_bytes - self.a.size_bytes,
            "layers_a": len(self.a.diff_ids), "layers_b": len(self.b.diff_ids),
            "shared_layers": sum(1 for r in rows if r["status"] == SHARED),
            "shared_chain_layers": sum(1 for r in rows if r["same_chain"]),
            "shared_bytes": shared_bytes,
            "only_a_bytes": sum(r["size_bytes"] for r in rows if r["status"] == ONLY_A),
            "only_b_bytes": sum(r["size_bytes"] for r in rows if r["status"] == ONLY_B),
            "added": counts.get(ADDED, 0), "removed": counts.get(REMOVED, 0), "changed": counts.get(CHANGED, 0),
            "rewritten": counts.get(REWRITTEN, 0),
        }


def compare_images(a, b, *, show_secrets: bool = False) -> ImageComparison:
    """Compare two analysed Images (dockerviz.model.image.Image)."""
    return ImageComparison(a, b, show_secrets=show_secrets)
