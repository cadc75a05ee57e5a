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


# Each page reports the Content-Security-Policy violations it sees on its console, where
# Chromium also writes its own "Refused to …" lines.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const what = `${event.violatedDirective} ${event.blockedURI}`;
  console.error(`Content Security Policy violation: ${what}`);
});
"""


@pytest.fixture(autouse=True)
def csp_violations(monkeypatch):
    """Every browser context of a test listens for Content-Security-Policy violations; a
    test ends with none, or fails listing them. Yields the list, for tests that look."""
    from playwright.sync_api import Browser

    violations: list[str] = []
    new_context = Browser.new_context

    def listening_context(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        context.add_init_script(REPORT_VIOLATIONS)

        def on_page(page):
            page.on(
                "console",
                lambda message: (
                    violations.append(f"{page.url}: {message.text}")
                    if "Content Security Policy" in message.text
                    else None
                ),
            )

        context.on("page", on_page)
        return context

    monkeypatch.setattr(Browser, "new_context", listening_context)
    yield violations
    assert violations == []
