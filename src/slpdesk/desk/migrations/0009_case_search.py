"""Full-text search (issue 13): the search document table, the engine's index over it
(two tsvector columns with GIN indexes on PostgreSQL, an FTS5 table kept in step by
triggers on SQLite), and a document for every case that exists."""

import django.db.models.deletion
from django.db import migrations, models

# The vectors are written by slpdesk.desk.search.reindex with the texts.
POSTGRES = [
    "ALTER TABLE desk_casesearch ADD COLUMN public_vector tsvector",
    "ALTER TABLE desk_casesearch ADD COLUMN staff_vector tsvector",
]  # the GIN indexes: built by index_existing_cases (search.reindex)
POSTGRES_REVERSE: list[str] = []  # the table goes with its indexes

SQLITE = [
    "CREATE VIRTUAL TABLE desk_casesearch_fts USING fts5(head, body, internal,"
    " content='desk_casesearch', content_rowid='case_id',"
    " tokenize='porter unicode61 remove_diacritics 0')",
    "CREATE TRIGGER desk_casesearch_ai AFTER INSERT ON desk_casesearch BEGIN"
    " INSERT INTO desk_casesearch_fts(rowid, head, body, internal)"
    " VALUES (new.case_id, new.head, new.body, new.internal); END",
    "CREATE TRIGGER desk_casesearch_ad AFTER DELETE ON desk_casesearch BEGIN"
    " INSERT INTO desk_casesearch_fts(desk_casesearch_fts, rowid, head, body, internal)"
    " VALUES ('delete', old.case_id, old.head, old.body, old.internal); END",
    "CREATE TRIGGER desk_casesearch_au AFTER UPDATE ON desk_casesearch BEGIN"
    " INSERT INTO desk_casesearch_fts(desk_casesearch_fts, rowid, head, body, internal)"
    " VALUES ('delete', old.case_id, old.head, old.body, old.internal);"
    " INSERT INTO desk_casesearch_fts(rowid, head, body, internal)"
    " VALUES (new.case_id, new.head, new.body, new.internal); END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS desk_casesearch_au",
    "DROP TRIGGER IF EXISTS desk_casesearch_ad",
    "DROP TRIGGER IF EXISTS desk_casesearch_ai",
    "DROP TABLE IF EXISTS desk_casesearch_fts",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql)
    return run


def index_existing_cases(apps, schema_editor):
    from slpdesk.desk.search import reindex

    reindex()


class Migration(migrations.Migration):

    dependencies = [
        ('desk', '0008_form_token'),
    ]

    operations = [
        migrations.CreateModel(
            name='CaseSearch',
            fields=[
                ('case', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='search_document', serialize=False, to='desk.case', verbose_name='case')),
                ('head', models.TextField(verbose_name='number, title and names')),
                ('body', models.TextField(verbose_name='description and messages')),
                ('internal', models.TextField(verbose_name='internal notes')),
            ],
            options={
                'verbose_name': 'search document',
                'verbose_name_plural': 'search documents',
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
        migrations.RunPython(index_existing_cases, migrations.RunPython.noop),
    ]
