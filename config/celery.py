"""The Celery app. Configured from Django settings (CELERY_*); tasks live in each app's
tasks.py with an explicit name."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tapbuy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender, **kwargs):
    # kombu's filesystem transport (the embedded default) expects its folders to exist.
    if sender.conf.broker_url.startswith("filesystem"):
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = sender.conf.broker_transport_options.get(key)
            if folder:
                os.makedirs(folder, exist_ok=True)
