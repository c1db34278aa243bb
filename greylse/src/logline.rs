//! The decision line and the daemon's own messages, sent to syslog (facility
//! mail) as `greylse[PID]: ...`, so they land in the mail log next to
//! Postfix's lines and pg_else stores them (kind `policy`).
//!
//! Decision line format (one line, `key=value`, values without spaces):
//! ```text
//! decision: action=greylisted reason=new client=192.0.2.1 client_name=mx.a.example
//!   helo=mx.a.example sender=<alice@a.example> recipient=<bob@b.example>
//!   triplet=new spf=none delay=300 instance=4F2A31B2C0.A1 greylse=backend1
//! ```
//! `action`: accepted, greylisted, rejected, deferred, dunno (fail-open);
//! `reason`: the rule (new, early, passed, known, awl, whitelist:..,
//! blacklist:.., spf-fail, spf-temperror, failopen-db, failopen-dns);
//! `triplet`: the greylisting state (or `-` when not consulted);
//! `instance`: Postfix's `instance` attribute (one per SMTP transaction).
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

/// Lines go through a bounded queue to one thread that writes the socket,
/// so a slow or full syslog never blocks the decision path; when the queue
/// is full (or the socket refuses), a line goes to stderr instead.
pub struct Syslog {
    queue: Option<SyncSender<String>>,
    pid: u32,
}

/// syslog severities used here.
#[derive(Clone, Copy)]
pub enum Severity {
    Warning = 4,
    Info = 6,
}

impl Syslog {
    /// `path` is a syslog socket (/dev/log), or "stderr".
    pub fn new(path: &str) -> Syslog {
        let queue = (path != "stderr").then(|| {
            let (tx, rx) = sync_channel::<String>(10_000);
            let path = path.to_owned();
            std::thread::spawn(move || {
                let sock = UnixDatagram::unbound().ok();
                for line in rx {
                    let sent = sock
                        .as_ref()
                        .is_some_and(|s| s.send_to(line.as_bytes(), &path).is_ok());
                    if !sent {
                        eprintln!("{}", line.split_once('>').map_or(line.as_str(), |(_, l)| l));
                    }
                }
            });
            tx
        });
        Syslog {
            queue,
            pid: std::process::id(),
        }
    }

    pub fn send(&self, sev: Severity, msg: &str) {
        let line = format!(
            "<{}>{} greylse[{}]: {msg}",
            2 * 8 + sev as u32,
            timestamp(),
            self.pid
        );
        match &self.queue {
            Some(q) => match q.try_send(line) {
                Ok(()) => {}
                Err(TrySendError::Full(l) | TrySendError::Disconnected(l)) => {
                    eprintln!("{}", l.split_once('>').map_or(l.as_str(), |(_, x)| x))
                }
            },
            None => eprintln!("greylse[{}]: {msg}", self.pid),
        }
    }
}

/// A value safe inside the line: no spaces, control characters or `<>`.
pub fn clean(v: &str) -> String {
    let v: String = v
        .chars()
        .take(256)
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '<' || c == '>' {
                '?'
            } else {
                c
            }
        })
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// An address inside `<...>`: cleaned like [`clean`], empty stays empty.
pub fn clean_addr(v: &str) -> String {
    if v.is_empty() {
        String::new()
    } else {
        clean(v)
    }
}

/// RFC 3164 local time, `Nov 29 04:05:06`.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: time(NULL) and localtime_r with valid pointers to locals.
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    format!(
        "{} {:2} {:02}:{:02}:{:02}",
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_cannot_break_the_line() {
        assert_eq!(super::clean("a b\n<c>"), "a?b??c?");
        assert_eq!(super::clean(""), "-");
        assert_eq!(super::clean(&"x".repeat(1000)).len(), 256);
    }
}
