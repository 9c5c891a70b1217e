import os

import torch
from hypothesis import HealthCheck, settings

# Property tests are seeded (derandomize) so CI failures reproduce; QFCAST_HYPOTHESIS=dev
# explores new examples instead.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("QFCAST_HYPOTHESIS", "ci"))

torch.set_num_threads(min(2, torch.get_num_threads()))
