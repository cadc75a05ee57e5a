"""The merchant center's pages (/seller/). Every view parses a form, calls the services and
renders or redirects. Rows are always looked up through the seller_* selectors, scoped to
the signed-in merchant's shop, so another merchant's ids are a 404."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.errors import InvalidImage
from config.errors import DomainError, DomainErrorMixin

from . import selectors, services
from .errors import InvalidProduct, TooManyImages
from .forms import (
    VARIANT_ERROR_FIELDS,
    ProductForm,
    ProductImagesForm,
    ShopOpenForm,
    ShopSettingsForm,
    StockForm,
    VariantForm,
    VariantFormSet,
)
from .models import Product, Shop, Variant

PAGE_SIZE = 50
VARIANT_PREFIX = "variants"
# The services' names for product fields, and the form field that shows their errors.
PRODUCT_ERROR_FIELDS = {
    "title": "title",
    "description": "description",
    "category": "category",
    "tags": "tags",
    "status": "status",
    "affiliate_rate_bp": "affiliate_percent",
    "external_url": "external_url",
    "option1_name": "option1_name",
    "option2_name": "option2_name",
    "option3_name": "option3_name",
}


class SellerView(LoginRequiredMixin, DomainErrorMixin, View):
    """Signed in; DomainErrors no form can show become a flash message."""

    seller_tab = ""

    def shop(self) -> Shop | None:
        return selectors.shop_for_owner(user=self.request.user)

    def shop_or_404(self) -> Shop:
        shop = self.shop()
        if shop is None:
            raise Http404("You have no shop.")
        return shop

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        context = {
            "seller_tab": self.seller_tab,
            "low_stock_threshold": settings.LOW_STOCK_THRESHOLD,
            **context,
        }
        return render(self.request, template, context, status=status)


# --- the shop -------------------------------------------------------------------------------


class SellerHomeView(SellerView):
    """What the merchant should do next: switch to business, open a shop, or see it."""

    template_name = "shops/seller_home.html"
    seller_tab = "home"

    def get(self, request):
        return self.render_home()

    def render_home(self, *, open_form=None, settings_form=None, status: int = 200):
        shop = self.shop()
        context: dict = {"shop": shop}
        if shop is not None:
            context["settings_form"] = settings_form or ShopSettingsForm(instance=shop)
            context["product_count"] = selectors.seller_products(shop=shop).count()
            context["low_stock_count"] = selectors.low_stock_variants(shop=shop).count()
        elif self.request.user.is_business:
            context["open_form"] = open_form or ShopOpenForm()
        return self.render(self.template_name, context, status=status)


class ShopOpenView(SellerHomeView):
    def get(self, request):
        return redirect("seller:home")

    def post(self, request):
        form = ShopOpenForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.shop_open(
                    owner=request.user,
                    name=form.cleaned_data["name"],
                    handle=form.cleaned_data["handle"],
                    description=form.cleaned_data["description"],
                    return_policy=form.cleaned_data["return_policy"],
                    logo=form.cleaned_data["logo"],
                )
            except InvalidImage as exc:
                form.add_error("logo", exc.message)
            except InvalidProduct as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, "Your shop is open. Staff will review it shortly.")
                return redirect("seller:home")
        return self.render_home(open_form=form, status=400)


class ShopSettingsView(SellerHomeView):
    def get(self, request):
        return redirect("seller:home")

    def post(self, request):
        shop = self.shop_or_404()
        # A throwaway instance: the form's validation assigns to it, the real shop is
        # changed by the service only.
        form = ShopSettingsForm(request.POST, request.FILES, instance=Shop(pk=shop.pk))
        if form.is_valid():
            was_rejected = shop.status == Shop.Status.REJECTED
            try:
                services.shop_update(
                    shop=shop,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    return_policy=form.cleaned_data["return_policy"],
                    logo=form.cleaned_data["logo"],
                )
            except InvalidImage as exc:
                form.add_error("logo", exc.message)
            else:
                messages.success(
                    request,
                    "Shop saved and sent back for approval." if was_rejected else "Shop saved.",
                )
                return redirect("seller:home")
        return self.render_home(settings_form=form, status=400)


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductRow:
    """One line of the products list, computed from the prefetched variants and images."""

    product: Product
    thumb_url: str
    stock: int
    variant_count: int
    low_stock: bool


def _product_row(product: Product) -> ProductRow:
    variants = list(product.variants.all())
    images = list(product.images.all())
    thumb = images[0].thumb if images else None
    return ProductRow(
        product=product,
        thumb_url=thumb.url if thumb else "",
        stock=sum(v.stock for v in variants),
        variant_count=len(variants),
        low_stock=any(v.stock <= settings.LOW_STOCK_THRESHOLD for v in variants),
    )


class ProductListView(SellerView):
    seller_tab = "products"

    def get(self, request):
        shop = self.shop()
        if shop is None:
            return redirect("seller:home")
        q = request.GET.get("q", "").strip()
        status = request.GET.get("status", "")
        low_stock = request.GET.get("low_stock") == "1"
        products = selectors.seller_products(shop=shop, q=q, status=status, low_stock=low_stock)
        page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
        return self.render(
            "shops/seller_products.html",
            {
                "shop": shop,
                "page": page,
                "rows": [_product_row(p) for p in page],
                "q": q,
                "status": status if status in Product.Status.values else "",
                "low_stock": low_stock,
                "statuses": Product.Status.choices,
                "filtered": bool(q or status or low_stock),
            },
        )


def _variant_formset(
    data, *, shop: Shop, product_form: ProductForm, initial=None, variants: list[Variant] = ()
) -> VariantFormSet:
    return VariantFormSet(
        data,
        initial=initial,
        prefix=VARIANT_PREFIX,
        currency=shop.currency,
        option_names=product_form.posted_option_names()
        if product_form.is_bound
        else [product_form.initial.get(f"option{i}_name", "") for i in (1, 2, 3)],
        known_ids=frozenset(v.pk for v in variants),
    )


def _form_errors(form, exc: DomainError) -> None:
    """Put a DomainError's field errors on the form's fields of the same name (on the
    form as a whole for any other)."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for key, errors in exc.fields.items():
        form.add_error(key if key in form.fields else None, errors)


