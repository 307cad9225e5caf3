"""The built site against its two sources: the campaign data module and the notice copy (the seed).

The site is built once per session into a temporary directory, so these tests never depend on a prior build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bdpilot.domain import campaign as c
from bdpilot.domain.application import MAX_ATTACHMENTS_PER_KIND, MAX_UPLOAD_BYTES, form_schema
from bdpilot.domain.formats import beijing_time, size_text
from bdpilot.web.draftcopy import field_rules
from bdpilot.web.schemawalk import section_anchor, sections

ROOT = Path(__file__).resolve().parents[2]
UPLOAD_LIMIT = size_text(MAX_UPLOAD_BYTES)
DOCS = ROOT / "docs"
SEED = DOCS / "_sources" / "notice-seed.txt"

# The notice's own order, by section heading. Each section lists the opening words of its sentences as they stand
# in the notice; the sentences themselves come from the seed (see seed_sentences). A seed sentence that holds a
# heading starts with the end of the paragraph before it when the copy ran them together (e.g. 现将…如下：一、支持方向).
NOTICE_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("标题、文号、主送单位与引言", ("工业和信息化部办公厅关于组织开展",)),
    ("一、支持方向", ("现将有关事项通知如下：一、支持方向",)),
    ("（一）工业大数据融合应用", ("（一）工业大数据融合应用工业现场方向", "企业应用方向", "重点行业方向")),
    ("（二）民生大数据创新应用", ("（二）民生大数据创新应用",)),
    ("（三）大数据关键技术先导应用", ()),  # body missing from the copy: heading and a note only
    ("（四）大数据管理能力提升", ("（四）大数据管理能力提升数据管理能力方向", "公共服务平台方向")),
    ("二、申报要求", (
        "二、申报要求（一）", "各省、自治区、直辖市及新疆生产建设兵团主管部门", "每个申报主体",
        "申报主体应遵守", "申报项目要求", "（三）工业和信息化部将",
    )),
    ("三、申报方式", ("三、申报方式", "纸质版材料")),
    ("四、联系方式、附件与落款", ("四、联系方式",)),
)
# The headings the notice page shows as h2/h3, in order.
NOTICE_HEADINGS = (
    "一、支持方向", "（一）工业大数据融合应用", "（二）民生大数据创新应用", "（三）大数据关键技术先导应用",
    "（四）大数据管理能力提升", "二、申报要求", "三、申报方式", "四、联系方式",
)


# --- helpers ----------------------------------------------------------------------------------------------------

class _Article(HTMLParser):
    """Text and headings of a Material page's <article> (the page body, without header, nav and footer)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # nesting inside <article>
        self.text: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self._heading: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article" or self.depth:
            self.depth += tag == "article"
            if tag in ("h1", "h2", "h3", "h4"):
                self._heading = (tag, [])

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "article":
            self.depth -= 1
        if self._heading and tag == self._heading[0]:
            self.headings.append((tag, "".join(self._heading[1]).strip()))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)
            if self._heading:
                self._heading[1].append(data)


def article(html: str) -> _Article:
    parser = _Article()
    parser.feed(html)
    return parser


def squash(text: str) -> str:
    """Remove all whitespace: the seed runs paragraphs together, the page splits them into elements."""
    return re.sub(r"\s+", "", text)


def seed_sentences() -> list[str]:
    """Every sentence of the seed once, in first-seen order. <BR> is markup left in the copy, not text."""
    raw = re.sub(r"(?i)<br\s*/?>", "", SEED.read_text(encoding="utf-8"))
    parts = (squash(p) for p in re.split(r"(?<=。)", raw))
    return list(dict.fromkeys(p for p in parts if p))


def fmt_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def fmt_deadline(dt: datetime) -> str:
    return beijing_time(dt, seconds=False)


# --- the build --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # cwd=ROOT: the search plugin resolves its jieba dictionary path against the working directory.
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT, check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return out


def page(site: Path, url: str) -> str:
    return (site / url / "index.html").read_text(encoding="utf-8")


# --- the notice -------------------------------------------------------------------------------------------------

