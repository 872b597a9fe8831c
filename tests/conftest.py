import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# benches/toolkit (peers: tiktoken / tokenizers built offline from the bundled vocabularies) is
# shared with the benchmarks and is not part of the installed package.
BENCHES = Path(__file__).resolve().parent.parent / "benches"
sys.path.insert(0, str(BENCHES))

# Bounded example counts keep CI short; TOKSMITH_HYPOTHESIS=thorough for a long local run.
settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("TOKSMITH_HYPOTHESIS", "ci"))
