"""The README's curl examples, pasted as they are into a shell, against a real server: every
request answers 2xx. Only the port changes (the server listens on a free one, not 8000)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import API_KEY

README = Path(__file__).parents[2] / "README.md"
README_ADDRESS = "localhost:8000"  # where `make serve` listens
FENCED_SHELL = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
CURLRC = 'silent\nshow-error\nwrite-out = "\\nREADME-STATUS %{http_code}\\n"\n'
STATUS = re.compile(r"^README-STATUS (\d{3})$", re.MULTILINE)

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on the PATH")


def curl_blocks() -> list[str]:
    """Every shell block of the README with a curl command in it."""
    blocks = FENCED_SHELL.findall(README.read_text())
    return [block for block in blocks if any(curl_commands(block))]


def curl_commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.lstrip().startswith("curl ")]


def test_the_readme_has_curl_examples_and_every_curl_line_is_in_a_shell_block() -> None:
    in_blocks = sum(len(curl_commands(block)) for block in curl_blocks())
    everywhere = len(curl_commands(README.read_text()))

    assert in_blocks >= 4
    assert in_blocks == everywhere


@pytest.mark.parametrize("block", curl_blocks())
def test_each_readme_curl_block_pasted_into_a_shell_answers_2xx(
    live_server: str, block: str, tmp_path: Path
) -> None:
    assert README_ADDRESS in block
    script = block.replace(README_ADDRESS, f"localhost:{urlsplit(live_server).port}")
    # curl reads $CURL_HOME/.curlrc: each response then ends with its status, on a line of its
    # own, while the commands stay exactly as the README has them.
    (tmp_path / ".curlrc").write_text(CURLRC)
    environment = {"PATH": os.environ["PATH"], "CURL_HOME": str(tmp_path), "HOME": str(tmp_path)}

    run = subprocess.run(
        ["bash", "-c", script],
        env={**environment, "CREDITFLOW_API_KEY": API_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    statuses = [int(status) for status in STATUS.findall(run.stdout)]
    assert len(statuses) == len(curl_commands(block)), run.stdout
    assert all(200 <= status < 300 for status in statuses), run.stdout
