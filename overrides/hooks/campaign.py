"""MkDocs hook: render the campaign facts from ``bdpilot.domain.campaign`` into the pages.

Why: directions, 推荐单位 and quotas, dates and contacts are stated once, in ``bdpilot.domain.campaign``; the upload
limit and the files per kind in the models; every sentence the hook writes around them in the wording catalogue
(``site`` section). Pages refer to
them with shortcodes instead of repeating them by hand, so the site cannot drift from the form and the rules.

A shortcode is an HTML comment, so a raw Markdown preview stays clean::

    <!-- bd:NAME -->        <!-- bd:NAME ARG -->

Inline shortcodes (``deadline``, ``quota province``, ``direction 3`` …) expand to Markdown text; block ones
(``quota-table``, ``recommenders``, ``contacts`` …) stand on a line of their own and expand to Markdown blocks.
``direction-*`` shortcodes without a number refer to the page's own direction: ``directions/<slug>.md`` is the
guide of the direction with that ``Direction.slug``. Other HTML comments standing at the start of a line are
authors' notes and are dropped from the output. An unknown shortcode, a bad argument, or a direction without
its page fails the build.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from bdpilot.domain import campaign as c
from bdpilot.domain import wording
from bdpilot.domain.formats import beijing_time, date_text

SHORTCODE = re.compile(r"<!--\s*bd:([a-z-]+)(?:\s+([^\s>]+))?\s*-->")
# Authors' notes (any other comment on lines of its own) stay in the source, not in the published HTML.
NOTE = re.compile(r"^<!--(?!\s*bd:).*?-->[ \t]*\n", re.DOTALL | re.MULTILINE)
DIRECTIONS_DIR = "directions"


# --- formatting -------------------------------------------------------------------------------------------------

def fmt_date(d: date) -> str:
    return date_text(d)


def enumerate_(items: list[str]) -> str:
    return wording.text("site.enumeration").join(items)


def last_full_day(dt: datetime) -> date:
    """The last day on which one can still submit ('11月22日前' closes at 0:00, so the 21st)."""
    return (dt.astimezone(c.TZ) - timedelta(microseconds=1)).date()


# The pages are built once, with the notice's deadline; the function's window follows BDPILOT_DEADLINE (a new
# round, the local run). Every statement of the deadline is therefore a marked <time>: docs/assets/site.js
# replaces it with /api/campaign's effective deadline, formatted the same way; without JavaScript this stays.
def deadline_html(dt: datetime, mark: str = "data-deadline") -> str:
    """'2019年11月22日 00:00（北京时间）' (formats.beijing_time, as site.js says it) in a <time data-deadline> (or
    data-unit-deadline: the 推荐单位's, which follows the applicants' when only theirs is overridden)."""
    return f'<time {mark} datetime="{dt.isoformat()}">{beijing_time(dt, seconds=False)}</time>'


def last_day_html(dt: datetime) -> str:
    day = last_full_day(dt)
    return f'<time data-last-day datetime="{day.isoformat()}">{fmt_date(day)}</time>'


# --- lookups ----------------------------------------------------------------------------------------------------

def direction_page(d: c.Direction) -> str:
    return f"{DIRECTIONS_DIR}/{d.slug}.md"


def page_direction(page: Page) -> c.Direction | None:
    return next((d for d in c.DIRECTIONS if page.file.src_uri == direction_page(d)), None)


def direction_arg(arg: str | None, page: Page) -> c.Direction:
    if arg is None:
        d = page_direction(page)
        if d is None:
            raise ValueError("needs a direction number outside a direction page")
        return d
    try:
        return c.DIRECTIONS_BY_NUMBER[int(arg)]
    except (ValueError, KeyError):
        raise ValueError(f"no direction {arg!r}") from None


def kind_arg(arg: str | None) -> c.RecommenderKindInfo:
    try:
        return c.RECOMMENDER_KINDS[c.RecommenderKind(arg or "")]
    except ValueError:
        raise ValueError(f"no recommender kind {arg!r}; one of {[k.value for k in c.RecommenderKind]}") from None


def link(page: Page, target: str, text: str) -> str:
    """A Markdown link to another page, relative to ``page`` so MkDocs validates it."""
    rel = posixpath.relpath(target, posixpath.dirname(page.file.src_uri) or ".")
    return f"[{text}]({rel})"


def title(d: c.Direction) -> str:
    return wording.text("site.direction_title", number=d.number, name=d.name)


# --- block renderers --------------------------------------------------------------------------------------------

def direction_cards(page: Page) -> str:
    # Material's CSS-only "grid cards": a list inside a div marked for md_in_html.
    items = []
    for d in c.DIRECTIONS:
        items.append(
            f"-   **{link(page, direction_page(d), title(d))}**\n\n"
            f"    {d.category.name}\n    {{ .bd-card-category }}\n\n"
            f"    {d.summary}\n"
        )
    return '<div class="grid cards" markdown>\n\n' + "\n".join(items) + "\n</div>"


def directions_table(page: Page) -> str:
    rows = [wording.text("site.directions_head"), "| --- | --- | --- | --- |"]
    rows += [
        f"| {d.number} | {d.category.name} | {link(page, direction_page(d), d.name)} | {d.summary} |"
        for d in c.DIRECTIONS
    ]
    return "\n".join(rows)


def categories_list(page: Page) -> str:
    lines = []
    for cat in c.CATEGORIES:
        names = enumerate_([link(page, direction_page(d), title(d)) for d in c.DIRECTIONS if d.category == cat])
        lines.append(wording.text("site.category_line", number=cat.number, name=cat.name, directions=names))
    return "\n".join(lines)


def quota_table(_: Page) -> str:
    rows = [wording.text("site.quota_head"), "| --- | --- |"]
    rows += [f"| {info.name} | {wording.text('site.projects', count=info.quota)} |"
             for info in c.RECOMMENDER_KINDS.values()]
    return "\n".join(rows)


def recommenders(_: Page) -> str:
    groups: dict[str, list[c.Recommender]] = {}
    for r in c.RECOMMENDERS:
        groups.setdefault(r.group, []).append(r)
    rows = [wording.text("site.recommenders_head"), "| --- | --- | --- | --- |"]
    for group, members in groups.items():
        names = enumerate_([r.name for r in members])
        rows.append(f"| {group} | {names} | {len(members)} | {wording.text('site.projects', count=members[0].quota)} |")
    central = c.RECOMMENDER_KINDS[c.RecommenderKind.CENTRAL]
    choice = wording.text("site.central_choice", other=c.OTHER_RECOMMENDER, central=central.name)
    rows.append(f"| {central.name} | {choice} | {len(c.CENTRAL_ENTERPRISES)} | "
                f"{wording.text('site.projects', count=central.quota)} |")
    other = c.RECOMMENDER_KINDS[c.RecommenderKind.OTHER]
    choice = wording.text("site.unlisted_choice", other=c.OTHER_RECOMMENDER, unlisted=c.UNLISTED_RECOMMENDER)
    rows.append(f"| {other.name} | {choice} | — | {wording.text('site.projects', count=other.quota)} |")
    # The central enterprises are too many for a table cell: a paragraph of their full names below it.
    listing = wording.text("site.central_listing", central=central.name, count=len(c.CENTRAL_ENTERPRISES),
                  names=enumerate_(list(c.CENTRAL_ENTERPRISES)))
    return "\n".join(rows) + "\n\n" + listing


def key_dates(_: Page) -> str:
    n = c.NOTICE
    deadline = wording.text("site.deadline_when", deadline=deadline_html(c.DEADLINE),
                            last_day=last_day_html(c.DEADLINE))
    rows = [
        wording.text("site.dates_head"),
        "| --- | --- |",
        f"| {wording.text('site.issued', number=n.number)} | {fmt_date(n.issued)} |",
        f"| {wording.text('site.published')} | {fmt_date(n.published)} |",
        f"| {wording.text('site.deadline')} | {deadline} |",
        f"| {wording.text('site.pilot_period')} | {wording.text('site.pilot_years', years=c.PILOT_YEARS)} |",
    ]
    return "\n".join(rows)


def contacts(_: Page) -> str:
    k = c.CONTACTS
    lines = [wording.text("site.contact_person", name=p.name, phone=p.phone, tel=p.tel_uri) for p in k.people]
    lines += [wording.text("site.contact_email", email=k.email),
              wording.text("site.contact_address", address=k.address),
              wording.text("site.contact_postcode", postcode=k.postcode)]
    return "\n".join(lines)


def direction_facts(page: Page) -> str:
    d = direction_arg(None, page)
    facts = [wording.text("site.facts_number", number=d.number),
             wording.text("site.facts_category", category=d.category.name),
             wording.text("site.facts_label", label=d.label),
             wording.text("site.facts_summary", summary=d.summary)]
    return f'!!! abstract "{wording.text("site.facts_title")}"\n\n' + "".join(f"    - {fact}\n" for fact in facts)


# --- the shortcode table ----------------------------------------------------------------------------------------

Render = Callable[[str | None, Page], str]

SHORTCODES: dict[str, Render] = {
    # the notice
    "title": lambda a, p: c.NOTICE.title,
    "number": lambda a, p: c.NOTICE.number,
    "issuer": lambda a, p: c.NOTICE.issuer,
    "issued": lambda a, p: fmt_date(c.NOTICE.issued),
    "published": lambda a, p: fmt_date(c.NOTICE.published),
    "system": lambda a, p: wording.text("site.quoted", text=c.NOTICE.system_name),
    "system-url": lambda a, p: c.NOTICE.system_url,
    "official": lambda a, p: wording.text("site.official", site=c.NOTICE.official_site),
    "attachment": lambda a, p: c.ATTACHMENT_TITLE,
    # dates and rules
    "deadline": lambda a, p: deadline_html(c.DEADLINE),
    "last-day": lambda a, p: last_day_html(c.DEADLINE),
    "unit-deadline": lambda a, p: deadline_html(c.RECOMMENDATION_DEADLINE, "data-unit-deadline"),
    "pilot-years": lambda a, p: str(c.PILOT_YEARS),
    "projects-per-applicant": lambda a, p: str(c.PROJECTS_PER_APPLICANT),
    "directions-per-project": lambda a, p: str(c.DIRECTIONS_PER_PROJECT),
    # the form's standing figures (the models hold them; the catalogue words them the same way)
    "upload-limit": lambda a, p: str(wording.figures()["upload_limit"]),
    "per-kind": lambda a, p: str(wording.figures()["per_kind"]),
    # directions
    "category-count": lambda a, p: str(len(c.CATEGORIES)),
    "direction-count": lambda a, p: str(len(c.DIRECTIONS)),
    "direction": lambda a, p: link(p, direction_page(d := direction_arg(a, p)), title(d)),
    "direction-name": lambda a, p: direction_arg(a, p).name,
    "direction-title": lambda a, p: title(direction_arg(a, p)),
    "direction-category": lambda a, p: direction_arg(a, p).category.name,
    "direction-summary": lambda a, p: direction_arg(a, p).summary,
    # 推荐单位
    "quota": lambda a, p: str(kind_arg(a).quota),
    "kind": lambda a, p: kind_arg(a).name,
    "other-recommender": lambda a, p: c.OTHER_RECOMMENDER,
    "unlisted-recommender": lambda a, p: c.UNLISTED_RECOMMENDER,
    "recommender-count": lambda a, p: str(len(c.RECOMMENDERS)),
    # contacts
    "email": lambda a, p: f"[{c.CONTACTS.email}](mailto:{c.CONTACTS.email})",
    # blocks
    "direction-cards": lambda a, p: direction_cards(p),
    "directions-table": lambda a, p: directions_table(p),
    "categories": lambda a, p: categories_list(p),
    "quota-table": lambda a, p: quota_table(p),
    "recommenders": lambda a, p: recommenders(p),
    "key-dates": lambda a, p: key_dates(p),
    "contacts": lambda a, p: contacts(p),
    "direction-facts": lambda a, p: direction_facts(p),
}


def expand(markdown: str, page: Page) -> str:
    def one(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(2)
        render = SHORTCODES.get(name)
        if render is None:
            raise PluginError(f"{page.file.src_uri}: unknown shortcode bd:{name}")
        try:
            return render(arg, page)
        except ValueError as e:
            raise PluginError(f"{page.file.src_uri}: bd:{name}: {e}") from e

    return SHORTCODE.sub(one, NOTE.sub("", markdown))


# --- MkDocs events ----------------------------------------------------------------------------------------------

def on_files(files: Files, config: MkDocsConfig) -> Files:
    # Every direction has its guide and every guide has its direction: a renamed slug fails the build.
    expected = {direction_page(d) for d in c.DIRECTIONS}
    present = {f.src_uri for f in files.documentation_pages() if f.src_uri.startswith(f"{DIRECTIONS_DIR}/")}
    present.discard(f"{DIRECTIONS_DIR}/index.md")
    if expected != present:
        missing, unknown = sorted(expected - present), sorted(present - expected)
        raise PluginError(f"direction pages: missing {missing}, unknown {unknown}")
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    d = page_direction(page)
    if d is not None:
        # Search engines and link previews get the direction's own summary.
        page.meta.setdefault("description", d.summary)
    return expand(markdown, page)
