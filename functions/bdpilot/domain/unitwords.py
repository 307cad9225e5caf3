"""The words of Chinese unit names that rules.name_key looks through: data that is matched, never shown.

Kept apart from rules.py as data (like campaign.py), so the test that keeps Chinese sentences in the wording
catalogue can exempt this whole module instead of picking lines out of the rules.
"""

from __future__ import annotations

# Words around a name that do not make it another unit: company forms, 集团, the region's own suffix, and the
# departments that act as a region's 推荐单位. Longest first, stripped repeatedly.
SUFFIXES: tuple[str, ...] = tuple(sorted((
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "总公司", "公司", "集团", "控股", "股份",
    "省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区",
    "人民政府", "政府", "工业和信息化厅", "工业和信息化局", "工业和信息化委员会", "工信厅", "工信局", "工信委",
    "经济和信息化厅", "经济和信息化局", "经济和信息化委员会", "经信厅", "经信局", "经信委",
    "大数据局", "大数据管理局", "大数据发展管理局", "大数据中心", "大数据产业主管部门", "主管部门",
), key=len, reverse=True))
PREFIXES: tuple[str, ...] = ("中华人民共和国", "中国", "中华", "国家")
# What people type when they mean a category rather than a unit.
CATEGORY_WORDS: tuple[str, ...] = ("中央企业", "央企", "中央企业集团或其他有关单位", "其他有关单位", "有关单位",
                                   "其他", "无")
# A region's name ending in 市 found inside a longer name is no region when 场 follows: 市场 is a market.
CITY = "市"
AFTER_CITY_NOT_A_CITY = "场"
