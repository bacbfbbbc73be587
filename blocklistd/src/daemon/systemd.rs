//! systemd notification (`sd_notify`) without libsystemd: one datagram to
//! `$NOTIFY_SOCKET` for `READY=1` and `STOPPING=1`, `EXTEND_TIMEOUT_USEC=`
//! before a start that may migrate the store, and `WATCHDOG=1` when the
//! unit sets `WatchdogSec=`. Does nothing when not run by systemd.
//!
//! The watchdog is fed by the sync loop's progress, not by a timer: the loop
//! coming round, a downloaded piece of a body, a batch of a snapshot applied.
//! A loop stuck in a round (a hung request, a blocked apply) stops feeding
//! it, and systemd restarts the daemon, while a timer would have kept a
//! daemon that no longer syncs looking healthy.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Sends `state` to the service manager, if there is one.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket address.
        use std::os::linux::net::SocketAddrExt as _;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr))
    } else {
        socket.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// The watchdog systemd asked for, once armed (process-wide, like the
/// environment it comes from).
static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();

struct Watchdog {
    /// Half the period systemd allows: fed at most this often.
    every: Duration,
    armed: Instant,
    /// When it was last fed, in milliseconds since `armed`.
    fed_ms: AtomicU64,
}

/// Arms the watchdog if systemd asked for one, and returns how often the
/// sync loop must come round (calling [`progressed`]) to keep it fed.
pub fn arm_watchdog() -> Option<Duration> {
    let every = watchdog_interval()?;
    let watchdog = WATCHDOG.get_or_init(|| Watchdog {
        every,
        armed: Instant::now(),
        fed_ms: AtomicU64::new(0),
    });
    notify("WATCHDOG=1");
    Some(watchdog.every)
}

/// The sync loop made progress: feeds the watchdog (at most once per half
/// period, so a hot loop costs a clock read and an atomic load).
pub fn progressed() {
    let Some(watchdog) = WATCHDOG.get() else {
        return;
    };
    let now = watchdog.armed.elapsed().as_millis() as u64;
    let fed = watchdog.fed_ms.load(Ordering::Relaxed);
    if now.saturating_sub(fed) >= watchdog.every.as_millis() as u64
        && watchdog
            .fed_ms
            .compare_exchange(fed, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        notify("WATCHDOG=1");
    }
}

/// Half the watchdog period systemd asked for, if it asked.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}
