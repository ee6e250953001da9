import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _forget_endpoints():
    """Each test meets remote endpoints afresh (what a run learns about them is per process)."""
    from llmbench.core.remote import MEMORY

    MEMORY.clear()
    yield
    MEMORY.clear()
