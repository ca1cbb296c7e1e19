//! TCP as Linux runs it, judged where TCP is judged: flows sharing one saturated drop-tail
//! bottleneck (50 Mbit/s, 50 ms, no random loss unless said), and one flow against random loss.

use pccsim::units::{MS, SEC};
use pccsim::world::bottleneck::{self, Bottleneck, Measured};
use pccsim::world::tcp::{Congestion, MSS};

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
    for p in [0.001, 0.002, 0.005] {
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
