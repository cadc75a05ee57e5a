import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _database_before_the_browser(django_db_setup, django_db_blocker):
    """Create the test database before Playwright starts its event loop in this thread
    (Django refuses synchronous database work beside a running loop)."""
    yield


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in the test's thread; Django's ORM would
    # refuse to run beside it. Browser tests look at the database only between actions.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
