import re

from playwright.sync_api import Page, expect

from accounts.models import User


def test_sign_up_log_in_and_see_your_profile(page: Page, asgi_server):
    page.goto(f"{asgi_server}/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").fill("lina@example.com")
    page.get_by_label("Handle").fill("Lina.Live")
    page.locator("input[name=password1]").fill("sunny-orchid-42")
    page.locator("input[name=password2]").fill("sunny-orchid-42")
    page.get_by_role("button", name="Sign Up").click()
    expect(page).to_have_url(re.compile(r"/@lina\.live$"))
    expect(page.get_by_test_id("profile")).to_contain_text("@lina.live")

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Log out").click()
    expect(nav.get_by_role("link", name="Log in")).to_be_visible()

    nav.get_by_role("link", name="Log in").click()
    page.get_by_label("Email or handle").fill("lina.live")
    page.locator("input[name=password]").fill("sunny-orchid-42")
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/@lina\.live$"))
    page.get_by_test_id("nav-me").click()
    expect(page.get_by_test_id("profile")).to_contain_text("lina.live")
    assert User.objects.filter(handle="lina.live", email="lina@example.com").exists()
