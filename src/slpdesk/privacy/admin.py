"""The record of erasures and retention runs in the admin: read only (an erasure is
done in the console or with ``slpdesk privacy erase``; the record is never edited)."""

from django.contrib import admin

from slpdesk.desk.admin import ReadOnlyAdmin

from .models import Erasure, RetentionRun


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    list_display = ["at", "subject_ref", "by", "by_label", "mode", "reason"]
    list_filter = ["mode"]
    search_fields = ["subject_ref"]


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ["day", "started_at", "finished_at", "cutoff", "cases"]