def _product_errors(
    exc: InvalidProduct, product_form: ProductForm, rows: list[VariantForm]
) -> None:
    """Spread a service's InvalidProduct over the product form and the variant rows that
    were being saved when it was raised."""
    if not exc.fields:
        product_form.add_error(None, exc.message)
        return
    for key, errors in exc.fields.items():
        if key.startswith("variants."):  # variants.<index>.<field> from product_create
            _, index, name = key.split(".", 2)
            row = rows[int(index)]
            field = VARIANT_ERROR_FIELDS.get(name)
            row.add_error(field if field in row.fields else None, errors)
        elif key == "sku":
            # DuplicateSku carries the SKU: mark the row that has it.
            sku = getattr(exc, "sku", None)
            culprits = [r for r in rows if sku and r.cleaned_data.get("sku", "").strip() == sku]
            for row in culprits or rows[:1]:
                row.add_error("sku", errors)
        elif key in ("variants", "options") and len(rows) == 1:
            rows[0].add_error(None, errors)
        elif key in VARIANT_ERROR_FIELDS and len(rows) == 1:  # from variant_update
            field = VARIANT_ERROR_FIELDS[key]
            rows[0].add_error(field if field in rows[0].fields else None, errors)
        else:
            field = PRODUCT_ERROR_FIELDS.get(key)
            product_form.add_error(field, errors)


