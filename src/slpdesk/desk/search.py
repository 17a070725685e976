"""Full-text search over cases, in the database's own search engine.

One search document per case (:class:`~slpdesk.desk.models.CaseSearch`) holds
three texts: ``head`` (number, title, organisation, site, contact, defect
reference), ``body`` (description, resolution summary and every message a
customer may read) and ``internal`` (internal notes: staff only). The engine
indexes them itself, inside the same transaction as the change:

* PostgreSQL: two ``tsvector`` columns written with the texts
  (``public_vector``: head and body; ``staff_vector``: also the notes),
  stemmed in English and Swedish, the head also ``simple`` (names, numbers,
  stop words) and weighted above the rest, with a GIN index each (migration
  0009).
* SQLite: an FTS5 table over the three texts (Porter stemming), kept in step
  with the document table by triggers; customers' searches name only the
  ``head`` and ``body`` columns.

The document is rewritten by one ``INSERT … SELECT`` from the case's rows
(:func:`reindex`), called from the model signals below for every change of a
case, a message, an organisation, a site or a contact, by the migration for
the cases that exist, and by the benchmark.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.utils.safestring import SafeString, mark_safe

from .models import Case, CaseSearch, Message, Organisation, Site, User

#: The words of a query: letters and digits (anything else only separates).
WORD = re.compile(r"\w+", re.UNICODE)
#: Case numbers typed as ``SLP-000042``, ``slp-42``, ``#42`` or ``42``.
CASE_NUMBER = re.compile(r"^\s*(?:slp-?|#)?0*(\d{1,12})\s*$", re.IGNORECASE)
MAX_WORDS = 16
SNIPPET_CHARS = 220

#: Fields of each model whose change rewrites the documents of its cases.
CASE_FIELDS = frozenset({"number", "title", "description", "defect_reference",
                         "resolution_summary", "organisation", "site", "contact"})
NAME_FIELDS = frozenset({"name", "first_name", "last_name", "email", "username"})


# -------------------------------------------------------------- the document
def _aggregate(expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"string_agg({expr}, ' ' ORDER BY m.id)"
    return f"group_concat({expr}, ' ')"


def _document_sql(where: str) -> str:
    """``INSERT … SELECT`` the documents of the cases that ``where`` picks (``c.…``)."""
    def messages(condition: str) -> str:
        return (f"(SELECT {_aggregate('m.body')} FROM desk_message m "
                f"WHERE m.case_id = c.id AND {condition})")

    head = ("COALESCE(c.number, '') || ' ' || c.title || ' ' || o.name || ' ' || s.name"
            " || ' ' || u.first_name || ' ' || u.last_name || ' ' || u.username"
            " || ' ' || u.email || ' ' || c.defect_reference")
    public = messages("m.kind <> 'internal'")
    body = f"c.description || ' ' || c.resolution_summary || ' ' || COALESCE({public}, '')"
    internal = "COALESCE(" + messages("m.kind = 'internal'") + ", '')"
    documents = (
        f"SELECT c.id, {head} AS head, {body} AS body, {internal} AS internal "
        f"FROM desk_case c "
        f"JOIN desk_organisation o ON o.id = c.organisation_id "
        f"JOIN desk_site s ON s.id = c.site_id "
        f"JOIN desk_user u ON u.id = c.contact_id "
        f"WHERE {where}"
    )
    update = "head = excluded.head, body = excluded.body, internal = excluded.internal"
    if connection.vendor != "postgresql":  # FTS5 follows by triggers (migration 0009)
        return (f"INSERT INTO desk_casesearch (case_id, head, body, internal) {documents} "
                f"ON CONFLICT (case_id) DO UPDATE SET {update}")
    return (
        "INSERT INTO desk_casesearch (case_id, head, body, internal, public_vector,"
        " staff_vector) SELECT id, head, body, internal, pv, pv || iv FROM ("
        f"SELECT id, head, body, internal, {_vectors('head', 'A', simple=True)}"
        f" || {_vectors('body', 'D')} AS pv, {_vectors('internal', 'D')} AS iv"
        f" FROM ({documents}) d) v "
        f"ON CONFLICT (case_id) DO UPDATE SET {update}, "
        "public_vector = excluded.public_vector, staff_vector = excluded.staff_vector"
    )


def _vectors(column: str, weight: str, *, simple: bool = False) -> str:
    """PostgreSQL: ``column`` stemmed in English and Swedish (and, for names and
    numbers, unstemmed), weighted; '<' and '>' become spaces, or the parser would
    drop "<hot>" as an HTML tag."""
    text = f"translate({column}, '<>', '  ')"
    configs = ("english", "swedish", "simple") if simple else ("english", "swedish")
    vectors = " || ".join(f"to_tsvector('{config}', {text})" for config in configs)
    return f"setweight({vectors}, '{weight}')"


#: PostgreSQL's GIN indexes (migration 0009); a full rebuild drops them and builds
#: them again after the documents, far faster than updating them row by row.
POSTGRES_INDEXES = {
    "casesearch_public_gin": "CREATE INDEX casesearch_public_gin ON desk_casesearch "
                             "USING gin (public_vector)",
    "casesearch_staff_gin": "CREATE INDEX casesearch_staff_gin ON desk_casesearch "
                            "USING gin (staff_vector)",
}


def reindex(case_ids: Iterable[int] | None = None) -> None:
    """Rewrite the search documents of ``case_ids`` (every case when None)."""
    with connection.cursor() as cursor:
        if case_ids is None:
            rebuild = connection.vendor == "postgresql"
            if rebuild:
                for name in POSTGRES_INDEXES:
                    cursor.execute(f"DROP INDEX IF EXISTS {name}")
            cursor.execute(_document_sql("1 = 1"))
            if rebuild:
                # in a transaction: check the deferred foreign keys now (CREATE INDEX
                # refuses a table with pending trigger events), then defer again
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                for sql in POSTGRES_INDEXES.values():
                    cursor.execute(sql)
            return
        ids = list(case_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            cursor.execute(_document_sql(f"c.id IN ({', '.join(['%s'] * len(chunk))})"),
                           chunk)


# ------------------------------------------------------------------- queries
def words(q: str) -> list[str]:
    """The words of a query, at most ``MAX_WORDS``."""
    return WORD.findall(q or "")[:MAX_WORDS]


def case_number(q: str) -> str | None:
    """The case number ``q`` names (``SLP-000042``), or None when it is not one."""
    found = CASE_NUMBER.match(q or "")
    return f"SLP-{int(found.group(1)):06d}" if found else None


def _fts5_query(terms: list[str], staff: bool) -> str:
    phrase = " ".join('"' + t.replace('"', "") + '"' for t in terms)
    return phrase if staff else "{head body} : (" + phrase + ")"


def search(cases: QuerySet[Case], q: str, *, staff: bool) -> QuerySet[Case]:
    """``cases`` (already limited to what the user may see) that match the words of
    ``q``, annotated with ``search_rank`` (higher is better). ``staff`` includes the
    internal notes; never pass it for a customer. No words: no cases."""
    terms = words(q)
    if not terms:
        return cases.none()
    if connection.vendor == "postgresql":
        vector = "desk_casesearch.staff_vector" if staff else "desk_casesearch.public_vector"
        # parsed like the document (SLP-000042, JIRA-4711); "<x>" is no HTML tag
        text = q.replace("\x00", " ").replace("<", " ").replace(">", " ").strip()
        query = ("(plainto_tsquery('english', %s) || plainto_tsquery('swedish', %s)"
                 " || plainto_tsquery('simple', %s))")
        return cases.extra(
            tables=["desk_casesearch"],
            where=["desk_casesearch.case_id = desk_case.id", f"{vector} @@ {query}"],
            params=[text] * 3,
            select={"search_rank": f"ts_rank_cd({vector}, {query})"},
            select_params=[text] * 3,
        )
    return cases.extra(
        tables=["desk_casesearch_fts"],
        where=["desk_casesearch_fts.rowid = desk_case.id", "desk_casesearch_fts MATCH %s"],
        params=[_fts5_query(terms, staff)],
        # bm25 is lower for a better match; the head counts ten times the rest.
        select={"search_rank": "-bm25(desk_casesearch_fts, 10.0, 1.0, 1.0)"},
    )


def ranked(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Search results best first (a tie: the newest case first)."""
    return cases.order_by("-search_rank", "-received_at", "-pk")


