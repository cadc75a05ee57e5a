# Placeholder so the URLconf imports while the import/export views are being written.
from django.http import Http404
from django.views import View


class ImportView(View):
    def get(self, request):
        raise Http404


class ExportView(ImportView):
    pass
