from django.core.validators import RegexValidator

HANDLE_MAX_LENGTH = 24

# Letters, digits, underscores and dots, as the big social apps allow; no dot at either
# end so that "/@.x" and "/@x." never look like paths or domains.
handle_validator = RegexValidator(
    regex=r"^(?!\.)[a-z0-9_.]+(?<!\.)$",
    message=(
        "Use lowercase letters, digits, underscores and dots only "
        "(no spaces, no dot at the start or end)."
    ),
    code="invalid_handle",
)
