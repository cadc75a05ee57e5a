from django import forms

from .services import MUTE_MAX_HOURS, REASON_MAX, REASON_MIN, SUSPENSION_MAX_DAYS


class ReasonForm(forms.Form):
    """What every staff action asks for before it runs."""

    reason = forms.CharField(
        min_length=REASON_MIN,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Written to the audit log with the action.",
    )


class EndLiveForm(ReasonForm):
    suspend_days = forms.IntegerField(
        min_value=0,
        max_value=SUSPENSION_MAX_DAYS,
        initial=0,
        label="Suspend the host from going live for (days)",
        help_text="0: the host may go live again at once.",
    )


class MuteForm(ReasonForm):
    hours = forms.IntegerField(
        min_value=1, max_value=MUTE_MAX_HOURS, initial=24, label="Mute in every live for (hours)"
    )
