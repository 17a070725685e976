"""Django admin for the configuration: organisations, sites, agreements, releases,
policy versions, calendar closures and users. Cases, published policy versions and
the closure record are shown read-only: they change only through
:mod:`slpdesk.desk.services` and :mod:`slpdesk.desk.publishing`."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    Agreement,
    CalendarClosure,
    CannedReply,
    Case,
    Escalation,
    InboundMessage,
    Organisation,
    PolicyVersion,
    ProgramUpdate,
    Release,
    Site,
    User,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Listed and viewed only: these change through the services, never by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0


class AgreementInline(admin.TabularInline):
    model = Agreement
    extra = 0


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "supported_by", "technical_contact", "sso_domains",
                    "statements_opt_out"]
    list_filter = ["kind", "statements_opt_out"]
    search_fields = ["name"]
    inlines = [SiteInline]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "country", "time_zone"]
    list_filter = ["country"]
    search_fields = ["name", "organisation__name"]
    inlines = [AgreementInline]


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["name", "released"]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    """Published versions are immutable (K8): shown, never changed or deleted here. A
    new version is published only through the publish path, with its notice and
    written notice (V1): the console's Policy page or ``slpdesk policy publish``."""

    list_display = ["policy_id", "version", "published_at", "effective_at", "published_by"]


@admin.register(CalendarClosure)
class CalendarClosureAdmin(ReadOnlyAdmin):
    """The dated record of closures (C4), shown here; closures are added and removed in
    the console's Calendars page (:func:`services.add_closure`), which records who,
    when and why and recomputes the open cases."""

    list_display = ["calendar", "date", "reason", "added_by", "added_at", "removed_at",
                    "removed_by", "removal_reason"]
    list_filter = ["calendar"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "organisation", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (_("Support desk"), {"fields": ["role", "organisation", "language", "time_zone",
                                        "phone"]}),
    ]


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "organisation", "status", "priority", "earliest_due"]
    list_filter = ["status", "priority", "entitlement"]
    search_fields = ["number", "title"]
    list_select_related = ["organisation"]


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    """Escalations are raised and acknowledged in the portal and console (X1-X2);
    the admin only lists them."""

    list_display = ["case", "level", "raised_by", "raised_at", "acknowledged_by",
                    "acknowledged_at"]
    list_filter = ["level"]
    list_select_related = ["case", "raised_by", "acknowledged_by"]



@admin.register(ProgramUpdate)
class ProgramUpdateAdmin(admin.ModelAdmin):
    """Program updates (U1). Publishing (which e-mails the technical contacts, U2) is an
    action here and a button in the console; a published update is read-only."""

    list_display = ["name", "released", "kind", "security", "published_at"]
    list_filter = ["kind", "security"]
    search_fields = ["name"]
    filter_horizontal = ["applies_to"]
    readonly_fields = ["published_at", "published_by"]
    actions = ["publish"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description=_("Publish and notify the technical contacts"))
    def publish(self, request, queryset):
        from . import publishing

        now = timezone.now()
        for update in queryset.order_by("released", "pk"):
            try:
                told = publishing.publish_update(update, actor=request.user, now=now)
            except services.DeskError as err:
                self.message_user(request, f"{update.name}: {err}", messages.ERROR)
            else:
                self.message_user(request, _("%(name)s is published; %(count)d technical "
                                             "contacts are told.") % {
                    "name": update.name, "count": told}, messages.SUCCESS)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    """Incoming e-mail, read-only: agents settle held messages in the console."""

    list_display = ["created_at", "sender", "subject", "state", "outcome", "case"]
    list_filter = ["state", "outcome"]
    search_fields = ["sender", "subject", "message_id"]
    list_select_related = ["case"]
    exclude = ["raw"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Canned replies (issue 13): staff manage theirs in the console; here they are
    listed for the administrators, who may also correct one (the placeholders are
    checked on save, as in the console)."""

    list_display = ["title", "owner", "shared", "action", "updated_at"]
    list_filter = ["shared", "action"]
    search_fields = ["title", "body_en", "body_sv", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if not change:
            obj.created_at = now
        obj.updated_at = now
        super().save_model(request, obj, form, change)
