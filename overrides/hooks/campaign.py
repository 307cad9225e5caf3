"""MkDocs hook: render the campaign facts from ``bdpilot.domain.campaign`` into the pages.

Why: directions, 推荐单位 and quotas, dates and contacts are stated once, in ``bdpilot.domain.campaign``. Pages refer to
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
from bdpilot.web.formhtml import beijing_time

SHORTCODE = re.compile(r"<!--\s*bd:([a-z-]+)(?:\s+([^\s>]+))?\s*-->")
# Authors' notes (any other comment on lines of its own) stay in the source, not in the published HTML.
NOTE = re.compile(r"^<!--(?!\s*bd:).*?-->[ \t]*\n", re.DOTALL | re.MULTILINE)
DIRECTIONS_DIR = "directions"


# --- formatting -------------------------------------------------------------------------------------------------

def fmt_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def last_full_day(dt: datetime) -> date:
    """The last day on which one can still submit ('11月22日前' closes at 0:00, so the 21st)."""
    return (dt.astimezone(c.TZ) - timedelta(microseconds=1)).date()


# The pages are built once, with the notice's deadline; the function's window follows BDPILOT_DEADLINE (a new
# round, the local run). Every statement of the deadline is therefore a marked <time>: docs/assets/site.js
# replaces it with /api/campaign's effective deadline, formatted the same way; without JavaScript this stays.
def deadline_html(dt: datetime) -> str:
    """'2019年11月22日 00:00（北京时间）' (formhtml.beijing_time, as site.js says it) in a <time data-deadline>."""
    return f'<time data-deadline datetime="{dt.isoformat()}">{beijing_time(dt, seconds=False)}</time>'


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
        raise ValueError(f"no 推荐单位 kind {arg!r}; one of {[k.value for k in c.RecommenderKind]}") from None


def link(page: Page, target: str, text: str) -> str:
    """A Markdown link to another page, relative to ``page`` so MkDocs validates it."""
    rel = posixpath.relpath(target, posixpath.dirname(page.file.src_uri) or ".")
    return f"[{text}]({rel})"


def title(d: c.Direction) -> str:
    return f"方向{d.number} {d.name}"


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
    rows = ["| 编号 | 大类 | 细分方向 | 支持内容（摘要） |", "| --- | --- | --- | --- |"]
    rows += [
        f"| {d.number} | {d.category.name} | {link(page, direction_page(d), d.name)} | {d.summary} |"
        for d in c.DIRECTIONS
    ]
    return "\n".join(rows)


def categories_list(page: Page) -> str:
    lines = []
    for cat in c.CATEGORIES:
        names = "、".join(link(page, direction_page(d), title(d)) for d in c.DIRECTIONS if d.category == cat)
        lines.append(f"{cat.number}. **{cat.name}**：{names}")
    return "\n".join(lines)


def quota_table(_: Page) -> str:
    rows = ["| 推荐单位类别 | 每个推荐单位最多推荐 |", "| --- | --- |"]
    rows += [f"| {info.name} | {info.quota} 个项目 |" for info in c.RECOMMENDER_KINDS.values()]
    return "\n".join(rows)


def recommenders(_: Page) -> str:
    groups: dict[str, list[c.Recommender]] = {}
    for r in c.RECOMMENDERS:
        groups.setdefault(r.group, []).append(r)
    rows = ["| 类别 | 推荐单位 | 数量 | 每个最多推荐 |", "| --- | --- | --- | --- |"]
    for group, members in groups.items():
        names = "、".join(r.name for r in members)
        rows.append(f"| {group} | {names} | {len(members)} | {members[0].quota} 个项目 |")
    central = c.RECOMMENDER_KINDS[c.RecommenderKind.CENTRAL]
    choice = f"见下方名单；在线申报时推荐单位选择“{c.OTHER_RECOMMENDER}”，再从{central.name}列表中选择"
    rows.append(f"| {central.name} | {choice} | {len(c.CENTRAL_ENTERPRISES)} | {central.quota} 个项目 |")
    other = c.RECOMMENDER_KINDS[c.RecommenderKind.OTHER]
    choice = (f"不设名单，在线申报时推荐单位选择“{c.OTHER_RECOMMENDER}”，再选择“{c.UNLISTED_RECOMMENDER}”"
              f"并填写单位全称（列表中已有的单位不能这样填写）")
    rows.append(f"| {other.name} | {choice} | — | {other.quota} 个项目 |")
    # The central enterprises are too many for a table cell: a paragraph of their full names below it.
    listing = (f"**{central.name}名单**（国务院国资委监管的中央企业，共 {len(c.CENTRAL_ENTERPRISES)} 家）："
               + "、".join(c.CENTRAL_ENTERPRISES) + "。")
    return "\n".join(rows) + "\n\n" + listing


def key_dates(_: Page) -> str:
    n = c.NOTICE
    rows = [
        "| 事项 | 时间 |",
        "| --- | --- |",
        f"| 通知印发（{n.number}） | {fmt_date(n.issued)} |",
        f"| 通知发布 | {fmt_date(n.published)} |",
        f"| 网上填报截止 | **{deadline_html(c.DEADLINE)}**，即最晚于 {last_day_html(c.DEADLINE)}当天完成 |",
        f"| 试点示范期 | 自入选项目公布之日起 {c.PILOT_YEARS} 年 |",
    ]
    return "\n".join(rows)


def contacts(_: Page) -> str:
    k = c.CONTACTS
    people = "\n".join(f"- 联系人：{p.name}，电话 [{p.phone}]({p.tel_uri})" for p in k.people)
    return (
        f"{people}\n- 联系邮箱：[{k.email}](mailto:{k.email})\n"
        f"- 邮寄地址：{k.address}\n- 邮政编码：{k.postcode}"
    )


def direction_facts(page: Page) -> str:
    d = direction_arg(None, page)
    return (
        f'!!! abstract "方向摘要"\n\n'
        f"    - 编号：方向{d.number}\n"
        f"    - 所属大类：{d.category.name}\n"
        f"    - 在线申报中的名称：{d.label}\n"
        f"    - 支持内容：{d.summary}\n"
    )


# --- the shortcode table ----------------------------------------------------------------------------------------

Render = Callable[[str | None, Page], str]

SHORTCODES: dict[str, Render] = {
    # the notice
    "title": lambda a, p: c.NOTICE.title,
    "number": lambda a, p: c.NOTICE.number,
    "issuer": lambda a, p: c.NOTICE.issuer,
    "issued": lambda a, p: fmt_date(c.NOTICE.issued),
    "published": lambda a, p: fmt_date(c.NOTICE.published),
    "system": lambda a, p: f"“{c.NOTICE.system_name}”",
    "system-url": lambda a, p: c.NOTICE.system_url,
    "official": lambda a, p: f"[工业和信息化部网站（{c.NOTICE.official_site}）]({c.NOTICE.official_site})",
    "attachment": lambda a, p: c.ATTACHMENT_TITLE,
    # dates and rules
    "deadline": lambda a, p: deadline_html(c.DEADLINE),
    "last-day": lambda a, p: last_day_html(c.DEADLINE),
    "pilot-years": lambda a, p: str(c.PILOT_YEARS),
    "projects-per-applicant": lambda a, p: str(c.PROJECTS_PER_APPLICANT),
    "directions-per-project": lambda a, p: str(c.DIRECTIONS_PER_PROJECT),
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