# ------------------------------------------------------------------ snippets
def _stem(word: str) -> str:
    """A prefix that stands for a word's forms when marking it (crash for crashes)."""
    word = word.casefold()
    return word if len(word) <= 4 else word[:max(4, len(word) - 2)]


def snippet(text: str, q: str, width: int = SNIPPET_CHARS) -> SafeString:
    """The part of ``text`` with the most words of ``q``, HTML-escaped, each matching
    word in ``<mark>``; empty when no word occurs."""
    stems = {_stem(t) for t in words(q)}
    if not text or not stems:
        return mark_safe("")
    hits = [m for m in WORD.finditer(text)
            if any(m.group().casefold().startswith(s) for s in stems)]
    if not hits:
        return mark_safe("")
    best, best_count = hits[0].start(), 0
    for hit in hits:
        count = sum(1 for h in hits if hit.start() <= h.start() < hit.start() + width)
        if count > best_count:
            best, best_count = hit.start(), count
    start = max(0, best - width // 4)
    while start > 0 and not text[start - 1].isspace() and best - start < width // 2:
        start -= 1
    end = min(len(text), start + width)
    parts, at = [], start
    for hit in hits:
        if hit.start() < start or hit.end() > end:
            continue
        parts.append(html.escape(text[at:hit.start()]))
        parts.append(f"<mark>{html.escape(hit.group())}</mark>")
        at = hit.end()
    parts.append(html.escape(text[at:end]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return mark_safe(prefix + " ".join("".join(parts).split()) + suffix)


def snippets(case_ids: list[int], q: str, *, staff: bool) -> dict[int, SafeString]:
    """A snippet per case (one query): from the description and messages, and for
    staff the internal notes; else from the head (names, reference)."""
    found = {}
    for row in CaseSearch.objects.filter(case_id__in=case_ids).values(
            "case_id", "head", "body", "internal"):
        texts = [row["body"], row["internal"]] if staff else [row["body"]]
        for text in [*texts, row["head"]]:
            found[row["case_id"]] = snippet(text, q)
            if found[row["case_id"]]:
                break
    return found


# ------------------------------------------------------------------- signals
def _touches(update_fields, fields: frozenset) -> bool:
    return update_fields is None or bool(fields & set(update_fields))


def _case_saved(sender, instance, created, update_fields, raw=False, **kwargs):
    # A case is first saved without its number, which the next save (in the same
    # transaction) gives it: the document is written once, with the number.
    if not raw and instance.number and _touches(update_fields, CASE_FIELDS):
        reindex([instance.pk])


def _message_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        reindex([instance.case_id])


def _names_changed(sender, instance, created, update_fields, raw=False, **kwargs):
    if raw or created or not _touches(update_fields, NAME_FIELDS):
        return
    if sender is User:
        ids = Case.objects.filter(contact=instance).values_list("pk", flat=True)
    elif sender is Site:
        ids = Case.objects.filter(site=instance).values_list("pk", flat=True)
    else:
        ids = Case.objects.filter(organisation=instance).values_list("pk", flat=True)
    reindex(ids)


def connect() -> None:
    """Keep the documents in step with every save (from the app's ``ready``)."""
    post_save.connect(_case_saved, sender=Case, dispatch_uid="search_case")
    post_save.connect(_message_changed, sender=Message, dispatch_uid="search_message")
    for model in (Organisation, Site, User):
        post_save.connect(_names_changed, sender=model, dispatch_uid=f"search_{model.__name__}")


def jump(cases: QuerySet[Case], q: str) -> str | None:
    """The number of the case ``q`` names when it is one of ``cases`` (the search box
    goes straight to it), else None."""
    number = case_number(q)
    if number and cases.filter(number=number).exists():
        return number
    return None
