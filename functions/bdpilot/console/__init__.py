"""The staff console: the 推荐单位's and MIIT's web pages, a Lambda function of its own (issue 12)."""
