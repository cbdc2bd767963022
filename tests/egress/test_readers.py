"""Flow readers over the shared corpus and over hand-written bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intelsec.egress.models import ReadStats
from intelsec.egress.readers import READERS, detect, read_flows
from intelsec.errors import InputError

EXPECTED_FORMAT = {"aws-vpcflow": "aws-vpcflow", "envoy": "envoy", "squid": "squid"}


def corpus_flow_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in (corpus_dir / "hubble").rglob("*") if p.is_file())


def test_every_corpus_flow_file_parses(corpus_dir: Path) -> None:
    files = corpus_flow_files(corpus_dir)
    assert len(files) >= 10
    for path in files:
        stats = ReadStats()
        flows = list(read_flows([path], stats))
        assert stats.quarantined == [], (path, stats.quarantined[:3])
        assert flows, path
        fmt = stats.formats[str(path)]
        assert fmt == EXPECTED_FORMAT.get(path.parent.name, "hubble"), (path, fmt)
        for f in flows:
            assert f.dst_ip or f.dst_host
            assert f.origin.startswith(str(path))


def test_hubble_fields_and_dns_attaches_hostnames(corpus_dir: Path, tmp_path: Path) -> None:
    sample = corpus_dir / "hubble" / "hubble-otel.basic-sample-330-dns-flows.jsonl"
    stats = ReadStats()
    flows = list(read_flows([sample], stats))
    first = flows[0]
    assert first.src_ns == "kube-system" and first.src_workload == "node-local-dns-88zrp"
    assert first.dst_port == 53 and first.protocol == "tcp" and first.direction == "egress"
    assert first.internal is True and first.verdict_seen == "FORWARDED"
    # A synthetic external connection after the DNS answers in the corpus gets its name.
    ip_only = (
        '{"flow":{"time":"2021-10-04T12:00:00Z","verdict":"FORWARDED","IP":{"source":"10.156.2.9",'
        '"destination":"10.160.4.20"},"l4":{"TCP":{"destination_port":9411}},"source":{"namespace":"shop"},'
        '"destination":{"identity":2,"labels":["reserved:world"]},"traffic_direction":"EGRESS"}}\n'
    )
    extra = tmp_path / "later.jsonl"
    extra.write_text(ip_only)
    stats = ReadStats()
    named = list(read_flows([sample, extra], stats))[-1]
    assert named.dst_ip == "10.160.4.20"
    assert named.dst_host == "zipkin.istio-system.svc.cluster.local"
    assert named.internal is False and named.src_ns == "shop"


def test_vpc_flow_formats(corpus_dir: Path) -> None:
    base = corpus_dir / "hubble" / "aws-vpcflow"
    stats = ReadStats()
    flows = list(read_flows([base / "accept-reject-traffic.log"], stats))
    assert stats.skipped == 1  # the header
    assert (flows[0].src_ip, flows[0].dst_ip, flows[0].dst_port, flows[0].protocol) == (
        "78.24.182.42",
        "158.109.0.1",
        22,
        "tcp",
    )
    assert flows[1].verdict_seen == "REJECT" and flows[2].protocol == "icmp"
    stats = ReadStats()
    nat = list(read_flows([base / "custom-nat-gateway.log"], stats))
    assert [f.dst_ip for f in nat] == ["203.0.113.5", "203.0.113.5"]  # pkt-dstaddr behind the NAT gateway
    stats = ReadStats()
    v2 = list(read_flows([base / "extra-samples.v2.log"], stats))
    assert stats.skipped == 2  # NODATA + SKIPDATA
    assert v2[0].dst_ip == "2001:db8:1234:a102:3304:8879:34cf:4071"
    v5 = list(read_flows([base / "v5-all-fields.log"], ReadStats()))
    assert v5[0].direction == "ingress" and v5[0].src_workload == "i-0axxxxxx1ad77"


def test_squid_and_envoy(corpus_dir: Path) -> None:
    squid = list(read_flows([corpus_dir / "hubble" / "squid" / "access1.first30lines.log"], ReadStats()))
    assert (squid[0].dst_host, squid[0].dst_port, squid[0].dst_ip) == ("login.yahoo.com", 443, "209.73.177.115")
    assert squid[1].dst_host == "www.goonernews.com" and squid[1].dst_port == 80
    envoy = list(read_flows([corpus_dir / "hubble" / "envoy" / "envoy-json.log"], ReadStats()))
    assert (envoy[0].dst_host, envoy[0].dst_ip, envoy[0].dst_port, envoy[0].src_ns) == (
        "httpbin.org",
        "52.87.35.92",
        80,
        "default",
    )
    text = list(read_flows([corpus_dir / "hubble" / "envoy" / "envoy.log"], ReadStats()))
    assert text[0].dst_ip == "127.0.0.1" and text[0].dst_port == 9200
    assert text[1].dst_host == "httpbin.org"


def test_envoy_json_format(tmp_path: Path) -> None:
    p = tmp_path / "envoy.jsonl"
    p.write_text(
        '{"start_time":"2024-01-01T00:00:00Z","authority":"api.stripe.com:443","upstream_host":"54.1.2.3:443",'
        '"downstream_remote_address":"10.1.2.3:5555","response_code":200,"bytes_sent":10}\n'
    )
    stats = ReadStats()
    [f] = list(read_flows([p], stats))
    assert stats.formats[str(p)] == "envoy"
    assert (f.dst_host, f.dst_ip, f.dst_port, f.src_ip, f.bytes) == ("api.stripe.com", "54.1.2.3", 443, "10.1.2.3", 10)


def test_bad_lines_are_quarantined_with_location(tmp_path: Path, corpus_dir: Path) -> None:
    src = (corpus_dir / "hubble" / "hubble-otel.basic-sample-5-dns-flows.jsonl").read_text().splitlines()
    p = tmp_path / "mixed.jsonl"
    p.write_text(
        "\n".join(
            [
                src[0],
                "{not json",
                '{"flow": {"IP": {"source": "1.2.3.4"}, "l4": {"TCP": {"destination_port": 99999}}}}',
                '["a list"]',
                src[1],
            ]
        )
        + "\n"
    )
    stats = ReadStats()
    flows = list(read_flows([p], stats))
    assert len(flows) == 2
    assert [(q.line, q.reason.split(":")[0]) for q in stats.quarantined] == [
        (2, "invalid JSON"),
        (3, "port out of range"),
        (4, "not a JSON object"),
    ]
    assert all(q.path == str(p) for q in stats.quarantined)


def test_vpc_bad_field_count_and_address(tmp_path: Path) -> None:
    p = tmp_path / "vpc.log"
    p.write_text(
        "2 123 eni-1 10.0.0.1 8.8.8.8 1 53 17 1 80 1418530010 1418530070 ACCEPT OK\n"
        "2 123 eni-1 10.0.0.1 8.8.8.8 1 53\n"
        "2 123 eni-1 10.0.0.1 not-an-ip 1 53 17 1 80 1418530010 1418530070 ACCEPT OK\n"
    )
    stats = ReadStats()
    flows = list(read_flows([p], stats))
    assert len(flows) == 1 and flows[0].protocol == "udp"
    assert [q.line for q in stats.quarantined] == [2, 3]
    assert "invalid IP address" in stats.quarantined[1].reason


def test_generic_csv_and_jsonl_with_mapping(tmp_path: Path) -> None:
    csv_path = tmp_path / "flows.csv"
    csv_path.write_text(
        "ts,ns,dst,port\n2024-01-01T00:00:00Z,payments,api.stripe.com,443\n2024,payments,,443\nbad,row\n"
    )
    stats = ReadStats()
    flows = list(
        read_flows(
            [csv_path], stats, fmt="csv", mapping={"time": "ts", "src_ns": "ns", "dst_host": "dst", "dst_port": "port"}
        )
    )
    assert [(f.src_ns, f.dst_host, f.dst_port) for f in flows] == [("payments", "api.stripe.com", 443)]
    assert [q.line for q in stats.quarantined] == [3, 4]
    jl = tmp_path / "flows.jsonl"
    jl.write_text('{"dst_host": "Example.COM.", "dst_port": 443, "src_ns": "web"}\n{"meta": {"dest": "9.9.9.9"}}\n')
    assert [f.dst_host for f in read_flows([jl], ReadStats())] == ["example.com"]
    mapped = list(read_flows([jl], ReadStats(), fmt="jsonl", mapping={"dst_ip": "meta.dest"}))
    assert mapped[-1].dst_ip == "9.9.9.9"


def test_gzip_and_undetectable(tmp_path: Path) -> None:
    gz = tmp_path / "squid.log.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(
            "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 - "
            "DIRECT/209.73.177.115 -\n"
        )
    assert [f.dst_host for f in read_flows([gz], ReadStats())] == ["login.yahoo.com"]
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n")
    with pytest.raises(InputError, match="cannot detect"):
        list(read_flows([junk], ReadStats()))
    assert detect("hello") is None


def test_truncated_or_fake_gzip_is_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    line = "1157689312.049 5006 10.0.0.9 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 - DIRECT/209.73.177.115 -\n"
    whole = gzip.compress((line * 2000).encode())
    (tmp_path / "cut.log.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "fake.log.gz").write_bytes(b"not gzip at all\n")
    (tmp_path / "ok.log").write_text(line)
    stats = ReadStats()
    flows = list(read_flows([tmp_path / "cut.log.gz", tmp_path / "fake.log.gz", tmp_path / "ok.log"], stats))
    assert [(q.path.rsplit("/", 1)[1], "unreadable from here on" in q.reason) for q in stats.quarantined] == [
        ("cut.log.gz", True),
        ("fake.log.gz", True),
    ]
    assert stats.quarantined[0].line > 1 and flows[-1].origin.endswith("ok.log:1")


def test_deeply_nested_json_line_is_quarantined(tmp_path: Path) -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    for name, text in (("second.jsonl", '{"dst_host": "x.io"}\n' + deep + "\n"), ("first.jsonl", deep + "\n")):
        (tmp_path / name).write_text(text)
    stats = ReadStats()
    flows = list(read_flows([tmp_path / "second.jsonl"], stats))
    assert [f.dst_host for f in flows] == ["x.io"]
    assert [(q.line, q.reason.startswith("invalid JSON")) for q in stats.quarantined] == [(2, True)]
    with pytest.raises(InputError, match="cannot detect"):  # a first line no reader recognises
        list(read_flows([tmp_path / "first.jsonl"], ReadStats()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8), st.sampled_from(sorted(READERS)))
def test_readers_never_crash_on_arbitrary_lines(tmp_path: Path, lines: list[str], fmt: str) -> None:
    p = tmp_path / "fuzz.log"
    p.write_text("\n".join(line.replace("\r", " ") for line in lines) + "\n", encoding="utf-8", errors="replace")
    stats = ReadStats()
    flows = list(read_flows([p], stats, fmt=fmt))
    assert stats.flows == len(flows)
    assert stats.lines == stats.flows + stats.skipped + len(stats.quarantined)


KEYS = [
    "flow",
    "IP",
    "l4",
    "l7",
    "TCP",
    "UDP",
    "source",
    "destination",
    "destination_port",
    "dns",
    "ips",
    "query",
    "type",
    "labels",
    "namespace",
    "message",
    "authority",
    "upstream_host",
    "dst_host",
    "dst_ip",
    "dst_port",
    "traffic_direction",
    "is_reply",
    "destination_names",
    "verdict",
    "http",
    "url",
    "kubernetes",
]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.sampled_from(["RESPONSE", "EGRESS", "1.2.3.4", "a.io:1", "x"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.dictionaries(st.sampled_from(KEYS), JSON, min_size=1, max_size=4), min_size=1, max_size=5),
    st.sampled_from(["hubble", "envoy", "jsonl"]),
)
def test_json_readers_never_crash_on_odd_shapes(tmp_path: Path, objs: list[dict], fmt: str) -> None:
    p = tmp_path / "fuzz.jsonl"
    p.write_text("".join(json.dumps(o) + "\n" for o in objs))
    stats = ReadStats()
    flows = list(read_flows([p], stats, fmt=fmt))
    assert stats.lines == stats.flows + stats.skipped + len(stats.quarantined) == len(objs)
    assert all(f.dst_host or f.dst_ip for f in flows)
