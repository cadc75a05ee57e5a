from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.views import View
from django.views.generic import TemplateView

from accounts.views import ProfileView as AccountProfileView
from payments.money import MoneyError, parse_minor

from . import selectors, services
from .models import Category, Product, Shop

PAGE_SIZE = 24


def _page(request, queryset):
    paginator = Paginator(queryset, PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


class ProfileView(AccountProfileView):
    """/@handle with the Shop tab: the owner's approved shop and its active products."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        profile = context["profile"]
        shop = selectors.shop_public_of(user=profile)
        context["shop"] = shop
        if shop is not None:
            context["page"] = _page(self.request, selectors.products_public(shop=shop.handle))
        return context


class ShopDetailView(TemplateView):
    template_name = "shops/shop_detail.html"

    def get_context_data(self, **kwargs):
        shop = selectors.shop_get_public(handle=self.kwargs["handle"])
        products = selectors.products_public(shop=shop.handle, q=self.request.GET.get("q", ""))
        return {
            **super().get_context_data(**kwargs),
            "shop": shop,
            "page": _page(self.request, products),
            "q": self.request.GET.get("q", ""),
        }


class ProductSearchView(TemplateView):
    """Search products by words, filter by shop, category and price range."""

    template_name = "shops/product_search.html"

    def get_context_data(self, **kwargs):
        params = self.request.GET
        currency = params.get("currency") or "USD"
        errors, prices = [], {}
        for key in ("min", "max"):
            raw = params.get(key, "").strip()
            if raw:
                try:
                    prices[key] = parse_minor(raw, currency)
                except MoneyError as exc:
                    errors.append(f"{'Minimum' if key == 'min' else 'Maximum'} price: {exc}")
        products = selectors.products_public(
            q=params.get("q", ""),
            shop=params.get("shop", ""),
            category=params.get("category", ""),
            min_price=prices.get("min"),
            max_price=prices.get("max"),
        )
        return {
            **super().get_context_data(**kwargs),
            "page": _page(self.request, products),
            "categories": Category.objects.all(),
            "params": params,
            "errors": errors,
        }


class ProductDetailView(TemplateView):
    template_name = "shops/product_detail.html"

    def get_context_data(self, **kwargs):
        product = selectors.product_get_public(pk=self.kwargs["pk"])
        variants = list(product.variants.all())
        return {
            **super().get_context_data(**kwargs),
            "product": product,
            "variants": variants,
            "in_stock": any(v.stock > 0 for v in variants),
        }


class ExternalLinkView(View):
    """Count the click, then send the buyer to the merchant's own store."""

    def get(self, request, pk):
        product = get_object_or_404(
            Product.objects.filter(
                status=Product.Status.ACTIVE, shop__status=Shop.Status.APPROVED
            ).exclude(external_url=""),
            pk=pk,
        )
        services.product_external_click(product_id=product.pk)
        return HttpResponseRedirect(product.external_url)
