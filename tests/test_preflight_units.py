"""The pre-flight's parts on their own: image headers, 3.10 syntax, imports, job commands, estimate."""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from chatcert.errors import UsageError
from chatcert.preflight import load_profile, validate_request
from chatcert.preflight import syntax310 as syntax310_module
from chatcert.preflight.images import ImageError, guess_mime_onboard, read_image
from chatcert.preflight.jobcommand import parse_command
from chatcert.preflight.payload import decode_data_url
from chatcert.preflight.script import imports_of
from chatcert.preflight.stdlib310 import STDLIB_310
from chatcert.preflight.syntax310 import check_syntax_310
from chatcert.preflight.usage import estimate_request, image_tokens, text_tokens


def _png(width: int, height: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


# ------------------------------------------------------------------------------------------------ images


def test_sniff_formats() -> None:
    assert read_image(_png(7, 5), complete=True) == read_image(_png(7, 5), complete=True)
    png = read_image(_png(7, 5), complete=True)
    assert (png.format, png.mime, png.width, png.height) == ("png", "image/png", 7, 5)
    jpeg = read_image(_jpeg(640, 480), complete=True)
    assert (jpeg.mime, jpeg.width, jpeg.height) == ("image/jpeg", 640, 480)
    gif = read_image(b"GIF89a" + struct.pack("<HH", 12, 34) + b"\x00" * 10, complete=True)
    assert (gif.mime, gif.width, gif.height) == ("image/gif", 12, 34)
    body = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 100, 50)
    webp = read_image(
        b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + struct.pack("<I", len(body)) + body, complete=True
    )
    assert (webp.mime, webp.width, webp.height) == ("image/webp", 100, 50)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        _png(4, 4)[:-12],  # no IEND
        _png(4, 4)[:30] + b"\x00" + _png(4, 4)[31:],  # IHDR CRC broken
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # no frame header
        b"GIF89a\x00\x00\x00\x00" + b"\x00" * 10,  # 0x0
    ],
)
def test_sniff_rejects(data: bytes) -> None:
    with pytest.raises(ImageError):
        read_image(data, complete=True)


def test_sniff_prefix_of_png_when_told_so() -> None:
    head = _png(300, 200)[:40]
    with pytest.raises(ImageError):
        read_image(head, complete=True)
    assert read_image(head, complete=False).width == 300


def test_onboard_mime_table_is_310s() -> None:
    assert guess_mime_onboard("a.png") == "image/png"
    assert guess_mime_onboard("a.JPG") == "image/jpeg"
    assert guess_mime_onboard("a.webp") == "image/jpeg"  # 3.10 without /etc/mime.types: fallback
    assert guess_mime_onboard("noext") == "image/jpeg"


def test_data_urls() -> None:
    data = _png(2, 2)
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    decoded = decode_data_url(url)
    assert (decoded.mime, decoded.data, decoded.truncated) == ("image/png", data, False)
    for bad in (
        "data:image/png,abc",
        "data:;base64,AAAA",
        "data:image/png;base64,@@@@",
        "image/png;base64,AAAA",
    ):
        with pytest.raises(ValueError):
            decode_data_url(bad)
    # the mock's journal cuts long strings: the start is still judged
    cut = decode_data_url(url[:90] + "\u2026[1234 more chars]")
    assert cut.truncated and read_image(cut.data, complete=False).width == 2


# ---------------------------------------------------------------------------------------- Python 3.10


def test_frozen_stdlib_is_310s() -> None:
    assert len(STDLIB_310) == 303
    assert {"asyncio", "urllib", "json", "mimetypes", "distutils", "imp", "asynchat"} <= STDLIB_310
    assert not {"tomllib", "requests", "numpy", "_tokenize"} & STDLIB_310  # tomllib is 3.11


@pytest.mark.parametrize(
    "source",
    [
        "type X = int\n",
        "def f[T](x: T) -> T:\n    return x\n",
        "try:\n    pass\nexcept* ValueError:\n    pass\n",
        "def f(a):\n    return a[*a]\n",
        "def f(*args: *tuple[int, ...]):\n    pass\n",
        "x = {'a': 1}\ny = f'{x['a']}'\n",
        "y = f'{\"\\n\".join([])}'\n",
        "y = f'{1 # a comment\n}'\n",
        "print 'hello'\n",
    ],
)
def test_310_rejects(source: str) -> None:
    assert check_syntax_310(source), source


@pytest.mark.parametrize(
    "source",
    [
        "match x:\n    case 1:\n        pass\n",
        "with (open('a') as f, open('b') as g):\n    pass\n",
        "x = {'a': 1}\ny = f'{x[\"a\"]}'\n",
        "y = f'''{x['a']}'''\n",
        "y = f'{f\"{1}\"}'\n",
        "y = f'{x!r:>10}'\n",
        "a = b[1:2, ...]\n",
    ],
)
def test_310_accepts(source: str) -> None:
    assert check_syntax_310(source) == [], source