def test_notice_order_covers_every_seed_sentence_exactly() -> None:
    sentences = seed_sentences()
    openings = [o for _, section in NOTICE_ORDER for o in section]
    for s in sentences:
        assert sum(s.startswith(o) for o in openings) == 1, f"no single place in NOTICE_ORDER for: {s[:40]}"
    for o in openings:
        assert sum(s.startswith(o) for s in sentences) == 1, f"opening matches no single seed sentence: {o}"


def test_every_seed_sentence_once_and_in_notice_order(site: Path) -> None:
    text = squash("".join(article(page(site, "notice")).text))
    sentences = seed_sentences()
    positions = []
    for _, section in NOTICE_ORDER:
        for opening in section:
            sentence = next(s for s in sentences if s.startswith(opening))
            assert text.count(sentence) == 1, f"not exactly once on the notice page: {sentence[:40]}"
            positions.append(text.index(sentence))
    assert positions == sorted(positions), "the notice page does not follow the notice's order"


def test_notice_headings_number_and_dates(site: Path) -> None:
    html = page(site, "notice")
    parsed = article(html)
    headings = [t for tag, t in parsed.headings if tag in ("h2", "h3")]
    assert [h for h in headings if h in NOTICE_HEADINGS] == list(NOTICE_HEADINGS)
    h1 = [t for tag, t in parsed.headings if tag == "h1"]
    assert h1 == [c.NOTICE.title]
    text = "".join(parsed.text)
    assert c.NOTICE.number in text
    assert f"发布日期:{c.NOTICE.published.isoformat()}" in text
    assert fmt_date(c.NOTICE.issued) in text


def test_missing_section_is_announced_not_invented(site: Path) -> None:
    html = page(site, "notice")
    text = squash("".join(article(html).text))
    after = text.split("（三）大数据关键技术先导应用", 1)[1].split("（四）大数据管理能力提升", 1)[0]
    assert "本段正文未收录" in after and "不转载" in after
    assert f'href="{c.NOTICE.official_site}"' in html


# --- directions -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", c.DIRECTIONS, ids=lambda d: d.slug)
def test_every_direction_has_its_guide(site: Path, d: c.Direction) -> None:
    parsed = article(page(site, f"directions/{d.slug}"))
    assert [t for tag, t in parsed.headings if tag == "h1"] == [f"方向{d.number} {d.name}"]
    text = "".join(parsed.text)
    assert d.summary in text and d.category.name in text and d.label in text
    for criterion in ("自主知识产权", "技术先进", "示范带动", "常见错误"):
        assert criterion in text


def test_direction_5_guide_is_marked_as_our_own(site: Path) -> None:
    html = page(site, f"directions/{c.DIRECTIONS_BY_NUMBER[5].slug}")
    text = "".join(article(html).text)
    assert "本站自行编写的指引，不是通知原文" in text
    assert f'href="{c.NOTICE.official_site}"' in html


def test_home_and_overview_link_every_direction(site: Path) -> None:
    for url, prefix in (("", "directions/"), ("directions", "")):
        html = page(site, url)
        for d in c.DIRECTIONS:
            assert f'href="{prefix}{d.slug}/"' in html, (url, d.slug)


# --- dates, quotas, contacts ------------------------------------------------------------------------------------

def test_home_shows_key_dates_and_links(site: Path) -> None:
    html = page(site, "")
    text = "".join(article(html).text)
    assert fmt_deadline(c.DEADLINE) in text
    assert fmt_date((c.DEADLINE - timedelta(microseconds=1)).astimezone(c.TZ).date()) in text
    assert fmt_date(c.NOTICE.issued) in text and fmt_date(c.NOTICE.published) in text
    assert f"{len(c.CATEGORIES)} 大类 {len(c.DIRECTIONS)} 个细分方向" in text
    for target in ("notice/", "apply/", "contact/", "faq/", "requirements/"):
        assert f'href="{target}"' in html


