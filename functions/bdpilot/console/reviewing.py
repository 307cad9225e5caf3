"""Review and recommend: importing this module registers their routes.

  review       GET  /staff/submissions/{ref}/versions/{n}   an earlier version; the detail page's review panel
  decision     POST /staff/submissions/{ref}/decision       a unit decides (returnmail: the 退回修改 e-mail)
  recommend    GET  /staff/recommend, POST /staff/recommend/submit   the unit's 拟推荐 list and 提交推荐
  summary      GET  /staff/recommend/summary[.xlsx]         the submitted 推荐汇总表, printable and as XLSX
  progress     GET  /staff/progress, POST /staff/units/reopen          MIIT's dashboard and reopening a unit
  recommended  GET  /staff/recommended[?format=csv|xlsx]    MIIT: every submitted unit's projects, exportable
"""

from bdpilot.console import decision, progress, recommend, recommended, review, summary

__all__ = ["decision", "progress", "recommend", "recommended", "review", "summary"]
