"""Django admin for the configuration: organisations, sites, agreements, releases,
policy versions, calendar closures and users. Cases are shown read-only: their
state changes only through :mod:`slpdesk.desk.services`."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    Agreement,
    CalendarClosure,
    Case,
    Escalation,
    Organisation,
    PolicyVersion,
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

