from config.errors import Conflict, DomainError, NotAllowed


class NoPermission(NotAllowed):
    message = "Your staff role does not allow this action."


class ReasonRequired(DomainError):
    code = "reason_required"
    message = "Say why: a reason of 3 to 1,000 characters."


class InvalidSuspension(DomainError):
    code = "invalid_suspension"
    message = "A suspension is a whole number of days from 0 to 365."


class InvalidMute(DomainError):
    code = "invalid_mute"
    message = "A mute lasts a whole number of hours from 1 to 720."


class StaffProtected(NotAllowed):
    code = "staff_protected"
    message = "Staff accounts are not muted or banned here; a superuser changes their roles."


class TargetNotFound(DomainError):
    code = "not_found"
    status = 404
    message = "What you acted on no longer exists."


class AuditLogImmutable(Exception):
    """The audit log is append-only: no update, no delete, by any path."""


class InvalidReport(DomainError):
    code = "invalid_report"
    message = "The report is not complete."


class ReportTargetNotFound(DomainError):
    code = "not_found"
    status = 404
    message = "There is nothing to report there: it does not exist or is not public."


class CannotReportOwn(DomainError):
    code = "cannot_report_own"
    message = "You cannot report yourself or what is yours."


class AlreadyReported(Conflict):
    code = "already_reported"
    message = "You reported this already; staff are looking at it."


class NothingToDecide(Conflict):
    code = "no_open_reports"
    message = "There are no open reports of this to decide."
