//! Where a result came from, as Sumatra and ns-3's SEM record it: the pccsim version and the
//! commit it was built from, the scenario and configuration by name and SHA-256, the seeds,
//! and the threads that ran it. Every JSON result file carries it, so a number found months
//! later can be traced to exactly what made it — and a shard to the plan it belongs to.
//!
//! Provenance says how a result was made, not what it is: two runs on different machines or
//! thread counts give byte-identical results apart from it.

use crate::scenario::Loaded;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Field names are a contract of the result files: add, never rename.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `pccsim`'s version and the git commit it was built from (`unknown` outside a checkout).
    pub pccsim: String,
    pub commit: String,
    pub scenario: String,
    pub scenario_sha256: String,
    pub config: String,
    pub config_sha256: String,
    pub seeds: Vec<u64>,
    pub threads: usize,
}

impl Provenance {
    pub fn of(loaded: &Loaded, seeds: Vec<u64>, threads: usize) -> Provenance {
        Provenance {
            pccsim: env!("CARGO_PKG_VERSION").into(),
            commit: env!("PCCSIM_COMMIT").into(),
            scenario: loaded.path.display().to_string(),
            scenario_sha256: sha256(loaded.scenario_text.as_bytes()),
            config: loaded.config_file.clone(),
            config_sha256: sha256(loaded.config_text.as_bytes()),
            seeds,
            threads,
        }
    }
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(
            super::sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
