"""Fixtures shared by the integration tests of the review store (test_review_store, test_review_race)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bdpilot.ops import stack


def units_table(client: Any, name: str = "units") -> str:
    """The units table as infra/template.yaml defines it (keys and LSI), alone in moto: the review store's tests
    need no other resource of the stack."""
    props = stack.load_template()["Resources"]["UnitsTable"]["Properties"]
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        **{k: props[k] for k in ("AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes")})
    return name


@pytest.fixture
def db(aws_env) -> Iterator[Any]:
    """A DynamoDB client on moto holding only the units table "units"."""
    with mock_aws():
        client = boto3.client("dynamodb")
        units_table(client)
        yield client