def test_requirements_quotas_and_recommenders(site: Path) -> None:
    html = page(site, "requirements")
    for info in c.RECOMMENDER_KINDS.values():
        assert re.search(rf"<td>{re.escape(info.name)}</td>\s*<td>{info.quota} 个项目</td>", html), info.name
    text = "".join(article(html).text)
    for r in c.LISTED_RECOMMENDERS:
        assert r.name in text
    assert c.OTHER_RECOMMENDER in text and c.UNLISTED_RECOMMENDER in text
    assert fmt_deadline(c.DEADLINE) in text
    assert f"为期 {c.PILOT_YEARS} 年" in text
    assert f"限申报 {c.PROJECTS_PER_APPLICANT} 个项目" in text and f"限申报 {c.DIRECTIONS_PER_PROJECT} 个方向" in text


def test_contact_page_links(site: Path) -> None:
    html = page(site, "contact")
    k = c.CONTACTS
    for p in k.people:
        assert f'<a href="{p.tel_uri}">{p.phone}</a>' in html
        assert p.name in html
    assert f'<a href="mailto:{k.email}">{k.email}</a>' in html
    assert k.address in html and k.postcode in html


def test_faq_has_real_questions(site: Path) -> None:
    parsed = article(page(site, "faq"))
    questions = [t for tag, t in parsed.headings if tag == "h2" and t.endswith("？")]
    assert len(questions) >= 12
    text = "".join(parsed.text)
    assert fmt_deadline(c.DEADLINE) in text
    for info in c.RECOMMENDER_KINDS.values():
        assert info.name in text


def test_apply_placeholder_exists(site: Path) -> None:
    assert "在线申报" in page(site, "apply")


def test_pages_do_not_restate_campaign_facts_by_hand() -> None:
    """Only the notice (verbatim) may state these facts literally; every other page uses bd: shortcodes."""
    facts = {
        c.NOTICE.number, c.NOTICE.system_url, c.NOTICE.official_site, c.ATTACHMENT_TITLE, c.OTHER_RECOMMENDER,
        c.CONTACTS.email, c.CONTACTS.address, c.CONTACTS.postcode,
        fmt_date(c.NOTICE.issued), fmt_date(c.NOTICE.published), c.NOTICE.published.isoformat(),
        f"{c.DEADLINE.month}月{c.DEADLINE.day}日", f"为期{c.PILOT_YEARS}年", f"为期 {c.PILOT_YEARS} 年",
        *(p.phone for p in c.CONTACTS.people), *(p.name for p in c.CONTACTS.people),
        *(d.name for d in c.DIRECTIONS), *(cat.name for cat in c.CATEGORIES),
        *(info.name for info in c.RECOMMENDER_KINDS.values()), *(r.name for r in c.LISTED_RECOMMENDERS),
        *(f"{info.quota} 个项目" for info in c.RECOMMENDER_KINDS.values()),
        *(f"不超过{info.quota}" for info in c.RECOMMENDER_KINDS.values()),
        # the form's standing figures: <!-- bd:upload-limit -->, <!-- bd:per-kind -->
        UPLOAD_LIMIT, UPLOAD_LIMIT.replace(" ", ""), f"{MAX_ATTACHMENTS_PER_KIND}个文件",
    }
    found = {
        str(md.relative_to(ROOT)): sorted(f for f in facts if f in md.read_text(encoding="utf-8"))
        for md in DOCS.rglob("*.md")
        if md != DOCS / "notice.md"
    }
    assert not {k: v for k, v in found.items() if v}, "pages state campaign facts by hand"


# --- search -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("term", "url"), [
    ("钢铁", "directions/key-industries/"),
    ("数据管理能力", "directions/data-management/"),
    ("推荐单位", "requirements/"),
    ("联系人", "contact/"),
])
def test_search_index_has_segmented_chinese_terms(site: Path, term: str, url: str) -> None:
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(index["config"]["separator"])
    assert "\u200b" in index["docs"][1]["text"], "Chinese text is not segmented (is jieba installed?)"
    pages = {
        doc["location"].split("#")[0]
        for doc in index["docs"]
        if term in separator.split(f"{doc['title']} {doc['text']}")
    }
    assert url in pages, f"{term!r} is not a search token on {url}: {sorted(pages)}"


