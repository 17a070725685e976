from django.db import migrations


def fill_to_80(apps, schema_editor):
    # PostgreSQL only: a fifth of each page of cases left free, so that a write
    # that changes no indexed column (the mark and the recompute after a calendar
    # change, most often) finds room for the new row version on the same page: a
    # heap-only update, no entry in any of the case's indexes. On a table packed
    # full (VACUUM FULL, a restore) 21% of those writes were heap-only, at 75% fill
    # 83-97% (issue 14 item 2).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE desk_case SET (fillfactor = 80)")


def fill_to_100(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE desk_case RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("desk", "0023_recompute_waiting"),
    ]

    operations = [migrations.RunPython(fill_to_80, fill_to_100)]
