from django import forms
from django.utils import timezone

from payments.money import MoneyError, parse_minor


class ScheduleForm(forms.Form):
    title = forms.CharField(max_length=120)
    scheduled_at = forms.DateTimeField(
        label="Starts at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Your local time.",
    )
    cover = forms.FileField(required=False, help_text="JPEG, PNG or WebP, up to 10 MB.")

    def clean_scheduled_at(self):
        value = self.cleaned_data["scheduled_at"]
        if value < timezone.now() - timezone.timedelta(minutes=5):
            raise forms.ValidationError("Pick a time that is not in the past.")
        return value


class GoLiveForm(forms.Form):
    playback_url = forms.URLField(
        max_length=500,
        required=False,
        label="Playback URL",
        assume_scheme="https",
        help_text="An HLS (.m3u8) or MP4 address, when you stream without Tapbuy's ingest.",
    )


class DealForm(forms.Form):
    product = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    price = forms.CharField(max_length=20, label="Deal price")
    quantity = forms.IntegerField(min_value=1, max_value=100_000)
    seconds = forms.IntegerField(min_value=10, max_value=3600, initial=120, label="Seconds")

    def __init__(self, *args, currency="USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_price(self):
        try:
            return parse_minor(self.cleaned_data["price"], self.currency)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None


class ChatSettingsForm(forms.Form):
    slow_mode_seconds = forms.IntegerField(min_value=0, max_value=600, label="Slow mode (s)")
    blocked_words = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One word or phrase per line.",
    )