def test_the_form_is_not_in_the_search_index(site: Path) -> None:
    """The form's labels, hints and options are not the guidance: a search for a direction or a unit must find
    the pages about it, not the form's select boxes (Material ends an excluded <div> at its first </div>)."""
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    apply_text = "".join(f"{d['title']} {d['text']}" for d in index["docs"]
                         if d["location"].split("#")[0] == "apply/").replace("\u200b", "")
    assert "在线申报" in apply_text  # the page's own words are indexed
    for label in ("统一社会信用代码", "项目总投资", "上年度研发投入"):
        assert label not in apply_text, label
    assert "data-search-exclude" in page(site, "apply")


def test_the_units_deadline_is_marked_for_the_effective_one(site: Path) -> None:
    """The 推荐单位's deadline (campaign data; the notice gives none) is stated as a <time data-unit-deadline>."""
    for url in ("requirements", "faq"):
        marked = re.findall(r'<time data-unit-deadline datetime="([^"]+)">([^<]+)</time>', page(site, url))
        assert marked, url
        assert all(datetime.fromisoformat(iso) == c.RECOMMENDATION_DEADLINE for iso, _ in marked)


# --- the deadline, the blank 申报书, the section list ----------------------------------------------------------------

@pytest.mark.parametrize("url", ["", "requirements", "faq", "apply", "apply/draft"])
def test_every_stated_deadline_is_marked_for_the_effective_one(site: Path, url: str) -> None:
    """site.js replaces each <time data-deadline> with /api/campaign's deadline: a bare date would stay stale."""
    html = page(site, url)
    marked = re.findall(r'<time data-deadline datetime="([^"]+)">([^<]+)</time>', html)
    assert marked, url
    for iso, text in marked:
        assert datetime.fromisoformat(iso) == c.DEADLINE and text == fmt_deadline(c.DEADLINE)
    # No statement of the deadline outside the markup (the notice page quotes the notice and is not checked).
    assert html.count(fmt_deadline(c.DEADLINE)) == len(marked)
    assert html.count(fmt_date(c.DEADLINE.astimezone(c.TZ).date())) == html.count("data-deadline datetime")
    assert '<script src="' in html and 'assets/site.js" defer>' in html


def test_apply_page_states_the_deadline_and_links_the_draft(site: Path) -> None:
    html = page(site, "apply")
    text = "".join(article(html).text)
    assert f"网上填报截止时间：{fmt_deadline(c.DEADLINE)}" in text
    assert f"每个文件不超过{UPLOAD_LIMIT}" in text
    assert 'href="draft/"' in html
    assert 'href="apply/draft/"' in page(site, "") and 'href="../apply/draft/"' in page(site, "requirements")


def test_draft_page_lists_every_field_with_its_rules_and_every_attachment(site: Path) -> None:
    html = page(site, "apply/draft")
    text = squash("".join(article(html).text))
    schema = form_schema()
    for section in sections(schema):
        assert f'<h2 id="draft-{section.key}">{section.title}</h2>' in html
        if section.widget == "attachments":
            for kind in section.spec["x-kinds"]:
                assert squash(kind["title"] + ("必须上传" if kind["required"] else "选填")) in text
        elif section.widget != "pledge":
            for f in section.fields:
                assert squash(f.title + "；".join(field_rules(f, section)) + f.description) in text, f.path
    assert squash(sections(schema)[-1].fields[0].description) in text
    # Every long text has room to write on paper: seven of up to 3,000 characters, two of up to 500.
    texts = [f for s in sections(schema) for f in s.fields if f.widget == "textarea"]
    assert html.count('class="bd-draft-box bd-draft-box--long"') == sum(f.spec["maxLength"] > 1000 for f in texts)
    assert html.count('class="bd-draft-box bd-draft-box--') == len(texts) >= 9
    assert "assets/draft.css" in html and "<h1" in html


def test_form_lists_its_sections_linking_to_each_fieldset(site: Path) -> None:
    html = page(site, "apply")
    schema = form_schema()
    nav = re.search(r'<nav class="apply-toc".*?</nav>', html, re.DOTALL)
    assert nav, "no section list"
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', nav.group(0))
    assert links == [(section_anchor(s), s.title) for s in sections(schema)]
    for anchor, _ in links:
        assert re.search(rf'<fieldset class="apply-section" id="{anchor}">', html), anchor
        assert html.count(f'id="{anchor}"') == 1, anchor
