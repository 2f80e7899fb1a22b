"""tools/refresh_leaderboard.py: a freshly written leaderboard is compared with the committed one (compressed
drill-down files decompressed, the rest byte for byte, files it no longer writes stale) and written back."""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import refresh_leaderboard as rl  # noqa: E402


def _tracked(committed: Path) -> set[str]:
    return {p.relative_to(committed).as_posix() for p in committed.rglob("*") if p.is_file()}


def _folders(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    for d in (fresh / "leaderboard_files", committed / "leaderboard_files"):
        d.mkdir(parents=True)
    files = {
        "leaderboard.md": b"# same\n",
        "leaderboard.csv": b"a,b\n1,2\n",
        "leaderboard_files/columns.md": b"columns\n",
        "leaderboard_files/full.html": b"<p>full</p>\n",
        "leaderboard_files/track.png": b"png",
    }
    for rel, data in files.items():
        (fresh / rel).write_bytes(data)
        packed = rel in rl.COMPRESSED
        (committed / (rel + ".xz" if packed else rel)).write_bytes(lzma.compress(data) if packed else data)
    (committed / "suite.yaml").write_text("tracks: []\n")
    (committed / "leaderboard_screen.png").write_bytes(b"screen")
    (fresh / "suite.yaml").write_text("tracks: []\n")  # the worktree keeps the suite file beside the outputs
    return fresh, committed, _tracked(committed)


def test_a_current_leaderboard_reports_nothing(tmp_path):
    fresh, committed, tracked = _folders(tmp_path)
    assert rl.compare(fresh, committed, tracked) == []


def test_changed_new_and_stale_files_are_found_and_written_back(tmp_path):
    fresh, committed, tracked = _folders(tmp_path)
    (fresh / "leaderboard.csv").write_bytes(b"a,b\n1,3\n")  # a value moved: compared decompressed
    (fresh / "leaderboard_files/track.png").unlink()  # a track renamed: its old plot is stale
    (fresh / "leaderboard_files/renamed.png").write_bytes(b"png2")
    changes = rl.compare(fresh, committed, tracked)
    assert sorted((c.path, c.what) for c in changes) == [
        ("leaderboard.csv.xz", "changed"),
        ("leaderboard_files/renamed.png", "new"),
        ("leaderboard_files/track.png", "stale"),
    ]
    rl.apply(changes, fresh, committed)
    assert lzma.decompress((committed / "leaderboard.csv.xz").read_bytes()) == b"a,b\n1,3\n"
    assert (committed / "leaderboard_files/renamed.png").read_bytes() == b"png2"
    assert not (committed / "leaderboard_files/track.png").exists()
    assert (committed / "leaderboard_screen.png").read_bytes() == b"screen"  # not the leaderboard's to write
    assert rl.compare(fresh, committed, _tracked(committed)) == []  # written back: current


def test_a_compressed_file_is_compared_by_content_not_by_its_bytes(tmp_path):
    fresh, committed, tracked = _folders(tmp_path)
    data = (fresh / "leaderboard_files/full.html").read_bytes()
    (committed / "leaderboard_files/full.html.xz").write_bytes(lzma.compress(data, preset=1))  # other xz bytes
    assert rl.compare(fresh, committed, tracked) == []
