from tests.sync.conftest import (  # noqa: F401 (pytest fixtures, used by name)
    connected,
    emulator,
    sync_settings,
)
from tests.triage.conftest import (  # noqa: F401 (pytest fixtures, used by name)
    inline,
    pipeline_runtime,
    pipeline_settings,
    tier,
)
