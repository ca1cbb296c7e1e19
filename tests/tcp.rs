//! TCP as Linux runs it, judged where TCP is judged: flows sharing one saturated drop-tail
//! bottleneck (50 Mbit/s, 50 ms, no random loss unless said), and one flow against random loss.

mod common;

use pccsim::units::{MS, SEC};
use pccsim::world::bottleneck::{self, Bottleneck, Measured};
use pccsim::world::tcp::{Congestion, MSS};

/// How far pccsim may be from ns-3 (see `the_bottleneck_figures_agree_with_ns3`): goodput
/// within 20 % of ns-3's (under random loss pccsim gets 9–10 % less than ns-3; on a saturated
/// link the two are within 5 %); Jain's index at most 0.1 below ns-3's; the smallest flow's
/// share of the fair share at most 0.4 below (over 50 s pccsim's CUBIC flows converge more
/// slowly than ns-3's behind four BDPs of buffer: 20 flows, 0.61 against 0.86).
const GOODPUT_TOLERANCE: f64 = 0.2;
const JAIN_TOLERANCE: f64 = 0.1;
const SMALLEST_TOLERANCE: f64 = 0.4;

const RATE: u64 = 50_000_000;
const RTT: u64 = 50 * MS;

fn dumbbell(flows: u32, buffer_bdp: f64) -> Bottleneck {
    Bottleneck {
        flows,
        rate_bps: RATE,
        rtt: RTT,
        buffer: (Bottleneck::bdp(RATE, RTT) as f64 * buffer_bdp) as u32,
        loss: 0.0,
        congestion: Congestion::Cubic,
        file: None,
        duration: 90 * SEC,
        warmup: 15 * SEC,
        seed: 1,
    }
}

fn run(x: &Bottleneck) -> Measured {
    bottleneck::run(x)
}

#[test]
fn a_saturated_bottleneck_with_a_bdp_of_buffer_or_more_is_kept_busy() {
    for flows in [1, 2, 10] {
        for buffer in [1.0, 2.0, 4.0] {
            let m = run(&dumbbell(flows, buffer));
            assert!(m.utilisation >= 0.95, "{flows} flows, {buffer} BDP: {m:?}");
            // Headers take 52 of every 1500 bytes: 96.5 % is all the payload there is.
            assert!(
                m.goodput_share >= 0.93,
                "{flows} flows, {buffer} BDP: {m:?}"
            );
        }
    }
}

#[test]
fn equal_flows_share_the_bottleneck_fairly() {
    for flows in [2, 5, 10, 20] {
        for buffer in [0.25, 1.0, 4.0] {
            let m = run(&dumbbell(flows, buffer));
            assert!(
                m.jain >= 0.9,
                "{flows} flows, {buffer} BDP: Jain {:.3}",
                m.jain
            );
        }
    }
}

#[test]
fn two_users_downloading_16_mib_files_back_to_back_fill_the_link() {
    for buffer in [1.0, 4.0] {
        let mut x = dumbbell(2, buffer);
        x.file = Some(16 << 20);
        let m = run(&x);
        assert!(m.goodput_share >= 0.85, "{buffer} BDP: {m:?}");
        assert!(m.files >= 2 * 15, "{buffer} BDP: {m:?}");
    }
}

#[test]
fn receivers_ack_every_second_segment_as_linux_does() {
    let m = run(&dumbbell(5, 1.0));
    assert!((1.8..=2.0).contains(&m.segments_per_ack), "{m:?}");
}

#[test]
fn newreno_against_random_loss_follows_mathis() {
    // One flow on a fast path with a BDP of buffer: the loss, not the link, limits it.
    // Mathis: MSS / RTT × √(3/2) / √p (Linux grows by acknowledged bytes, so delayed ACKs
    // keep the constant of one ACK per segment).
    for p in [0.001, 0.002, 0.005, 0.01] {
        let mut x = dumbbell(1, 1.0);
        x.rate_bps = 1_000_000_000;
        x.buffer = Bottleneck::bdp(x.rate_bps, RTT);
        x.loss = p;
        x.congestion = Congestion::NewReno;
        x.duration = 300 * SEC;
        let m = run(&x);
        let mathis = MSS as f64 * 8.0 / (RTT as f64 / SEC as f64) * 1.5f64.sqrt() / p.sqrt();
        let ratio = m.goodput_bps[0] / mathis;
        assert!(
            (0.85..=1.15).contains(&ratio),
            "p = {p}: {ratio:.3} of Mathis"
        );
    }
}

