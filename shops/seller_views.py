# Placeholder so the URLconf imports while the merchant center views are being written.
from django.http import Http404
from django.views import View


class SellerHomeView(View):
    def get(self, request):
        raise Http404


class ProductListView(SellerHomeView):
    pass


class LowStockView(SellerHomeView):
    pass
