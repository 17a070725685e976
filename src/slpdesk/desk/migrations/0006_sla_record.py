"""The SLA record (issue 10): closures become a dated, append-only record, and the
shipped policy is in force from 1900-01-01 (the first instant the clock covers)
instead of from the moment it was first used, so a case received before that
moment still has a version in force."""

import datetime

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


SHIPPED_EFFECTIVE_AT = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)


def shipped_from_the_start(apps, schema_editor):
    """The first stored version, when it is the shipped policy stored on first use (no
    publisher), is in force from the start of time."""
    PolicyVersion = apps.get_model("desk", "PolicyVersion")
    first = PolicyVersion.objects.order_by("effective_at", "id").first()
    if first is not None and first.published_by_id is None and not first.changes:
        PolicyVersion.objects.filter(pk=first.pk).update(
            published_at=SHIPPED_EFFECTIVE_AT, effective_at=SHIPPED_EFFECTIVE_AT)


class Migration(migrations.Migration):

    dependencies = [
        ('desk', '0005_unverified_mail'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='calendarclosure',
            options={'ordering': ['calendar', 'date', 'id'], 'verbose_name': 'calendar closure', 'verbose_name_plural': 'calendar closures'},
        ),
        migrations.RemoveConstraint(
            model_name='calendarclosure',
            name='closure_unique_date',
        ),
        migrations.AddField(
            model_name='calendarclosure',
            name='added_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='added'),
        ),
        migrations.AddField(
            model_name='calendarclosure',
            name='added_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='added by'),
        ),
        migrations.AddField(
            model_name='calendarclosure',
            name='removal_reason',
            field=models.CharField(blank=True, max_length=200, verbose_name='why removed'),
        ),
        migrations.AddField(
            model_name='calendarclosure',
            name='removed_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='removed'),
        ),
        migrations.AddField(
            model_name='calendarclosure',
            name='removed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='removed by'),
        ),
        migrations.AddConstraint(
            model_name='calendarclosure',
            constraint=models.UniqueConstraint(condition=models.Q(('removed_at__isnull', True)), fields=('calendar', 'date'), name='closure_unique_date'),
        ),
        migrations.RunPython(shipped_from_the_start, migrations.RunPython.noop),
    ]
