"""Writing CloudWatch data points to moto's server (see the ``moto`` fixture in conftest)."""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3

GROUP = "shop-web-canary-v002"


def put(endpoint: str, start: datetime, values: list[float], group: str = GROUP) -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=endpoint)
    data = [
        {
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group}],
            "Timestamp": start + timedelta(minutes=index),
            "Value": value,
        }
        for index, value in enumerate(values)
    ]
    client.put_metric_data(Namespace="AWS/EC2", MetricData=data)
