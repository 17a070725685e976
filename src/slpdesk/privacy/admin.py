"""The record of erasures and retention runs in the admin: read only (an erasure is
done in the console or with ``slpdesk privacy erase``; the record is never edited)."""

from django.contrib import admin

from .models import Erasure, RetentionRun


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Erasure)
class ErasureAdmin(_ReadOnly):
    list_display = ["at", "subject_ref", "by", "by_label", "mode", "reason"]
    list_filter = ["mode"]
    search_fields = ["subject_ref"]


@admin.register(RetentionRun)
class RetentionRunAdmin(_ReadOnly):
    list_display = ["day", "started_at", "finished_at", "cutoff", "cases"]
