from allauth.account.forms import LoginForm, SignupForm
from django import forms

from .models import User


class HandleSignupForm(SignupForm):
    """allauth's sign-up with the username field presented as the handle."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.label = "Handle"
        field.help_text = "Letters, digits, _ and . — your page will be /@handle."
        field.widget.attrs["placeholder"] = "your_handle"
        field.widget.attrs["autocapitalize"] = "none"


class HandleLoginForm(LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Email or handle"
        self.fields["login"].widget.attrs["placeholder"] = "Email or handle"


class ProfileForm(forms.ModelForm):
    avatar = forms.FileField(required=False, help_text="JPEG, PNG, WebP or GIF, up to 5 MB.")

    class Meta:
        model = User
        fields = ["display_name", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3, "maxlength": 280})}
