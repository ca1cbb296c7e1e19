//! What `pccsim bottleneck` prints: the experiment and its figures as text for a terminal,
//! or as JSON for tools (the ns-3 comparison reads it). JSON field names are a contract: add,
//! never rename.

use crate::units::{MS, SEC};
use crate::world::bottleneck::{Bottleneck, Measured};

/// The experiment (its buffer as the user gave it, in BDPs, too) and its figures as JSON.
pub fn json(x: &Bottleneck, buffer_bdp: f64, m: &Measured) -> String {
    let experiment = serde_json::json!({
        "flows": x.flows,
        "rate_bps": x.rate_bps,
        "rtt_ms": x.rtt as f64 / MS as f64,
        "buffer_bdp": buffer_bdp,
        "buffer_bytes": x.buffer,
        "loss": x.loss,
        "congestion": format!("{:?}", x.congestion),
        "file_bytes": x.file,
        "duration_s": x.duration as f64 / SEC as f64,
        "warmup_s": x.warmup as f64 / SEC as f64,
        "seed": x.seed,
    });
    let out = serde_json::json!({ "experiment": experiment, "measured": m });
    serde_json::to_string_pretty(&out).expect("plain values")
}

/// The experiment and its figures as a short text for a terminal.
pub fn text(x: &Bottleneck, m: &Measured) -> String {
    let mut s = format!(
        "bottleneck {:.1} Mbit/s, RTT {} ms, buffer {} B, loss {}%, {} × {:?}{}, {} s (figures after {} s)\n",
        x.rate_bps as f64 / 1e6,
        x.rtt / MS,
        x.buffer,
        x.loss * 100.0,
        x.flows,
        x.congestion,
        x.file.map_or(String::new(), |f| format!(
            " downloading {f} B files back to back"
        )),
        x.duration / SEC,
        x.warmup / SEC,
    );
    s += &format!(
        "utilisation {:.1}%  goodput {:.1}% of the rate  Jain {:.3}\n",
        m.utilisation * 100.0,
        m.goodput_share * 100.0,
        m.jain
    );
    s += &format!(
        "queue drops {}  random losses {}  segments per ACK {:.2}  longest recovery tail {:.0} ms  files {}\n",
        m.queue_drops, m.random_losses, m.segments_per_ack, m.longest_recovery_tail_ms, m.files
    );
    s += "flow  goodput Mbit/s\n";
    for (i, g) in m.goodput_bps.iter().enumerate() {
        s += &format!("{:>4}  {:>14.2}\n", i + 1, g / 1e6);
    }
    s
}