class ProductCreateView(SellerView):
    template_name = "shops/seller_product_form.html"
    seller_tab = "products"

    def get(self, request):
        shop = self.shop()
        if shop is None:
            return redirect("seller:home")
        product_form = ProductForm()
        formset = _variant_formset(None, shop=shop, product_form=product_form)
        return self._render(shop, product_form, formset)

    def post(self, request):
        shop = self.shop_or_404()
        product_form = ProductForm(request.POST)
        formset = _variant_formset(request.POST, shop=shop, product_form=product_form)
        if product_form.is_valid() and formset.is_valid():
            rows = formset.rows()
            fields = product_form.service_fields()
            try:
                product = services.product_create(
                    shop=shop,
                    actor=request.user,
                    title=fields.pop("title"),
                    variants=[row.service_data() for row in rows],
                    **fields,
                )
            except InvalidProduct as exc:
                _product_errors(exc, product_form, rows)
            else:
                messages.success(request, "Product created. Add images below.")
                return redirect("seller:product_edit", pk=product.pk)
        return self._render(shop, product_form, formset, status=400)

    def _render(self, shop, product_form, formset, status=200):
        return self.render(
            self.template_name,
            {"shop": shop, "product": None, "product_form": product_form, "formset": formset},
            status=status,
        )


class ProductEditView(SellerView):
    template_name = "shops/seller_product_form.html"
    seller_tab = "products"

    def get(self, request, pk):
        shop = self.shop_or_404()
        product = selectors.seller_product_get(shop=shop, pk=pk)
        return self.render_edit(shop, product)

    def post(self, request, pk):
        shop = self.shop_or_404()
        product = selectors.seller_product_get(shop=shop, pk=pk)
        variants = list(product.variants.all())
        product_form = ProductForm(request.POST, product=product)
        formset = _variant_formset(
            request.POST,
            shop=shop,
            product_form=product_form,
            variants=variants,
            initial=[VariantForm.initial_for(v, shop.currency) for v in variants],
        )
        if product_form.is_valid() and formset.is_valid():
            by_id = {v.pk: v for v in variants}
            rows = [row for row in formset.rows() if row.variant_id is None or row.has_changed()]
            try:
                services.product_save(
                    product=product,
                    actor=request.user,
                    fields=product_form.service_fields(),
                    variants=[
                        (by_id[row.variant_id] if row.variant_id else None, row.service_data())
                        for row in rows
                    ],
                )
            except InvalidProduct as exc:
                _product_errors(exc, product_form, rows)
            else:
                messages.success(request, "Product saved.")
                return redirect("seller:product_edit", pk=product.pk)
            # The failed attempt assigned to the in-memory product: show the stored one.
            product = selectors.seller_product_get(shop=shop, pk=pk)
        return self.render_edit(
            shop, product, product_form=product_form, formset=formset, status=400
        )

    def render_edit(
        self, shop, product, *, product_form=None, formset=None, images_form=None, status=200
    ):
        variants = list(product.variants.all())
        if product_form is None:
            product_form = ProductForm(initial=ProductForm.initial_for(product), product=product)
        if formset is None:
            formset = _variant_formset(
                None,
                shop=shop,
                product_form=product_form,
                variants=variants,
                initial=[VariantForm.initial_for(v, shop.currency) for v in variants],
            )
        return self.render(
            self.template_name,
            {
                "shop": shop,
                "product": product,
                "product_form": product_form,
                "formset": formset,
                "variants": variants,
                "images": list(product.images.all()),
                "images_form": images_form or ProductImagesForm(),
                "max_images": settings.PRODUCT_MAX_IMAGES,
            },
            status=status,
        )


# --- images ---------------------------------------------------------------------------------


def _edit_url(product_id: int, anchor: str = "") -> str:
    return reverse("seller:product_edit", kwargs={"pk": product_id}) + anchor


