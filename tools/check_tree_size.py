"""Fail when the tracked tree is larger than a limit (default 40 MiB).

    python tools/check_tree_size.py [--limit-mib 40] [--top 10]

Why: every call to the GPU machine carries the working tree, 64 MiB in all with what the call needs besides (the
wheels, a ~9.4 MiB part of the model: scripts/gpu/README.md); over 40 MiB of tree a device call does not start at
all (the workplace's before-stop check says so), whatever it carries besides. The size counted is what the tracked
files take as an archive of the working tree (the copy a call carries): each file's size rounded up to 512 bytes
plus a 512-byte header, as in a tar file (``git archive HEAD | wc -c`` gives the same within a few KiB); or, if
larger, what the files take on disk in 4 KiB blocks (``du``), the size the machine was found to go by. Many small
files therefore cost more than their bytes. Over the limit, the largest files and folders are listed: compress
committed samples with ``tools/compress_results.py``, or keep large outputs out of the repository.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

DEFAULT_LIMIT_MIB = 40.0


def tracked_sizes(repo: Path) -> dict[str, int]:
    """``{path: size in bytes}`` of every tracked file present in the working tree of ``repo``."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"check_tree_size: cannot list the tracked files of {repo} with git ({e})") from None
    sizes = {}
    for name in out.decode("utf-8", "surrogateescape").split("\0"):
        path = repo / name
        if name and path.is_file() and not path.is_symlink():  # a deleted-but-staged file is not carried
            sizes[name] = path.stat().st_size
    return sizes


#: a tar entry: a 512-byte header, then the content padded to a multiple of 512 bytes
TAR_BLOCK = 512


def carried_size(size: int) -> int:
    """Bytes a file of ``size`` bytes takes in a tar archive (header and padding included)."""
    return TAR_BLOCK + -(-size // TAR_BLOCK) * TAR_BLOCK


#: a file on disk (``du``): its content rounded up to whole 4 KiB blocks
DISK_BLOCK = 4096


def disk_size(size: int) -> int:
    """Bytes a file of ``size`` bytes takes on a file system of 4 KiB blocks (what ``du`` counts)."""
    return -(-size // DISK_BLOCK) * DISK_BLOCK


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit-mib", type=float, default=DEFAULT_LIMIT_MIB, help="the limit (default 40 MiB)")
    ap.add_argument("--top", type=int, default=10, help="largest files and folders to list when over the limit")
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = tracked_sizes(args.repo)
    carried = sum(carried_size(n) for n in sizes.values())
    on_disk = sum(disk_size(n) for n in sizes.values())
    total = max(carried, on_disk)  # the stricter of the two counts
    what = (
        f"{total / 2**20:.1f} MiB in {len(sizes)} files ({carried / 2**20:.1f} MiB as carried, "
        f"{on_disk / 2**20:.1f} MiB on disk, {sum(sizes.values()) / 2**20:.1f} MiB of content)"
    )
    if total <= args.limit_mib * 2**20:
        print(f"tracked tree: {what} (limit {args.limit_mib:g} MiB)")
        return 0
    folders: Counter = Counter()
    for name, size in sizes.items():
        for parent in Path(name).parents:
            if str(parent) != ".":
                folders[str(parent)] += size
    print(
        f"tracked tree: {what}, over the limit of {args.limit_mib:g} MiB.\n"
        "Compress committed samples (python tools/compress_results.py) or keep large outputs out of git.",
        file=sys.stderr,
    )
    print("largest folders:", file=sys.stderr)
    for name, size in folders.most_common(args.top):
        print(f"  {size / 2**20:8.1f} MiB  {name}/", file=sys.stderr)
    print("largest files:", file=sys.stderr)
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {size / 2**20:8.1f} MiB  {name}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
