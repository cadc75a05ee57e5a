from config.errors import Conflict, DomainError


class CannotFollowSelf(DomainError):
    code = "cannot_follow_self"
    message = "You cannot follow yourself."


class AccountTypeLocked(Conflict):
    code = "account_type_locked"
    message = "This account cannot switch back to personal while it runs a shop."


class InvalidImage(DomainError):
    code = "invalid_image"
    message = "The file is not a valid image."


class InvalidLogin(DomainError):
    code = "invalid_login"
    message = "The login or password is not correct."
