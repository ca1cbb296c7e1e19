#!/usr/bin/env python3
"""The bottleneck experiments in ns-3 and in pccsim, side by side.

Each experiment: N long TCP flows (bulk senders) through one drop-tail bottleneck of a given
rate, round trip, buffer (in bandwidth-delay products) and random loss. ns-3 3.44 (`pip install
ns3`) runs it with its own TCP: CUBIC, SACK, PRR recovery, pacing, delayed ACKs; pccsim runs it
with `pccsim bottleneck`. Both report each flow's goodput (payload delivered in order) after a
warm-up, from which the goodput share of the rate and Jain's fairness index follow.

Writes tests/ns3/reference.json, which tests/tcp.rs holds pccsim to. Not run by CI (minutes).

    python3 -m venv /tmp/ns3 && /tmp/ns3/bin/pip install ns3==3.44.post0
    cargo build --release
    /tmp/ns3/bin/python tests/ns3/bottleneck.py
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PCCSIM = os.path.join(ROOT, "target", "release", "pccsim")

MSS = 1448
DURATION_S = 60
WARMUP_S = 10

# (flows, rate Mbit/s, RTT ms, buffer in BDP, loss)
GRID = [
    (2, 50, 50, 0.25, 0.0),
    (2, 50, 50, 1.0, 0.0),
    (2, 50, 50, 4.0, 0.0),
    (10, 50, 50, 0.25, 0.0),
    (10, 50, 50, 1.0, 0.0),
    (10, 50, 50, 4.0, 0.0),
    (20, 50, 50, 0.25, 0.0),
    (20, 50, 50, 1.0, 0.0),
    (20, 50, 50, 4.0, 0.0),
    (10, 50, 10, 1.0, 0.0),
    (10, 50, 200, 1.0, 0.0),
    (1, 50, 50, 1.0, 0.005),
    (1, 50, 50, 1.0, 0.02),
    (5, 50, 50, 1.0, 0.01),
]


def jain(xs):
    s = sum(xs)
    q = sum(x * x for x in xs)
    return s * s / (len(xs) * q) if q > 0 else 0.0


def summarise(goodputs, rate_bps):
    return {
        "goodput_bps": goodputs,
        "goodput_share": sum(goodputs) / rate_bps,
        "jain": jain(goodputs),
    }


def run_ns3(flows, rate_mbit, rtt_ms, buffer_bdp, loss, seed=1):
    from ns import ns

    ns.RngSeedManager.SetSeed(seed)
    ns.Config.SetDefault("ns3::TcpL4Protocol::SocketType", ns.StringValue("ns3::TcpCubic"))
    ns.Config.SetDefault("ns3::TcpSocket::SegmentSize", ns.UintegerValue(MSS))
    ns.Config.SetDefault("ns3::TcpSocket::InitialCwnd", ns.UintegerValue(10))
    ns.Config.SetDefault("ns3::TcpSocket::SndBufSize", ns.UintegerValue(6 << 20))
    ns.Config.SetDefault("ns3::TcpSocket::RcvBufSize", ns.UintegerValue(6 << 20))
    ns.Config.SetDefault("ns3::TcpSocket::DelAckCount", ns.UintegerValue(2))
    ns.Config.SetDefault("ns3::TcpSocket::DelAckTimeout", ns.TimeValue(ns.MilliSeconds(40)))
    ns.Config.SetDefault("ns3::TcpSocketBase::MinRto", ns.TimeValue(ns.MilliSeconds(200)))
    ns.Config.SetDefault("ns3::TcpSocketBase::Sack", ns.BooleanValue(True))
    ns.Config.SetDefault("ns3::TcpSocketState::EnablePacing", ns.BooleanValue(True))
    ns.Config.SetDefault(
        "ns3::TcpL4Protocol::RecoveryType", ns.TypeIdValue(ns.TcpPrrRecovery.GetTypeId())
    )

    rate_bps = rate_mbit * 1_000_000
    bdp = rate_bps * rtt_ms // 8000
    buffer_bytes = max(int(bdp * buffer_bdp), 1500)

    senders, routers, receivers = ns.NodeContainer(), ns.NodeContainer(), ns.NodeContainer()
    senders.Create(flows)
    routers.Create(2)
    receivers.Create(flows)
    stack = ns.InternetStackHelper()
    stack.Install(senders)
    stack.Install(routers)
    stack.Install(receivers)

    access = ns.PointToPointHelper()
    access.SetDeviceAttribute("DataRate", ns.StringValue("10Gbps"))
    access.SetChannelAttribute("Delay", ns.StringValue("1us"))
    neck = ns.PointToPointHelper()
    neck.SetDeviceAttribute("DataRate", ns.StringValue(f"{rate_bps}bps"))
    neck.SetChannelAttribute("Delay", ns.StringValue(f"{rtt_ms * 500 - 2}us"))
    neck.SetQueue("ns3::DropTailQueue", "MaxSize", ns.StringValue("1p"))

    address = ns.Ipv4AddressHelper()
    # The bottleneck: a drop-tail FIFO of `buffer_bytes` in front of its line.
    neck_devs = neck.Install(routers.Get(0), routers.Get(1))
    tc = ns.TrafficControlHelper()
    tc.SetRootQueueDisc("ns3::FifoQueueDisc", "MaxSize", ns.StringValue(f"{buffer_bytes}B"))
    tc.Install(neck_devs.Get(0))
    address.SetBase(ns.Ipv4Address("10.255.0.0"), ns.Ipv4Mask("255.255.255.0"))
    address.Assign(neck_devs)
    if loss > 0:
        em = ns.CreateObject[ns.RateErrorModel]()
        em.SetAttribute("ErrorRate", ns.DoubleValue(loss))
        em.SetAttribute("ErrorUnit", ns.StringValue("ERROR_UNIT_PACKET"))
        neck_devs.Get(1).SetAttribute("ReceiveErrorModel", ns.PointerValue(em))

    sinks = []
    for i in range(flows):
        left = access.Install(senders.Get(i), routers.Get(0))
        address.SetBase(ns.Ipv4Address(f"10.1.{i}.0"), ns.Ipv4Mask("255.255.255.0"))
        address.Assign(left)
        right = access.Install(routers.Get(1), receivers.Get(i))
        address.SetBase(ns.Ipv4Address(f"10.2.{i}.0"), ns.Ipv4Mask("255.255.255.0"))
        ifs = address.Assign(right)
        port = 5000 + i
        sink_helper = ns.PacketSinkHelper(
            "ns3::TcpSocketFactory",
            ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo(),
        )
        sink_app = sink_helper.Install(receivers.Get(i))
        sink_app.Start(ns.Seconds(0))
        sinks.append(sink_app.Get(0))
        bulk = ns.BulkSendHelper(
            "ns3::TcpSocketFactory", ns.InetSocketAddress(ifs.GetAddress(1), port).ConvertTo()
        )
        bulk.SetAttribute("MaxBytes", ns.UintegerValue(0))
        bulk.SetAttribute("SendSize", ns.UintegerValue(MSS))
        app = bulk.Install(senders.Get(i))
        # Starts spread over the first 100 ms, as pccsim spreads them.
        app.Start(ns.MilliSeconds(int(100 * i / flows)))
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()

    ns.Simulator.Stop(ns.Seconds(WARMUP_S))
    ns.Simulator.Run()
    before = [ns.DynamicCast[ns.PacketSink](s).GetTotalRx() for s in sinks]
    ns.Simulator.Stop(ns.Seconds(DURATION_S - WARMUP_S))
    ns.Simulator.Run()
    after = [ns.DynamicCast[ns.PacketSink](s).GetTotalRx() for s in sinks]
    ns.Simulator.Destroy()
    span = DURATION_S - WARMUP_S
    goodputs = [(a - b) * 8 / span for a, b in zip(after, before)]
    return summarise(goodputs, rate_bps)


def run_pccsim(flows, rate_mbit, rtt_ms, buffer_bdp, loss):
    out = subprocess.run(
        [
            PCCSIM, "bottleneck",
            "--flows", str(flows),
            "--rate", f"{rate_mbit}Mbit",
            "--rtt", f"{rtt_ms}ms",
            "--buffer-bdp", str(buffer_bdp),
            "--loss", str(loss),
            "--duration", f"{DURATION_S}s",
            "--warmup", f"{WARMUP_S}s",
            "--format", "json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    m = json.loads(out.stdout)["measured"]
    return summarise(m["goodput_bps"], rate_mbit * 1_000_000)


def main():
    if not os.path.exists(PCCSIM):
        sys.exit("build pccsim first: cargo build --release")
    rows = []
    for flows, rate, rtt, buffer_bdp, loss in GRID:
        # Each ns-3 run in a fresh process: the simulator keeps global state between runs.
        ns3 = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--ns3-one", json.dumps([flows, rate, rtt, buffer_bdp, loss])],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        ours = run_pccsim(flows, rate, rtt, buffer_bdp, loss)
        row = {
            "flows": flows,
            "rate_mbit": rate,
            "rtt_ms": rtt,
            "buffer_bdp": buffer_bdp,
            "loss": loss,
            "ns3": ns3,
            "pccsim": ours,
        }
        rows.append(row)
        print(
            f"{flows:>3} flows {rtt:>3} ms {buffer_bdp:>5} BDP loss {loss:<6}"
            f" goodput ns-3 {ns3['goodput_share']:.3f} pccsim {ours['goodput_share']:.3f}"
            f"  Jain ns-3 {ns3['jain']:.3f} pccsim {ours['jain']:.3f}",
            flush=True,
        )
    reference = {
        "about": "ns-3 3.44 (TcpCubic, SACK, PRR, pacing, delayed ACKs every 2 segments / 40 ms, "
        "MinRto 200 ms, drop-tail FifoQueueDisc) and pccsim on the same bottleneck experiments; "
        "written by tests/ns3/bottleneck.py",
        "duration_s": DURATION_S,
        "warmup_s": WARMUP_S,
        "mss": MSS,
        "rows": rows,
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--ns3-one":
        print(json.dumps(run_ns3(*json.loads(sys.argv[2]))))
    else:
        main()