def _interpreters_312() -> list[str]:
    found = []
    for name in ("python3.12", "python3.13", "python3.14"):
        path = shutil.which(name)
        if path and subprocess.run([path, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            found.append(path)
    return found


@pytest.mark.skipif(not _interpreters_312(), reason="no Python 3.12+ on PATH")
def test_pep701_fstrings_are_caught_on_312() -> None:
    # On 3.12+ ast.parse(feature_version=(3, 10)) accepts PEP 701 f-strings; the tokenizer check must not.
    module = Path(syntax310_module.__file__ or "")
    bad = ["x = {'a': 1}\ny = f'{x['a']}'\n", "y = f'{\"\\n\".join([])}'\n", "y = f'{1 # c\n}'\n"]
    good = ["y = f'{f\"{1}\"}'\n", "y = f'''{x['a']}'''\n", "y = f'{x!r:>10}'\n", "y = f'{x[\"a\"]}'\n"]
    code = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('s310', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['s310'] = m; spec.loader.exec_module(m)\n"
        "bad, good = json.loads(sys.argv[2]), json.loads(sys.argv[3])\n"
        "assert all(m.check_syntax_310(s) for s in bad), [s for s in bad if not m.check_syntax_310(s)]\n"
        "assert not any(m.check_syntax_310(s) for s in good), [s for s in good if m.check_syntax_310(s)]\n"
    )
    argv = [str(module), json.dumps(bad), json.dumps(good)]
    for python in _interpreters_312():
        done = subprocess.run([python, "-c", code, *argv], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_imports_of() -> None:
    tree = ast.parse(
        "import os.path, json\nfrom urllib import request\nfrom . import sibling\n"
        "try:\n    import yaml\nexcept ImportError:\n    yaml = None\n"
        "import importlib\nnp = importlib.import_module('numpy')\n"
    )
    refs = {(r.module, r.level, r.guarded) for r in imports_of(tree)}
    assert refs == {
        ("os", 0, False), ("json", 0, False), ("urllib", 0, False), ("", 1, False),
        ("yaml", 0, True), ("importlib", 0, False), ("numpy", 0, False),
    }  # fmt: skip


# --------------------------------------------------------------------------------------- job commands


def test_parse_seed_command() -> None:
    job = parse_command(
        "python3 /work/vlm_infer.py --server http://liquid-3b.dphi-public --image ./image.png "
        "--prompt 'describe this' > /work/output.txt",
        "/work",
    )
    assert job.script == "/work/vlm_infer.py"
    assert job.option_value("--prompt") == "describe this"
    assert job.resolve(job.option_value("--image") or "") == "/work/image.png"
    assert job.written_files == ["/work/output.txt"]
    assert job.problems == []


def test_parse_cd_tee_and_output_option() -> None:
    job = parse_command("cd /work/run && python3 -u infer.py -o answer.json 2>&1 | tee -a log.txt", "/work")
    assert job.script == "/work/run/infer.py"
    assert job.stderr_to_stdout
    assert job.written_files == ["/work/run/log.txt", "/work/run/answer.json"]


def test_parse_argv_list_and_unsupported() -> None:
    job = parse_command(["sh", "-c", "python3 a.py >> out.txt"], "/work")
    assert job.stdout_files == [("/work/out.txt", True)]
    assert parse_command("python3 -m http.server", "/work").script is None
    assert parse_command("echo hi > /work/o.txt", "/work").problems


# ------------------------------------------------------------------------------------------- estimate


def test_estimate_formula() -> None:
    assert text_tokens(13) == 4
    assert image_tokens(32, 32) == 3 * 3 + 10
    assert image_tokens(448, 448) == 32 * 32 + 10
    url = "data:image/png;base64," + base64.b64encode(_png(28, 15)).decode()
    body = {
        "model": "local",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "hi"}],
            },
        ],
        "max_tokens": 100,
    }
    est = estimate_request(body)
    assert (est.text_chars, est.images, est.messages, est.max_tokens) == (10, [(28, 15)], 2, 100)
    assert est.prompt_tokens == 3 + (2 * 2 + 10) + 8


# ------------------------------------------------------------------------------------- profile, schema


def test_profiles() -> None:
    liquid = load_profile("liquidai")
    assert (liquid.model, liquid.chat_route, liquid.paid, liquid.image_first_required) == (
        "local", "/v1/chat/completions", True, True
    )  # fmt: skip
    assert liquid.external_image_urls == "rejected"
    with pytest.raises(UsageError):
        load_profile("no-such-profile")
    with pytest.raises(UsageError):
        load_profile(os.path.join("no", "such.yaml"))


def test_validate_request_adapter() -> None:
    assert validate_request({"model": "local", "messages": [{"role": "user", "content": "hi"}]}) == []
    problems = validate_request({"messages": "nope"})
    assert problems and all(isinstance(p, str) for p in problems)


def test_netguard_blocks_everything_but_loopback(tmp_path: Path) -> None:
    # In a child process with the guard loaded as sitecustomize; no packet is sent either way:
    # a numeric address needs no look-up, and connect is only tried once the guard is known to be in place.
    from chatcert.preflight import rehearsal

    guard = tmp_path / "guard"
    guard.mkdir()
    shutil.copyfile(Path(rehearsal.__file__).with_name("_netguard.py"), guard / "sitecustomize.py")
    log = tmp_path / "guard.log"
    code = (
        "import socket, sys\n"
        "assert socket.getaddrinfo.__module__ == 'sitecustomize'\n"
        "assert socket.socket.connect.__module__ == 'sitecustomize'\n"
        "socket.getaddrinfo('127.0.0.1', 80)\n"
        "try:\n    socket.getaddrinfo('203.0.113.7', 80)\nexcept socket.gaierror:\n    pass\n"
        "else:\n    sys.exit('look-up allowed')\n"
        "s = socket.socket()\n"
        "try:\n    s.connect(('203.0.113.7', 9))\nexcept ConnectionRefusedError:\n    pass\n"
        "else:\n    sys.exit('connect allowed')\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(guard),
        "CHATCERT_PREFLIGHT_GUARD_LOG": str(log),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "guard installed"
    assert any("203.0.113.7" in line for line in lines[1:])
