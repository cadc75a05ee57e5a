"""Ingest hooks in the style of nginx-rtmp's on_publish / on_publish_done.

The media server POSTs a form (app, flashver, swfurl, tcurl, pageurl, addr, clientid, call,
name, type, plus the publish URL's query string). Publishing with an unknown, rotated or
banned key is refused with 403, which makes nginx-rtmp drop the connection. An accepted
publish is answered with a redirect to the live's id: nginx-rtmp renames the stream to it
for live playback and pushes, but its HLS module has already taken the original name. So
HLS is written by a second application that the ingest application pushes to (see
docs/ingest.md): the playlist is <id>.m3u8 and the key is in no public URL nor file name.

on_publish_done sends the name and query string of the publish as the publisher sent
them (nginx-rtmp keeps them from before the redirect), so both hooks find the live by its
key; a bare id is never enough to end a live. The hooks carry no signature: they only
answer addresses in RTMP_HOOK_ALLOWED_NETS (keep them on a private network).
"""

import ipaddress

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services


def _allowed(request) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.RTMP_HOOK_ALLOWED_NETS)


def _key(request) -> str:
    # `key` when the publisher used rtmp://host/live/<anything>?key=<key>, else the name.
    return (request.POST.get("key") or request.POST.get("name") or "").strip()


@csrf_exempt
@require_POST
def rtmp_publish(request):
    if not _allowed(request):
        return HttpResponseForbidden("hooks answer the media server only")
    stream = services.hook_publish(key=_key(request))
    if stream is None:
        return HttpResponseForbidden("unknown stream key")
    response = HttpResponse(status=302)
    response["Location"] = str(stream.pk)
    return response


@csrf_exempt
@require_POST
def rtmp_publish_done(request):
    if not _allowed(request):
        return HttpResponseForbidden("hooks answer the media server only")
    services.hook_publish_done(key=_key(request))
    return HttpResponse("ok")