class ProductImagesView(ProductEditView):
    """Upload several images at once, all or nothing: the service checks and re-encodes
    every file before saving any, and names the file it refuses."""

    def get(self, request, pk):
        # Only to the owner's own product: anyone else's id is a 404 here too.
        product = selectors.seller_product_get(shop=self.shop_or_404(), pk=pk)
        return redirect(_edit_url(product.pk, "#images"))

    def post(self, request, pk):
        shop = self.shop_or_404()
        product = selectors.seller_product_get(shop=shop, pk=pk)
        form = ProductImagesForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                added = services.product_images_add(
                    product=product, actor=request.user, uploads=form.cleaned_data["images"]
                )
            except (InvalidImage, TooManyImages) as exc:
                form.add_error("images", exc.message)
            else:
                count = len(added)
                messages.success(request, f"{count} image{'s' if count != 1 else ''} added.")
                return redirect(_edit_url(product.pk, "#images"))
            product = selectors.seller_product_get(shop=shop, pk=pk)
        return self.render_edit(shop, product, images_form=form, status=400)


class ProductImageDeleteView(SellerView):
    def post(self, request, pk):
        image = selectors.seller_image_get(shop=self.shop_or_404(), pk=pk)
        services.product_image_delete(image=image, actor=request.user)
        messages.success(request, "Image deleted.")
        return redirect(_edit_url(image.product_id, "#images"))


class ProductImageMoveView(SellerView):
    """Move an image one place earlier or later: the new order of all the product's
    images goes to the service in one call."""

    def post(self, request, pk):
        image = selectors.seller_image_get(shop=self.shop_or_404(), pk=pk)
        order = list(image.product.images.values_list("pk", flat=True))
        index = order.index(image.pk)
        target = index - 1 if request.POST.get("direction") == "up" else index + 1
        if 0 <= target < len(order):
            order[index], order[target] = order[target], order[index]
            services.product_images_reorder(
                product=image.product, actor=request.user, image_ids=order
            )
        return redirect(_edit_url(image.product_id, "#images"))


# --- variants and stock ---------------------------------------------------------------------


class VariantDeleteView(SellerView):
    def post(self, request, pk):
        variant = selectors.seller_variant_get(shop=self.shop_or_404(), pk=pk)
        services.variant_delete(variant=variant, actor=request.user)
        messages.success(request, f"Variant {variant.title} deleted.")
        return redirect(_edit_url(variant.product_id, "#variants"))


class VariantStockView(SellerView):
    """Set a variant's stock. htmx gets the row back (with its error and a 400 when the
    number is refused); a plain form post goes back to the page it came from."""

    row_template = "shops/partials/seller_stock_row.html"

    def post(self, request, pk):
        variant = selectors.seller_variant_get(shop=self.shop_or_404(), pk=pk)
        form = StockForm(request.POST)
        if form.is_valid():
            try:
                variant = services.variant_set_stock(
                    variant=variant, actor=request.user, stock=form.cleaned_data["stock"]
                )
            except InvalidProduct as exc:
                _form_errors(form, exc)
        if form.errors:
            return self._answer(variant, form, status=400)
        return self._answer(variant, form, saved=True)

    def _answer(self, variant, form, *, saved=False, status=200):
        if self.request.htmx:
            return self.render(
                self.row_template,
                {
                    "variant": variant,
                    "stock_value": form.data.get("stock") if form.errors else None,
                    "stock_errors": form.errors.get("stock") or form.non_field_errors(),
                    "saved": saved,
                    # Where a plain (htmx-less) post of this row should come back to.
                    "stock_next": self.request.htmx.current_url_abs_path or "",
                },
                status=status,
            )
        if form.errors:
            for error in form.errors.get("stock") or form.non_field_errors():
                messages.error(self.request, f"{variant.product.title} – {variant.title}: {error}")
        else:
            messages.success(self.request, f"Stock of {variant.title} set to {variant.stock}.")
        back = self.request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            back = _edit_url(variant.product_id, "#stock")
        return redirect(back)


class LowStockView(SellerView):
    seller_tab = "low_stock"

    def get(self, request):
        shop = self.shop()
        if shop is None:
            return redirect("seller:home")
        page = Paginator(selectors.low_stock_variants(shop=shop), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return self.render("shops/seller_low_stock.html", {"shop": shop, "page": page})
