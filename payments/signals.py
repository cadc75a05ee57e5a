"""What payments tells the apps above it (orders, gifting) about asynchronous outcomes.

Both signals are sent by payments.webhooks when a verified webhook event arrives, once per
event, with sender = the provider's name ("simulated", ...) and these keyword arguments:

    payment_succeeded: provider_ref, amount_minor, currency, event_id
    payment_failed:    provider_ref, amount_minor, currency, event_id, decline_code

Receivers run inside the transaction that records the event: what they write commits with
that record, and an exception rolls both back, answers the provider with an error and lets
its next delivery try again. So a receiver must not do network I/O (schedule it with
transaction.on_commit), and should treat a ref it does not know as not its business.
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
