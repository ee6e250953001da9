import pytest

# skip_policy: in CI a skip fails unless tests/expected_skips.py declares it (issue 36)
pytest_plugins = ["pytester", "skip_policy"]


@pytest.fixture(autouse=True)
def _forget_endpoints():
    """Each test meets remote endpoints afresh (what a run learns about them is per process)."""
    from llmbench.core.remote import MEMORY

    MEMORY.clear()
    yield
    MEMORY.clear()


@pytest.fixture(scope="session", autouse=True)
def _http_stack_imported():
    """Send one request through the openai client before any test runs, so that its lazily
    imported HTTP modules (httpcore2, h11, ...) belong to this process. An in-process pytester
    run removes the modules first imported inside it; the client would then meet exception
    classes it does not know (a raw httpcore2.ReadTimeout instead of APITimeoutError)."""
    import openai
    from fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        client = openai.OpenAI(api_key="warm-up", base_url=server.url, max_retries=0)
        client.chat.completions.create(model="fake-model",
                                       messages=[{"role": "user", "content": "warm up"}])


@pytest.fixture(autouse=True)
def _steady_machine(monkeypatch):
    """Plugin tests judge fake benchmarks of a few milliseconds, back to back in one busy test
    process: there the real speed probe is noise, not the machine (tests/test_speed_probe.py
    tests it; tests that are about it set their own readings)."""
    from llmbench.pytest_plugin import check

    monkeypatch.setattr(check, "probe_ms", lambda: 5.0)
