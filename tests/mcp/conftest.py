from tests.assistant.conftest import workspace  # noqa: F401 (a pytest fixture, used by name)