#[test]
fn no_flow_stays_in_recovery_long_after_its_losses_end() {
    for (flows, buffer, loss) in [(10, 1.0, 0.0), (20, 0.25, 0.0), (5, 1.0, 0.01)] {
        let mut x = dumbbell(flows, buffer);
        x.loss = loss;
        let m = run(&x);
        // A round trip with a full queue, and the buffer's worth of queueing on top.
        let rtt_full = RTT as f64 * (1.0 + buffer) / MS as f64;
        assert!(
            m.longest_recovery_tail_ms <= 4.0 * rtt_full,
            "{flows} flows, {buffer} BDP, loss {loss}: {m:?}"
        );
    }
}

#[test]
fn the_same_experiment_gives_the_same_figures() {
    let x = dumbbell(5, 1.0);
    assert_eq!(format!("{:?}", run(&x)), format!("{:?}", run(&x)));
}

/// The smallest flow's goodput over the fair share.
fn smallest_share(goodputs: &[f64]) -> f64 {
    let mean = goodputs.iter().sum::<f64>() / goodputs.len() as f64;
    goodputs.iter().cloned().fold(f64::INFINITY, f64::min) / mean
}

#[test]
fn the_bottleneck_figures_agree_with_ns3() {
    // ns-3 3.44's figures for the same experiments (tests/ns3/bottleneck.py wrote them).
    let path = common::root().join("tests/ns3/reference.json");
    let reference: serde_json::Value = serde_json::from_str(&common::read(&path)).unwrap();
    let secs = |key: &str| reference[key].as_u64().unwrap() * SEC;
    let rows = reference["rows"].as_array().unwrap();
    assert!(rows.len() >= 12);
    let mut report = Vec::new();
    for row in rows {
        let f = |key: &str| row[key].as_f64().unwrap();
        let (rate_bps, rtt) = (f("rate_mbit") as u64 * 1_000_000, f("rtt_ms") as u64 * MS);
        let x = Bottleneck {
            flows: f("flows") as u32,
            rate_bps,
            rtt,
            buffer: (Bottleneck::bdp(rate_bps, rtt) as f64 * f("buffer_bdp")) as u32,
            loss: f("loss"),
            congestion: Congestion::Cubic,
            file: None,
            duration: secs("duration_s"),
            warmup: secs("warmup_s"),
            seed: 1,
        };
        let ours = run(&x);
        let ns3 = &row["ns3"];
        let ns3_goodputs: Vec<f64> = (ns3["goodput_bps"].as_array().unwrap().iter())
            .map(|g| g.as_f64().unwrap())
            .collect();
        let label = format!(
            "{} flows, RTT {} ms, {} BDP, loss {}",
            x.flows,
            f("rtt_ms"),
            f("buffer_bdp"),
            x.loss
        );
        let goodput = (ours.goodput_share, ns3["goodput_share"].as_f64().unwrap());
        let jain = (ours.jain, ns3["jain"].as_f64().unwrap());
        let smallest = (
            smallest_share(&ours.goodput_bps),
            smallest_share(&ns3_goodputs),
        );
        report.push(format!(
            "{label}: goodput {:.3} vs {:.3}, Jain {:.3} vs {:.3}, smallest flow {:.2} vs {:.2}",
            goodput.0, goodput.1, jain.0, jain.1, smallest.0, smallest.1
        ));
        let agrees = (goodput.0 / goodput.1 - 1.0).abs() <= GOODPUT_TOLERANCE
            && jain.0 >= jain.1 - JAIN_TOLERANCE
            && smallest.0 >= smallest.1 - SMALLEST_TOLERANCE;
        assert!(agrees, "{}", report.join("\n"));
    }
    eprintln!("pccsim vs ns-3:\n{}", report.join("\n"));
}
