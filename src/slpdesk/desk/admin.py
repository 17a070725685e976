"""Django admin for the configuration: organisations, sites, agreements, releases,
policy versions, calendar closures and users. Cases are shown read-only: their
state changes only through :mod:`slpdesk.desk.services`."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    Agreement,
    CalendarClosure,
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
    list_display = ["name", "kind", "supported_by"]
    list_filter = ["kind"]
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
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ["policy_id", "version", "published_at", "effective_at"]


@admin.register(CalendarClosure)
class CalendarClosureAdmin(admin.ModelAdmin):
    """Changing a calendar's closed dates recomputes its open cases (C4)."""

    list_display = ["calendar", "date", "reason"]
    list_filter = ["calendar"]

    def save_model(self, request, obj, form, change):
        previous = CalendarClosure.objects.get(pk=obj.pk).calendar if change else None
        super().save_model(request, obj, form, change)
        now = timezone.now()
        for calendar in {obj.calendar, previous} - {None}:
            services.recompute_calendar(calendar, now)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.recompute_calendar(obj.calendar, timezone.now())

    def delete_queryset(self, request, queryset):
        calendars = set(queryset.values_list("calendar", flat=True))
        super().delete_queryset(request, queryset)
        now = timezone.now()
        for calendar in calendars:
            services.recompute_calendar(calendar, now)


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
