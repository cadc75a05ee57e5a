from config.errors import Conflict, DomainError, NotAllowed


class NeedsBusinessAccount(NotAllowed):
    code = "needs_business_account"
    message = "Switch to a business account to open a shop."


class ShopAlreadyOpen(Conflict):
    code = "shop_exists"
    message = "This account already has a shop."


class NotYourShop(NotAllowed):
    code = "not_your_shop"
    message = "Only the shop's owner can change it."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "That change of status is not possible from the current one."


class InvalidProduct(DomainError):
    code = "invalid"
    message = "Some fields are not valid."


class DuplicateSku(InvalidProduct):
    message = "That SKU is already used in this shop."

    def __init__(self, sku: str, field: str = "sku"):
        self.sku = sku
        super().__init__(
            f"The SKU {sku!r} is already used in this shop.",
            fields={field: [f"The SKU {sku!r} is already used in this shop."]},
        )


class TooManyImages(DomainError):
    code = "too_many_images"
    message = "This product has as many images as it can hold."


class ProductTakenDown(NotAllowed):
    code = "product_taken_down"
    message = "Staff took this product down: its status stays until they restore it."
