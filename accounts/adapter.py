from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """allauth speaks of usernames; Tapbuy calls them handles and keeps them lowercase."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_taken": "That handle is taken.",
        "username_blacklisted": "That handle is reserved. Please pick another one.",
    }

    def clean_username(self, username: str, shallow: bool = False) -> str:
        return super().clean_username(username.strip().lower(), shallow=shallow)
