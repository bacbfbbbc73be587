//! systemd notification (`sd_notify`) without libsystemd: one datagram to
//! `$NOTIFY_SOCKET` for `READY=1` and `STOPPING=1`, and `WATCHDOG=1` at half
//! of `$WATCHDOG_USEC` when the unit sets `WatchdogSec=`. Does nothing when
//! not run by systemd.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

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

/// Half the watchdog period systemd asked for, if it asked.
pub fn watchdog_interval() -> Option<Duration> {
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
