app_name = "seller_orders"

urlpatterns = []
