"""Reads an OpenMetrics exposition on standard input with the Prometheus project's own parser
(prometheus_client) and prints its samples as JSON: [[name, {labels}, value], ...]. A document the
parser refuses makes it exit non-zero with the parser's message."""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        value = None if math.isnan(sample.value) else sample.value
        samples.append([sample.name, sample.labels, value])
print(json.dumps(samples))
