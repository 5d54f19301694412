"""The offline environment: nothing may reach a model hub or phone home.

Every entry point (the CLI, the UI, the bench, the tests) applies it before importing the libraries
that read these variables at import time (huggingface_hub, transformers, chromadb, gradio).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    # The tokenizers' thread pool warns (and can deadlock) after a fork; we never need it.
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env(env: MutableMapping[str, str] = os.environ) -> MutableMapping[str, str]:
    """Set each variable unless it is set already (a user may opt back in), and return `env`."""
    for name, value in OFFLINE_ENV.items():
        env.setdefault(name, value)
    return env
