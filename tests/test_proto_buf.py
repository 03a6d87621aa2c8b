"""The protocol's CI checks: buf lint with the project's rules (buf.yaml) and
buf breaking against the last release's protos (proto-released/).

buf comes from tools/ (npm; scripts/setup.sh --test installs it). Without
node and npm these skip, saying so; with them, a missing buf is installed
here, and any finding fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
BUF = TOOLS / "node_modules" / ".bin" / "buf"


@pytest.fixture(scope="module")
def buf() -> Path:
    if not BUF.exists():
        if shutil.which("node") is None or shutil.which("npm") is None:
            pytest.skip("node and npm are not installed: buf (an npm package) cannot run")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLS, check=True, capture_output=True
        )
    return BUF


def run_buf(buf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(buf), *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_buf_lint_is_clean(buf: Path) -> None:
    result = run_buf(buf, "lint")
    assert result.returncode == 0, f"buf lint findings:\n{result.stdout}{result.stderr}"


def test_no_breaking_change_since_the_last_release(buf: Path) -> None:
    result = run_buf(buf, "breaking", "proto", "--against", "proto-released")
    assert result.returncode == 0, (
        f"breaking changes against proto-released/:\n{result.stdout}{result.stderr}"
    )


def test_breaking_check_catches_a_renamed_field(buf: Path, tmp_path: Path) -> None:
    """The check above can fail: a copy of the protos with one field renamed
    (a JSON break) and one renumbered (a wire break) is reported."""
    copy = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", copy, ignore=shutil.ignore_patterns("*.py", "*.pyi"))
    common = copy / "hiscrm" / "v1" / "common.proto"
    text = common.read_text()
    assert "string author_name = 6;" in text and "string nickname = 2;" in text
    text = text.replace("string author_name = 6;", "string author_nick = 6;")
    text = text.replace("string nickname = 2;", "string nickname = 20;")
    common.write_text(text)
    result = run_buf(buf, "breaking", str(copy), "--against", "proto-released")
    assert result.returncode != 0
    assert "author_nick" in result.stdout and "nickname" in result.stdout, result.stdout


def test_lint_catches_an_rpc_without_a_comment(buf: Path, tmp_path: Path) -> None:
    copy = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", copy, ignore=shutil.ignore_patterns("*.py", "*.pyi"))
    control = copy / "hiscrm" / "v1" / "control.proto"
    lines = control.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if "rpc GetStats(" in line)
    assert lines[i - 1].lstrip().startswith("//")
    del lines[i - 1]
    control.write_text("".join(lines))
    (tmp_path / "buf.yaml").write_text((ROOT / "buf.yaml").read_text())
    result = subprocess.run(
        [str(buf), "lint"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "GetStats" in result.stdout, result.stdout
