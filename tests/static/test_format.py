"""test_format.py - one brace and layout style for all C code (issue 11): every C source
and header that git tracks is exactly what clang-format makes of it with the repository's
.clang-format. Runs Debian 12's clang-format (14; deploy/install-deps.sh installs it);
other versions may lay out a few lines differently. To fix a failure:
`git ls-files '*.c' '*.h' | xargs clang-format -i`."""
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _c_files():
    out = subprocess.run(["git", "ls-files", "*.c", "*.h"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
    if out:
        return out
    # not a git checkout (a source tarball): every C file outside build trees
    return [str(p.relative_to(REPO)) for p in REPO.rglob("*.[ch]")
            if not any(part.startswith(("build", ".tools", "node_modules"))
                       for part in p.relative_to(REPO).parts)]


def test_the_style_file_exists():
    text = (REPO / ".clang-format").read_text()
    assert "BreakBeforeBraces: Linux" in text and "ColumnLimit: 100" in text


def test_every_c_file_is_formatted():
    tool = shutil.which("clang-format")
    assert tool, "clang-format is missing: run deploy/install-deps.sh --test"
    files = _c_files()
    assert len(files) > 100, files
    unformatted = []
    for i in range(0, len(files), 50):
        chunk = files[i:i + 50]
        r = subprocess.run([tool, "--dry-run", "--Werror", *chunk], cwd=REPO,
                           capture_output=True, text=True)
        if r.returncode != 0:
            unformatted += sorted({line.split(":", 1)[0] for line in r.stderr.splitlines()
                                   if line.startswith(tuple(chunk))})
    assert not unformatted, ("not in the .clang-format style (fix: clang-format -i FILE): "
                             + ", ".join(unformatted))
