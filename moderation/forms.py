from django import forms

from .models import Report
from .reports import TEXT_MAX
from .services import MUTE_MAX_HOURS, REASON_MAX, REASON_MIN, SUSPENSION_MAX_DAYS


class ReportForm(forms.Form):
    """A user's report: a reason from the list, and what they want to add."""

    reason = forms.ChoiceField(
        choices=Report.Reason.choices, widget=forms.RadioSelect, label="What is wrong?"
    )
    text = forms.CharField(
        required=False,
        max_length=TEXT_MAX,
        label="Tell us more",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, unless you chose “Something else”.",
    )


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


class DecideReportsForm(ReasonForm):
    """Resolve a target's reports (acting on it) or dismiss them. The options shown are
    those of the target's kind: a live's host suspension, a user's mute or ban."""

    decision = forms.ChoiceField(
        choices=[
            ("resolve", "Resolve: uphold the reports and act on the target"),
            ("dismiss", "Dismiss: the target breaks no rule"),
        ],
        widget=forms.RadioSelect,
    )
    suspend_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=SUSPENSION_MAX_DAYS,
        initial=0,
        label="Suspend the host from going live for (days)",
    )
    ban = forms.BooleanField(required=False, label="Ban the user instead of muting them")
    hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MUTE_MAX_HOURS,
        initial=24,
        label="Mute in every live for (hours)",
    )

    ACTIONS = {
        "live": "Resolving ends the live now.",
        "chat_message": "Resolving hides the message in the live.",
        "product": "Resolving takes the product down.",
        "shop": "Resolving suspends the shop.",
        "user": "Resolving mutes the user site-wide, or bans them.",
    }

    def __init__(self, *args, target_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.target_type = target_type
        self.fields["decision"].help_text = self.ACTIONS.get(target_type, "")
        if target_type != "live":
            del self.fields["suspend_days"]
        if target_type != "user":
            del self.fields["ban"]
            del self.fields["hours"]

    def options(self) -> dict:
        """The cleaned data as report_resolve's keyword arguments."""
        data = self.cleaned_data
        options = {"reason": data["reason"]}
        if self.target_type == "live":
            options["suspend_days"] = data.get("suspend_days") or 0
        if self.target_type == "user":
            options["ban"] = bool(data.get("ban"))
            options["hours"] = data.get("hours") or 24
        return options
