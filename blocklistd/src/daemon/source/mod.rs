//! Where documents come from. Neither source is trusted: both only deliver
//! bytes that the [`crate::daemon::sync::Syncer`] verifies.
//!
//! - [`http`]: publish directories at URLs, tried in order (failover),
//!   reached through the proxy and with the TLS settings of [`network`].
//! - [`drop`](mod@drop): a folder files are copied into by hand.

pub mod drop;
pub mod http;
pub mod network;
