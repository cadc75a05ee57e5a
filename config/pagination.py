"""The API's page numbers: a `page` that is given must be a page."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StrictPageNumberPagination(PageNumberPagination):
    """DRF's page numbers, except that an empty or non-numeric `page` is a 400 (DRF reads
    `?page=` as the first page): bad input is refused, not guessed at."""

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        number = value is None or (value.isascii() and value.isdigit() and int(value) >= 1)
        if not number and value not in self.last_page_strings:
            raise ValidationError({self.page_query_param: ["A page is a number from 1."]})
        return super().get_page_number(request, paginator)
