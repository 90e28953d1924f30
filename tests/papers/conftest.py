"""The papers' tests run torch on one thread (the CI machine has 2 cores shared by all tests)."""

from __future__ import annotations

import torch

from tests.drl.drl_toys import register

torch.set_num_threads(1)
register()
