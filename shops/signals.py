from django.dispatch import Signal

# Sent (sender=Product, product_ids=[...]) after a transaction that changed the stock of
# those products has committed. Higher apps (streams) use it to tell viewers of a live
# how many are left; shops itself knows nothing of lives.
stock_changed = Signal()
