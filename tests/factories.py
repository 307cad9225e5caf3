"""Test data: a complete, valid 申报书 and the small builders tests, benchmarks and seeding share."""

from __future__ import annotations

import copy
import secrets
from typing import Any

VALID_USCC = ("91350100M000100Y43", "91110108551385082Q", "91110000600037341L")

_APPLICATION: dict[str, Any] = {
    "cover": {
        "project_name": "钢铁冶炼全流程工业大数据平台",
        "direction": 3,
        "recommender": "河北省",
        "recommender_group": "",
        "recommender_other": "",
    },
    "applicant": {
        "name": "示例钢铁集团有限公司",
        "uscc": "91350100M000100Y43",
        "nature": "国有企业",
        "founded": "2001-06-18",
        "registered_capital": "50000.00",
        "registered_address": "河北省唐山市示例区钢城路1号",
        "mailing_address": "河北省唐山市示例区钢城路1号",
        "postcode": "063000",
        "legal_representative": "王示例",
        "employees": 1200,
        "rd_staff": 180,
        "revenue": "356000.50",
        "profit": "-1200.25",
        "rd_investment": "8800.00",
        "main_business": "钢铁冶炼、轧制及相关工业互联网服务。",
    },
    "contact": {
        "name": "张联系",
        "position": "信息化部部长",
        "mobile": "13800138000",
        "phone": "0315-1234567",
        "email": "contact@example.com",
    },
    "project": {
        "start_date": "2019-01-01",
        "end_date": "2020-12-31",
        "total_investment": "3200.00",
        "summary": "建设覆盖炼铁、炼钢、轧钢全流程的数据平台，实现设备数据互联互通与质量追溯。",
    },
    "details": {
        "background": "钢铁行业设备多、协议杂，数据孤岛严重。",
        "solution": "采用边缘采集、统一数据湖与实时计算相结合的技术方案。",
        "innovation": "自主研发多协议转换网关和工艺质量预测模型。",
        "patents": 3,
        "software_copyrights": 12,
        "ip": "发明专利3项（ZL2018XXXXXXX.X等），软件著作权12项。",
        "benefits": "吨钢能耗下降3%，质量异议率下降20%。",
        "demonstration": "已在集团内5家钢厂推广，可复制到冶金行业。",
        "security": "按等级保护三级要求建设，数据分级分类管理。",
    },
    "attachments": [],
    "pledge": True,
}


def application(**sections: dict[str, Any]) -> dict[str, Any]:
    """A valid 申报书 as a browser would post it; keyword arguments override fields per section."""
    data = copy.deepcopy(_APPLICATION)
    for section, fields in sections.items():
        if isinstance(data.get(section), dict):
            data[section].update(fields)
        else:
            data[section] = fields
    return data


def attachments(license_id: str, ip_id: str) -> list[dict[str, str]]:
    return [
        {"kind": "license", "upload_id": license_id, "filename": "营业执照.pdf"},
        {"kind": "ip", "upload_id": ip_id, "filename": "专利证书.pdf"},
    ]


def idempotency_key() -> str:
    return secrets.token_urlsafe(24)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def uscc(seed: int) -> str:
    """A valid 统一社会信用代码 for a number, so seeded applicants never collide."""
    from bdpilot.domain.formats import USCC_ALPHABET, uscc_check_char

    body, n = "", seed
    for _ in range(9):
        n, i = divmod(n, len(USCC_ALPHABET))
        body += USCC_ALPHABET[i]
    first17 = "91" + "110108" + body
    return first17 + uscc_check_char(first17)
