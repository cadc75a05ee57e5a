from django.dispatch import Signal

# Sent by accounts.services.account_set_business (sender=User, user=...) before a business
# account turns personal. Higher apps that need the business account (a shop) raise a
# DomainError from their receiver to refuse the switch.
business_account_leaving = Signal()
