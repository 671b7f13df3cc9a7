"""Reading a layer from its unpacked overlay2 directory (overlay2/<cache-id>/diff).

Walked in the order the daemon's tar writer walks it (lexical, a directory
before its children). Whiteouts are character devices 0:0, opaque
directories carry the trusted.overlay.opaque (rootless: user.overlay.opaque)
xattr, hard links are found by inode: the first path in walk order is the file.
"""

from __future__ import annotations

import os
import stat

from ..engine_socket import LocalUnavailable
from ..model import entries as E
from ..model.layer import LayerContent

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")

def _is_opaque(path: bytes) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def walk_diff(root: str) -> LayerContent:
    """LayerContent of an unpacked overlay2 layer, as the daemon's tar writer would record it.

    moby's TarWithOptions walks with filepath.Walk (a directory, then its
    children sorted by name bytes), writes a char device 0:0 as the whiteout
    `.wh.<name>`, an opaque directory as the directory plus `<dir>/.wh..wh..opq`,
    and any non-directory whose inode it has seen before as a hard link to the
    first path. Sockets are skipped (tar cannot hold them).
    """
    content = LayerContent()
    entries = content.entries
    whiteouts = content.whiteouts
    opaque = content.opaque_dirs
    tar_bytes = 0
    seen_inodes: dict = {}
    decode = E.decode_name
    Entry = E.Entry
    FILE, DIR, SYMLINK, HARDLINK, OTHER = E.FILE, E.DIR, E.SYMLINK, E.HARDLINK, E.OTHER
    S_IFMT = 0o170000
    S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR = stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK, stat.S_IFCHR
    S_IFBLK, S_IFIFO = stat.S_IFBLK, stat.S_IFIFO

    root_b = os.fsencode(root)
    if not os.path.isdir(root_b):
        raise LocalUnavailable(f"the layer directory {root} is missing")
    # depth first, a directory's entry before its children, children sorted by name bytes
    listdir = os.listdir
    lstat = os.lstat
    stack = [(root_b, "", iter(sorted(listdir(root_b))))]
    try:
        while stack:
            dir_b, prefix, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            full = dir_b + b"/" + name
            st = lstat(full)
            path = prefix + decode(name)
            fmt = st.st_mode & S_IFMT
            mode = st.st_mode & 0o7777
            if fmt == S_IFDIR:
                entries.append(Entry(path, DIR, 0, mode, st.st_uid, st.st_gid, ""))
                if _is_opaque(full):
                    opaque.append(path)
                stack.append((full, path + "/", iter(sorted(listdir(full)))))
                continue
            if fmt == S_IFCHR and st.st_rdev == 0:
                whiteouts.append(path)
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = seen_inodes.get(key)
                if first is not None:
                    entries.append(Entry(path, HARDLINK, 0, mode, st.st_uid, st.st_gid, first))
                    continue
                seen_inodes[key] = path
            if fmt == S_IFREG:
                entries.append(Entry(path, FILE, st.st_size, mode, st.st_uid, st.st_gid, ""))
                tar_bytes += st.st_size
            elif fmt == S_IFLNK:
                entries.append(Entry(path, SYMLINK, 0, mode, st.st_uid, st.st_gid, decode(os.readlink(full))))
            elif fmt in (S_IFCHR, S_IFBLK, S_IFIFO):
                entries.append(Entry(path, OTHER, 0, mode, st.st_uid, st.st_gid, ""))
            # sockets: the tar writer refuses them, so the layer tar has none
    except OSError as exc:
        raise LocalUnavailable(f"walking {root} failed ({exc})") from None
    content.tar_bytes = tar_bytes
    return content
