"""Campaign data for the 2020 call: the one place that states directions, 推荐单位, quotas, dates and contacts.

Everything here is data. The site (through the MkDocs hook), the 申报书 models, the rules and the admin
reports read it; none of them repeats it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


class Notice(NamedTuple):
    title: str
    number: str
    issuer: str
    issued: date
    published: date
    system_name: str
    system_url: str
    official_site: str


NOTICE = Notice(
    title="工业和信息化部办公厅关于组织开展2020年大数据产业发展试点示范项目申报工作的通知",
    number="工信厅信软函〔2019〕243号",
    issuer="工业和信息化部办公厅",
    issued=date(2019, 11, 6),
    published=date(2019, 11, 12),
    system_name="2020年大数据产业发展试点示范项目申报系统",
    system_url="http://www.bdcases.org.cn",
    official_site="https://www.miit.gov.cn/",
)

# "申报主体需在11月22日前……完成注册和申报信息填写": the window closes at the start of 22 November.
DEADLINE = datetime(2019, 11, 22, 0, 0, tzinfo=TZ)
# The notice gives 推荐单位 no deadline of their own for sending in their recommendations: this is our data, two
# weeks after the applicants' window closes (the portal's staff can move it with BDPILOT_UNIT_DEADLINE).
RECOMMENDATION_DEADLINE = datetime(2019, 12, 6, 17, 0, tzinfo=TZ)
# Whether applicants see 拟推荐/不予推荐 on their receipt page; otherwise a reviewed submission shows "审核中".
SHOW_RESULTS = False
PILOT_YEARS = 2
PROJECTS_PER_APPLICANT = 1
DIRECTIONS_PER_PROJECT = 1


class Category(NamedTuple):
    number: int
    name: str


class Direction(NamedTuple):
    number: int
    category: Category
    name: str
    slug: str
    summary: str

    @property
    def label(self) -> str:
        """How the form and exports name a direction: "方向1 工业大数据融合应用—工业现场方向"."""
        if self.name == self.category.name:
            return f"方向{self.number} {self.name}"
        return f"方向{self.number} {self.category.name}—{self.name}"


INDUSTRIAL = Category(1, "工业大数据融合应用")
LIVELIHOOD = Category(2, "民生大数据创新应用")
KEY_TECH = Category(3, "大数据关键技术先导应用")
MANAGEMENT = Category(4, "大数据管理能力提升")
CATEGORIES: tuple[Category, ...] = (INDUSTRIAL, LIVELIHOOD, KEY_TECH, MANAGEMENT)

DIRECTIONS: tuple[Direction, ...] = (
    Direction(1, INDUSTRIAL, "工业现场方向", "industrial-field",
              "打通设备、系统之间的数据壁垒，实现多源异构设备数据互联互通和工业协议转换。"),
    Direction(2, INDUSTRIAL, "企业应用方向", "industrial-enterprise",
              "大数据贯穿研发设计、生产制造、经营管理、销售服务全流程，提效降本，培育数据驱动的新模式。"),
    Direction(3, INDUSTRIAL, "重点行业方向", "key-industries",
              "在能源、航空、钢铁、汽车、船舶、化工等重点行业应用大数据，提升专业化和集成化水平。"),
    Direction(4, LIVELIHOOD, "民生大数据创新应用", "livelihood",
              "在政务、医疗、环保、扶贫、教育、物流、智慧城市等领域创新应用大数据，优化民生服务。"),
    Direction(5, KEY_TECH, "大数据关键技术先导应用", "key-technologies",
              "大数据关键技术的先导性应用（本站所存通知副本缺少该方向正文，详见方向指南说明）。"),
    Direction(6, MANAGEMENT, "数据管理能力方向", "data-management",
              "依据 DCMM（GB/T 36073-2018）等国家标准加强数据管理能力建设，推进成熟度贯标。"),
    Direction(7, MANAGEMENT, "公共服务平台方向", "public-service-platforms",
              "大数据产业平台提供政策咨询、测试评估、数据开放、知识产权、投融资、创业孵化等公共服务。"),
)
DIRECTIONS_BY_NUMBER: dict[int, Direction] = {d.number: d for d in DIRECTIONS}


class RecommenderKind(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    CENTRAL = "central"  # a listed 中央企业集团
    OTHER = "other"  # any other 有关单位: named in free text, not on any list, so not verified


class RecommenderKindInfo(NamedTuple):
    kind: RecommenderKind
    name: str
    quota: int


RECOMMENDER_KINDS: dict[RecommenderKind, RecommenderKindInfo] = {
    RecommenderKind.PROVINCE: RecommenderKindInfo(
        RecommenderKind.PROVINCE, "省、自治区、直辖市及新疆生产建设兵团大数据产业主管部门", 10),
    RecommenderKind.CITY: RecommenderKindInfo(
        RecommenderKind.CITY, "计划单列市、副省级省会城市大数据产业主管部门", 5),
    # The notice: "中央企业集团等各有关单位推荐数量不超过3个".
    RecommenderKind.CENTRAL: RecommenderKindInfo(RecommenderKind.CENTRAL, "中央企业集团", 3),
    RecommenderKind.OTHER: RecommenderKindInfo(RecommenderKind.OTHER, "其他有关单位", 3),
}

PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
    "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省",
    "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "新疆生产建设兵团",
)
PLAN_CITIES: tuple[str, ...] = ("大连市", "宁波市", "厦门市", "青岛市", "深圳市")
SUB_PROVINCIAL_CAPITALS: tuple[str, ...] = (
    "沈阳市", "长春市", "哈尔滨市", "南京市", "杭州市", "济南市", "武汉市", "广州市", "成都市", "西安市",
)

# The central enterprises (中央企业) that 国务院国资委 supervised when the call ran (November 2019), by the full
# names in its 央企名录 and in SASAC's order: 中国船舶集团 as formed in November 2019 (not its two predecessors),
# 国家石油天然气管网集团 not yet (founded 9 December 2019). Each is one 推荐单位 with the central quota.
CENTRAL_ENTERPRISES: tuple[str, ...] = (
    "中国核工业集团有限公司", "中国航天科技集团有限公司", "中国航天科工集团有限公司", "中国航空工业集团有限公司",
    "中国船舶集团有限公司", "中国兵器工业集团有限公司", "中国兵器装备集团有限公司", "中国电子科技集团有限公司",
    "中国航空发动机集团有限公司", "中国石油天然气集团有限公司", "中国石油化工集团有限公司",
    "中国海洋石油集团有限公司", "国家电网有限公司", "中国南方电网有限责任公司", "中国华能集团有限公司",
    "中国大唐集团有限公司", "中国华电集团有限公司", "国家电力投资集团有限公司", "中国长江三峡集团有限公司",
    "国家能源投资集团有限责任公司", "中国电信集团有限公司", "中国联合网络通信集团有限公司",
    "中国移动通信集团有限公司", "中国电子信息产业集团有限公司", "中国第一汽车集团有限公司", "东风汽车集团有限公司",
    "中国一重集团有限公司", "中国机械工业集团有限公司", "哈尔滨电气集团有限公司", "中国东方电气集团有限公司",
    "鞍钢集团有限公司", "中国宝武钢铁集团有限公司", "中国铝业集团有限公司", "中国远洋海运集团有限公司",
    "中国航空集团有限公司", "中国东方航空集团有限公司", "中国南方航空集团有限公司", "中国中化集团有限公司",
    "中粮集团有限公司", "中国五矿集团有限公司", "中国通用技术（集团）控股有限责任公司", "中国建筑集团有限公司",
    "中国储备粮管理集团有限公司", "国家开发投资集团有限公司", "招商局集团有限公司", "华润（集团）有限公司",
    "中国旅游集团有限公司", "中国商用飞机有限责任公司", "中国节能环保集团有限公司", "中国国际工程咨询有限公司",
    "中国诚通控股集团有限公司", "中国中煤能源集团有限公司", "中国煤炭科工集团有限公司",
    "机械科学研究总院集团有限公司", "中国中钢集团有限公司", "中国钢研科技集团有限公司", "中国化工集团有限公司",
    "中国化学工程集团有限公司", "中国盐业集团有限公司", "中国建材集团有限公司", "中国有色矿业集团有限公司",
    "有研科技集团有限公司", "矿冶科技集团有限公司", "中国国际技术智力合作集团有限公司", "中国建筑科学研究院有限公司",
    "中国中车集团有限公司", "中国铁路通信信号集团有限公司", "中国铁路工程集团有限公司", "中国铁道建筑集团有限公司",
    "中国交通建设集团有限公司", "中国普天信息产业集团有限公司", "中国信息通信科技集团有限公司",
    "中国农业发展集团有限公司", "中国林业集团有限公司", "中国医药集团有限公司", "中国保利集团有限公司",
    "中国建设科技有限公司", "中国冶金地质总局", "中国煤炭地质总局", "新兴际华集团有限公司",
    "中国民航信息集团有限公司", "中国航空油料集团有限公司", "中国航空器材集团有限公司", "中国电力建设集团有限公司",
    "中国能源建设集团有限公司", "中国黄金集团有限公司", "中国广核集团有限公司", "中国华录集团有限公司",
    "上海诺基亚贝尔股份有限公司", "华侨城集团有限公司", "南光（集团）有限公司", "中国西电集团有限公司",
    "中国铁路物资集团有限公司", "中国国新控股有限责任公司", "中国检验认证（集团）有限公司",
    "中国融通资产管理集团有限公司", "中国安能建设集团有限公司",
)

# The one choice in the 推荐单位 list that stands for every 中央企业集团 or other unit; the form then asks which.
OTHER_RECOMMENDER = "中央企业集团或其他有关单位"
# The last choice in the 中央企业集团 list: a unit on no list, which the form asks to name in free text.
UNLISTED_RECOMMENDER = "其他有关单位"


class Recommender(NamedTuple):
    name: str
    kind: RecommenderKind
    group: str

    @property
    def quota(self) -> int:
        return RECOMMENDER_KINDS[self.kind].quota


# The regional 推荐单位: the first list on the form.
RECOMMENDERS: tuple[Recommender, ...] = (
    *(Recommender(n, RecommenderKind.PROVINCE, "省、自治区、直辖市及新疆生产建设兵团") for n in PROVINCES),
    *(Recommender(n, RecommenderKind.CITY, "计划单列市") for n in PLAN_CITIES),
    *(Recommender(n, RecommenderKind.CITY, "副省级省会城市") for n in SUB_PROVINCIAL_CAPITALS),
)
# The central enterprises: the second list, behind OTHER_RECOMMENDER.
CENTRAL_RECOMMENDERS: tuple[Recommender, ...] = tuple(
    Recommender(n, RecommenderKind.CENTRAL, RECOMMENDER_KINDS[RecommenderKind.CENTRAL].name)
    for n in CENTRAL_ENTERPRISES)
# Every 推荐单位 chosen from a list, so verified by its name; anything else is an unlisted 其他有关单位.
LISTED_RECOMMENDERS: tuple[Recommender, ...] = RECOMMENDERS + CENTRAL_RECOMMENDERS
RECOMMENDERS_BY_NAME: dict[str, Recommender] = {r.name: r for r in LISTED_RECOMMENDERS}


def recommender_kind(name: str) -> RecommenderKind:
    """The kind of a 推荐单位 by name: a listed region, city or central enterprise, else an unlisted unit."""
    listed = RECOMMENDERS_BY_NAME.get(name)
    return listed.kind if listed else RecommenderKind.OTHER


def quota_for(name: str) -> int:
    return RECOMMENDER_KINDS[recommender_kind(name)].quota


class Person(NamedTuple):
    name: str
    phone: str

    @property
    def tel_uri(self) -> str:
        return "tel:+86-" + self.phone.removeprefix("0")


class Contacts(NamedTuple):
    people: tuple[Person, ...]
    email: str
    address: str
    postcode: str


CONTACTS = Contacts(
    people=(Person("李玮", "010-88692450"), Person("乔亚倩", "010-88687355")),
    email="zhangyifu@miit.gov.cn",
    address="北京市石景山区鲁谷路35号",
    postcode="100040",
)

ATTACHMENT_TITLE = "2020年大数据产业发展试点示范项目申报书"
