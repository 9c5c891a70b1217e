"""What every benchmark's JSON records about the machine it ran on."""

from __future__ import annotations

import os
import platform

import torch


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
