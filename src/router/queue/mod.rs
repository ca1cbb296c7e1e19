//! The router's queues (`/queue simple`, `/queue tree`, `/queue type`): HTB trees ([`htb`])
//! whose leaves hold packets in the way their queue type says ([`discipline`]).

pub mod config;
pub mod discipline;
pub mod htb;

use crate::units::Time;

/// A packet waiting in a queue: what the caller keeps with it, its size, and when it came.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    pub item: T,
    pub len: u32,
    pub at: Time,
}
